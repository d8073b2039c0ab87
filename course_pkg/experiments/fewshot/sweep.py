"""The tuning sweep of the equal-budget protocol and the configs of the full-budget runs.

Each spec may list up to three settings per model (``FewShotSpec.sweep``; the first is the
default). Every setting trains for a quarter of the budget; the full-budget run uses the setting
with the best validation accuracy. A setting that changes only the test-time adaptation
(:data:`EVAL_ONLY`, e.g. ``test_steps``) is evaluated on the default setting's model instead of
training again. ``{"anneal": True}`` (Reptile with the paper's SGD step) anneals the step
linearly to 0 over the iterations the default setting reached in the same budget (×4 for the
full budget); ``{"curriculum": True}`` (chapter 4's sequence cores) trains on 2-way, then 3-way …
episodes up to N-way over the first half of those iterations.

Sweep checkpoints are ``fewshot_sweep_<key>_<N>way_s<i>`` (``fewshot_paper_sweep_…`` at the
paper scale) in the budget folder; :func:`sweep_summary` collects every finished sweep (the
table stores it). :func:`method_config` is the config of the model the chapters load: the
full-budget run of the chosen setting.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from course_pkg.checkpoints import WEIGHTS_DIR, load_checkpoint
from course_pkg.experiments.fewshot import config as C
from course_pkg.experiments.methods import METHODS

#: Where the equal-budget checkpoints (and the sweep's) are written.
BUDGET_DIR = WEIGHTS_DIR / "budget"
#: Settings that change only the test-time adaptation.
EVAL_ONLY = frozenset({"test_steps"})
#: The share of the full budget each sweep setting trains for.
SWEEP_FRACTION = 0.25


def sweep_settings(key: str, n_way: int) -> tuple[dict[str, Any], ...]:
    """The settings a model's sweep tries (the first is the default; ``({},)`` without one).
    Methods list them by N, variants (chapter 4's cores) by their key."""
    s, _ = C.owner(key)
    sw = s.fewshot.sweep
    return tuple(dict(x) for x in sw.get(key if key not in METHODS else n_way, ({},)))


def sweep_name(key: str, n_way: int, i: int, scale: str | None = None) -> str:
    """The checkpoint name of sweep setting ``i``."""
    prefix = "fewshot_" if C.resolve_scale(scale) == "cpu" else "fewshot_paper_"
    return f"{prefix}sweep_{key}_{n_way}way_s{i}"


def resolved_setting(key: str, n_way: int, i: int, out: Path,
                     scale: str | None = None) -> dict[str, Any] | None:
    """Setting ``i`` with ``anneal``/``curriculum`` turned into ``anneal_iterations`` /
    ``curriculum_iterations`` (``None`` while the default setting's run, which sets them, is
    missing from ``out``)."""
    over = dict(sweep_settings(key, n_way)[i])
    anneal, curriculum = over.pop("anneal", False), over.pop("curriculum", False)
    if anneal or curriculum:
        first = load_checkpoint(sweep_name(key, n_way, 0, scale), None, out)
        if first is None:
            return None
        reached = int(first[1]["metrics"]["iterations"])
        if anneal:
            over["anneal_iterations"] = reached
        if curriculum:
            over["curriculum_iterations"] = reached // 2
    return over


def sweep_config(key: str, n_way: int, i: int, out: Path,
                 scale: str | None = None) -> C.FewShotConfig | None:
    """The config of sweep setting ``i`` (``None`` until it can be resolved)."""
    over = resolved_setting(key, n_way, i, out, scale)
    return None if over is None else C.budget_config(key, n_way, scale,
                                                     fraction=SWEEP_FRACTION, **over)


def _results(key: str, n_way: int, out: Path,
             scale: str | None = None) -> list[tuple[dict, dict]] | None:
    found = [load_checkpoint(sweep_name(key, n_way, i, scale), None, out)
             for i in range(len(sweep_settings(key, n_way)))]
    return None if any(f is None for f in found) else [f[1] for f in found]


def chosen_setting(key: str, n_way: int, out: Path = BUDGET_DIR,
                   scale: str | None = None) -> int | None:
    """Index of the setting with the best validation accuracy (ties: the earlier), ``0``
    without a sweep, ``None`` while the sweep is unfinished."""
    if len(sweep_settings(key, n_way)) < 2:
        return 0
    metas = _results(key, n_way, out, scale)
    if metas is None:
        return None
    best = [m["metrics"]["best_validation_accuracy"] for m in metas]
    return max(range(len(best)), key=lambda i: (best[i], -i))


def full_config(key: str, n_way: int, out: Path = BUDGET_DIR,
                scale: str | None = None) -> C.FewShotConfig | None:
    """The full-budget config of a model: its chosen sweep setting (``anneal_iterations``
    scaled to the full budget); ``None`` while its sweep is unfinished."""
    i = chosen_setting(key, n_way, out, scale)
    if i is None:
        return None
    over = resolved_setting(key, n_way, i, out, scale) if i else {}
    for k in ("anneal_iterations", "curriculum_iterations"):
        if k in over:
            over[k] = round(over[k] / SWEEP_FRACTION)
    return C.budget_config(key, n_way, scale, **over)


def method_config(method: str, n_way: int = 5, scale: str | None = None,
                  out: Path = BUDGET_DIR) -> C.FewShotConfig:
    """The config of the checkpoint the chapters load for ``method`` at ``n_way``: chapter 4's
    regressors' fixed schedule, every other model's full-budget run of the setting its sweep
    chose. ``KeyError`` for a method that trains nothing; ``FileNotFoundError`` while the
    sweep that chooses the setting is unfinished."""
    if method in C.REGRESSORS:
        return C.regressor_config(method, scale)
    key, n = C.model_key(method), C.training_way(C.model_key(method), n_way)
    cfg = full_config(key, n, out, scale)
    if cfg is None:
        raise FileNotFoundError(f"the tuning sweep of {key} ({n}-way) is unfinished in {out}: "
                                "python -m course_pkg.train fewshot")
    return cfg


def sweep_summary(out: Path = BUDGET_DIR, scale: str | None = None) -> dict[str, Any]:
    """Every finished sweep as ``{"<key>_<N>way": {settings, best_validation, iterations,
    evaluated_only, curves, cpu_seconds, chosen}}``."""
    result: dict[str, Any] = {}
    for key, n in C.trained_models():
        settings = sweep_settings(key, n)
        metas = _results(key, n, out, scale) if len(settings) > 1 else None
        if metas is None:
            continue
        ms = [m["metrics"] for m in metas]
        result[f"{key}_{n}way"] = {
            "settings": [resolved_setting(key, n, i, out, scale) for i in range(len(settings))],
            "best_validation": [m["best_validation_accuracy"] for m in ms],
            "iterations": [m["iterations"] for m in ms],
            "evaluated_only": [bool(m.get("evaluated_only")) for m in ms],
            "curves": [m["curve"] for m in ms],
            "cpu_seconds": metas[0]["config"]["budget"]["cpu_seconds"],
            "chosen": chosen_setting(key, n, out, scale)}
    return result

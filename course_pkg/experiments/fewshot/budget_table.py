"""The few-shot table under the equal-budget protocol: every row's models, status and curves,
the published numbers beside ours, a shifted column and a transduction check.

:func:`fewshot_table` loads each method's full-budget models (:mod:`.sweep`; never trains:
``python -m course_pkg.train fewshot`` does), evaluates them on the test columns
(:data:`~.config.SETTINGS`) and on the shifted column (:data:`SHIFT`: the 5-way 1-shot test
episodes with every pixel inverted), and measures how much each learned row's accuracy owes to
transductive batch normalisation (:func:`one_query_at_a_time`). Written by
``python -m course_pkg.train fewshot --table`` to ``course_pkg/results/fewshot_table.{json,md}``
(:func:`.table.write_table`).
"""

from __future__ import annotations

import os
import platform
import time
from pathlib import Path
from typing import Any

import torch

from course_pkg.experiments.fewshot import sweep as S
from course_pkg.experiments.fewshot.config import (
    BUDGET,
    EVAL,
    HIDDEN,
    SETTINGS,
    checkpoint_name,
    model_key,
    model_ways,
    resolve_scale,
    training_way,
)
from course_pkg.experiments.fewshot.table import CI_NOTE
from course_pkg.experiments.fewshot.train import load_model, method_accuracy, test_episodes
from course_pkg.experiments.methods import METHODS, fewshot_methods
from course_pkg.tasks import TaskBatch
from course_pkg.utils import get_device, mean_ci

#: The shifted column: which test column, how it is shifted, and its name.
SHIFT = {"key": "5w1s_inverted", "setting": "5w1s", "name": "5-way 1-shot, inverted glyphs",
         "what": "the 5-way 1-shot test episodes with every pixel inverted (x -> 1 - x): the "
                 "same classes, unlike every training image"}
#: Episodes of the transduction check (5-way 1-shot, the first of the column's; each is
#: evaluated again as one episode per query, 10 times the cost of the episode).
TRANSDUCTION_EPISODES = 100
MODEL_KEYS = ("budget_s", "train_seconds", "iterations", "episodes", "images", "status",
              "curve", "validation_ci95", "best_iteration", "best_validation_accuracy",
              "schedule", "loadavg_at_end", "threads")


def inverted(batch: TaskBatch) -> TaskBatch:
    """``batch`` with every pixel ``x`` replaced by ``1 − x`` (support and query)."""
    return TaskBatch(1 - batch.x_support, batch.y_support, 1 - batch.x_query, batch.y_query)


def one_query_at_a_time(batch: TaskBatch) -> TaskBatch:
    """``T`` episodes of ``Q`` queries as ``T·Q`` episodes of one query each (the same support
    set): no statistic of a query batch can reach another query. Shapes
    ``x_query (T, Q, …) → (T·Q, 1, …)``; the support is repeated ``Q`` times."""
    t, q = batch.y_query.shape
    rep = lambda x: x.repeat_interleave(q, dim=0)  # noqa: E731
    return TaskBatch(rep(batch.x_support), rep(batch.y_support),
                     batch.x_query.reshape(t * q, 1, *batch.x_query.shape[2:]),
                     batch.y_query.reshape(t * q, 1))


def _adaptation(spec, cfg: dict[str, Any]) -> str:
    steps = cfg.get("test_steps")
    if steps is None:
        return spec.fewshot.adaptation
    trained = cfg.get("inner_steps")
    same = "as trained" if trained == steps else f"trained with {trained}"
    return f"{spec.fewshot.adaptation}: {steps} at test time ({same})"


def _model_entry(key: str, n: int, loaded, out: Path, scale: str) -> dict[str, Any]:
    m = loaded.metrics
    chosen = S.chosen_setting(key, n, out, scale)
    resolved = S.resolved_setting(key, n, chosen, out, scale) if chosen else {}
    # the values the full model trained with (a sweep's anneal/curriculum span, scaled up)
    return {"checkpoint": checkpoint_name(key, n, scale),
            "setting": {k: loaded.config[k] for k in resolved},
            **{k: m[k] for k in MODEL_KEYS if k in m}}


def table_rows(methods: list[str], device: str | torch.device | None = None,
               progress: bool = True, directory: str | Path | None = None,
               scale: str | None = None) -> list[dict[str, Any]]:
    """Evaluate the rows ``methods`` (their full-budget models) on every column, the shifted
    column and, for rows that learn their own model, the transduction check."""
    scale = resolve_scale(scale)
    dev = get_device(device)
    out = Path(directory) if directory is not None else S.BUDGET_DIR
    batches = {s: test_episodes(s, scale, dev) for s in SETTINGS}
    batches[SHIFT["key"]] = inverted(batches[SHIFT["setting"]])
    first = TaskBatch(*(t[:TRANSDUCTION_EPISODES] for t in batches["5w1s"]))
    single = one_query_at_a_time(first)
    rows = []
    for key in methods:
        spec = METHODS[key]
        mk = model_key(key)
        models = {}
        if spec.fewshot.trained:
            for n in model_ways(mk):
                cfg = S.full_config(mk, n, out, scale)
                if cfg is None:
                    raise FileNotFoundError(f"the sweep of {mk} ({n}-way) is unfinished: "
                                            "python -m course_pkg.train fewshot")
                models[n] = load_model(mk, n, scale, dev, directory=out, config=cfg,
                                       train_if_missing=False)
        results = {}
        for col, batch in batches.items():
            n = SETTINGS[SHIFT["setting"] if col == SHIFT["key"] else col][0]
            loaded = models.get(training_way(mk, n))
            acc = method_accuracy(key, batch, loaded, seed=EVAL[scale]["seed"])
            mean, ci = mean_ci(acc)
            results[col] = {"mean": round(mean, 4), "ci95": round(ci, 4)}
            if progress:
                print(f"[{key}] {col:>14}: {100 * mean:5.1f} ± {100 * ci:.1f} %", flush=True)
        row = {"method": key, "name": spec.title, "family": spec.family,
               "results": {c: results[c] for c in SETTINGS}, "shifted": results[SHIFT["key"]],
               "adaptation": _adaptation(spec, next(iter(models.values())).config
                                         if models else {}),
               "published": dict(spec.published or {}), "published_source": spec.published_source,
               "models": {str(n): _model_entry(mk, n, m, out, scale)
                          for n, m in models.items()}}
        if key == mk and models:  # the rows that learn their own model
            loaded = models[training_way(mk, 5)]
            batch_acc = method_accuracy(key, first, loaded).mean().item()
            alone = method_accuracy(key, single, loaded).view(TRANSDUCTION_EPISODES, -1)
            row["transduction"] = {"batch": round(batch_acc, 4),
                                   "one_query": round(alone.mean().item(), 4),
                                   "one_query_ci95": round(mean_ci(alone.mean(1))[1], 4)}
        rows.append(row)
    return rows


def fewshot_table(methods: list[str] | None = None, device: str | torch.device | None = None,
                  progress: bool = True, directory: str | Path | None = None,
                  scale: str | None = None, rows: list[dict[str, Any]] | None = None
                  ) -> dict[str, Any]:
    """The table as a dict (fractions): every row of ``methods`` (default: every method),
    evaluated by :func:`table_rows` unless ``rows`` (already evaluated, e.g. by parallel
    processes) are given, with the protocol, the sweep and the environment."""
    scale = resolve_scale(scale)
    dev = get_device(device)
    out = Path(directory) if directory is not None else S.BUDGET_DIR
    t_all = time.perf_counter()
    if rows is None:
        keys = fewshot_methods() if methods is None else list(methods)
        rows = table_rows(keys, dev, progress, out, scale)
    return {
        "scale": scale, "conv_width": HIDDEN[scale], "budget": dict(BUDGET[scale]),
        "settings": {s: {"n_way": n, "k_support": k, "k_query": EVAL[scale]["queries"][n],
                         "episodes": EVAL[scale]["tasks"], "split": "test", "data": "glyphs",
                         "interval": CI_NOTE} for s, (n, k) in SETTINGS.items()},
        "shift": dict(SHIFT), "transduction_episodes": TRANSDUCTION_EPISODES,
        "rows": rows, "sweep": S.sweep_summary(out, scale),
        "environment": {"torch": torch.__version__, "python": platform.python_version(),
                        "device": str(dev), "threads": torch.get_num_threads(),
                        "cpu_count": os.cpu_count(),
                        "total_seconds": round(time.perf_counter() - t_all, 1)},
        "command": "python -m course_pkg.train fewshot --table"
                   + ("" if scale == "cpu" else " --scale paper")}

"""Settings of the few-shot comparison: columns, backbone, evaluation, budget and model configs.

A model's config is a :class:`FewShotConfig` (the course's one config type,
:class:`course_pkg.utils.config.Config`: typed fields, read as a mapping, stored as JSON) built
from its method's spec (:mod:`course_pkg.experiments.methods`): the episodic defaults, the spec's
``settings`` and ``by_way`` overrides, the backbone width of the scale, and how training stops.
Its ``to_dict()`` is stored with the checkpoint and compared by
:func:`course_pkg.checkpoints.load_or_train` (the config is the cache key); a field a method does
not use is unset and is not stored. Names follow the course's vocabulary:
``k_support``/``k_query`` (shots and queries per class), ``inner_steps``, ``inner_lr`` (α),
``test_steps``, ``meta_lr`` (β), ``meta_batch_size``.

Every learned model trains under **the equal-budget protocol** (:func:`budget_config`,
:mod:`course_pkg.experiments.budget`): the same CPU time of one thread (:data:`BUDGET`),
validation on 500 fixed episodes at 12 budget marks, the best validation point kept. Which
setting a model's full run uses is chosen by its tuning sweep (:mod:`.sweep`, where
:func:`~.sweep.method_config` gives the config of the checkpoint the chapters load). Chapter 4's
sinusoid regressors (not rows of the table) train a fixed number of iterations
(:func:`regressor_config`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from course_pkg.experiments.methods import METHODS, MethodSpec
from course_pkg.utils.config import Config
from course_pkg.utils.scale import SCALE_ENV, resolve_scale  # noqa: F401  (re-exported)


@dataclass(frozen=True, eq=False)
class ValidationConfig(Config):
    """Validation episodes: ``split``, ``n_way``, ``k_support``, ``k_query``, ``episodes``,
    ``seed``."""

    split: str | None = None
    n_way: int | None = None
    k_support: int | None = None
    k_query: int | None = None
    episodes: int | None = None
    seed: int | None = None


@dataclass(frozen=True, eq=False)
class BudgetConfig(Config):
    """The equal budget: ``cpu_seconds`` of one thread, ``evaluations`` marks, ``validation``."""

    cpu_seconds: float | None = None
    evaluations: int | None = None
    validation: ValidationConfig | None = None


@dataclass(frozen=True, eq=False)
class FewShotConfig(Config):
    """One few-shot model's training run (the names of book/notation.md). Every model sets
    ``method``, ``data``, ``split``, ``hidden`` and ``seed``; episodic methods add the episode
    shape and outer loop, the MAML family its inner loop, and ``budget`` (the equal-budget
    protocol; a smoke run may set ``iterations`` instead). Chapter 4's sinusoid regressors use
    ``mode``, the ``*_width``/``*_hidden`` sizes and ``iterations``."""

    method: str | None = None
    data: str | None = None
    split: str | None = None
    n_way: int | None = None
    hidden: int | None = None
    seed: int | None = None
    data_seed: int | None = None
    # episodes and the outer loop
    k_support: int | None = None
    k_query: int | None = None
    meta_batch_size: int | None = None
    meta_lr: float | None = None
    optimizer: str | None = None
    grad_clip: float | None = None
    anneal_iterations: int | None = None
    curriculum_iterations: int | None = None
    # the inner loop (MAML family) and test-time adaptation
    inner_steps: int | None = None
    inner_lr: float | None = None
    test_steps: int | None = None
    support_weight: float | None = None
    options: dict | None = None
    # black-box cores and the regressors of chapter 4
    core: str | None = None
    width: int | None = None
    mode: str | None = None
    encoder_width: int | None = None
    context_dim: int | None = None
    decoder_hidden: list | None = None
    target_hidden: list | None = None
    # supervised pre-training (the fine-tuning baselines' backbone)
    batch_size: int | None = None
    lr: float | None = None
    # how training stops
    iterations: int | None = None
    budget: BudgetConfig | None = None

    REQUIRED = ("method",)


#: Columns: key → (N, K).
SETTINGS: dict[str, tuple[int, int]] = {"5w1s": (5, 1), "5w5s": (5, 5), "20w1s": (20, 1)}
SETTING_NAMES = {"5w1s": "5-way 1-shot", "5w5s": "5-way 5-shot", "20w1s": "20-way 1-shot"}
#: Conv4 channels per block: one backbone width for every learned method of a scale.
HIDDEN = {"cpu": 32, "paper": 64}
#: Test evaluation: episodes per column, queries per class (by N), seed of the black-box
#: support shuffle and of the fine-tuning heads (:func:`course_pkg.data.eval_episodes`).
EVAL = {
    "cpu": {"tasks": 600, "queries": {5: 10, 20: 5}, "seed": 0},
    "paper": {"tasks": 600, "queries": {5: 15, 20: 15}, "seed": 0},
}
#: The equal budget of every learned model: CPU seconds of one thread, validation marks and
#: validation episodes; a sweep's quarter-budget runs validate at fewer marks (only their best
#: accuracy is used, to choose a setting; validation is not part of the budget but costs time:
#: 500 MAML episodes at 20-way take about as long as 100 s of training).
BUDGET = {"cpu": {"cpu_seconds": 1200.0, "evaluations": 12, "episodes": 500,
                  "sweep_evaluations": 6},
          "paper": {"cpu_seconds": 14400.0, "evaluations": 24, "episodes": 600,
                    "sweep_evaluations": 8}}
#: Episodic training defaults of every meta-learned model (a spec's settings override them).
EPISODIC = {"k_support": 1, "k_query": 5, "meta_batch_size": 4, "meta_lr": 1e-3, "seed": 0,
            "optimizer": "adam"}
PAPER_EPISODIC = {"meta_batch_size": 16, "k_query": 15}
PAPER_EPISODIC_20 = {"meta_batch_size": 8, "k_query": 5}
#: Chapter 4's sinusoid black-box regressors (not rows of the table): mode → settings.
REGRESSORS: dict[str, dict[str, Any]] = {
    "sinusoid_context": {"mode": "context", "encoder_width": 64, "context_dim": 16,
                         "decoder_hidden": [64, 64], "iterations": 8000,
                         "meta_batch_size": 25, "k_support": 10, "k_query": 10,
                         "meta_lr": 1e-3, "seed": 0},
    "sinusoid_params": {"mode": "params", "encoder_width": 64, "target_hidden": [40, 40],
                        "iterations": 8000, "meta_batch_size": 25, "k_support": 10,
                        "k_query": 10, "meta_lr": 1e-3, "seed": 0},
}
REGRESSOR_PAPER_ITERATIONS = 70000


def _json(cfg: Mapping[str, Any]) -> FewShotConfig:
    return FewShotConfig.from_dict(json.loads(json.dumps(cfg, sort_keys=True)))


def owner(key: str) -> tuple[MethodSpec, dict[str, Any]]:
    """The spec behind a model key (a method or one of its ``variants``) and the variant's
    settings (``{}`` for the method itself)."""
    if key in METHODS:
        return METHODS[key], {}
    for s in METHODS.values():
        if s.fewshot is not None and key in s.fewshot.variants:
            return s, dict(s.fewshot.variants[key])
    raise KeyError(f"unknown few-shot model {key!r}; methods: {list(METHODS)}")


def model_ways(method: str) -> tuple[int, ...]:
    """The N of the models a method trains: (5,) when one model serves every N."""
    s, variant = owner(method)
    per_way = s.fewshot is not None and s.fewshot.per_way and method in METHODS
    return (5, 20) if per_way else (5,)


def training_way(method: str, n_way: int) -> int:
    """Which trained model evaluates ``n_way``-way episodes."""
    return n_way if n_way in model_ways(method) else 5


def model_key(method: str) -> str:
    """The method whose trained model ``method`` uses (``finetune`` → ``pretrained``)."""
    s, _ = owner(method)
    return (s.fewshot.model_of if s.fewshot is not None else None) or method


def checkpoint_name(method: str, n_way: int = 5, scale: str | None = None) -> str:
    """``fewshot_<method>_<N>way`` (CPU scale) or ``fewshot_paper_<method>_<N>way``;
    ``fewshot_pretrained_conv4`` for the pre-trained Conv4 of both transfer baselines."""
    scale = resolve_scale(scale)
    prefix = "fewshot_" if scale == "cpu" else "fewshot_paper_"
    if method in REGRESSORS:
        return f"{prefix}{method.replace('sinusoid_', 'sinusoid_blackbox_')}"
    key = model_key(method)
    if key == "pretrained":
        return prefix + "pretrained_conv4"
    return f"{prefix}{key}_{training_way(key, n_way)}way"


def _settings(s: MethodSpec, variant: Mapping[str, Any], n: int, scale: str) -> dict[str, Any]:
    """Episodic defaults, the spec's settings and its N-way overrides (and the paper scale's)."""
    fs = s.fewshot
    if s.name == "pretrained":
        return {"seed": 0, **fs.settings}
    cfg = {**EPISODIC, **fs.settings, **variant}
    if n != 5:
        cfg.update(fs.by_way.get(n, {}))
    if scale == "paper":
        cfg.update(PAPER_EPISODIC_20 if n == 20 and fs.per_way else PAPER_EPISODIC)
    return cfg


def _frame(key: str, s: MethodSpec, n: int, scale: str) -> dict[str, Any]:
    if s.name == "pretrained":
        return {"method": "pretrained", "hidden": HIDDEN[scale], "data": "glyphs",
                "split": "train"}
    return {"method": key, "n_way": n, "hidden": HIDDEN[scale], "data": "glyphs",
            "split": "train"}


def regressor_config(method: str, scale: str | None = None) -> FewShotConfig:
    """The config of one of chapter 4's sinusoid regressors (:data:`REGRESSORS`)."""
    scale = resolve_scale(scale)
    cfg = dict(REGRESSORS[method])
    if scale == "paper":
        cfg["iterations"] = REGRESSOR_PAPER_ITERATIONS
    return _json({**cfg, "method": method, "data": "sinusoid"})


def budget_config(method: str, n_way: int = 5, scale: str | None = None, fraction: float = 1.0,
                  **overrides: Any) -> FewShotConfig:
    """The config of ``method``'s ``n_way`` model under the equal-budget protocol:
    ``fraction`` of :data:`BUDGET` (a quarter and ``sweep_evaluations`` marks for the sweep),
    with ``overrides`` of its settings (a sweep's setting)."""
    scale = resolve_scale(scale)
    key = model_key(method)
    s, variant = owner(key)
    if s.fewshot is None or not s.fewshot.trained:
        raise KeyError(f"{method!r} trains no model")
    n = training_way(key, n_way)
    b = BUDGET[scale]
    cfg = {**_settings(s, variant, n, scale), **overrides, **_frame(key, s, n, scale),
           "budget": {"cpu_seconds": b["cpu_seconds"] * fraction,
                      "evaluations": b["evaluations"] if fraction == 1.0
                      else b["sweep_evaluations"],
                      "validation": {"split": "val", "n_way": n, "k_support": 1, "k_query": 5,
                                     "episodes": b["episodes"], "seed": 1}}}
    return _json(cfg)


def trained_models() -> list[tuple[str, int]]:
    """Every ``(model key, N)`` with a checkpoint, in training order: the table's learned rows
    (the pre-trained Conv4 first), then the variants."""
    rows = [(k, n) for k, s in METHODS.items()
            if s.fewshot is not None and s.fewshot.trained and s.fewshot.model_of is None
            for n in model_ways(k)]
    variants = [(v, 5) for s in METHODS.values() if s.fewshot is not None
                for v in s.fewshot.variants]
    return rows + variants


def duplicates_method(key: str) -> bool:
    """True for a variant whose equal-budget model is its method's own (same settings)."""
    s, variant = owner(key)
    if key in METHODS:
        return False
    mine = {k: v for k, v in budget_config(key).items() if k != "method"}
    theirs = {k: v for k, v in budget_config(s.name).items() if k != "method"}
    return mine == theirs

"""The few-shot comparison (chapters 4, 5, 11, 13): every method on the same glyph episodes.

- :mod:`.config` — columns, backbone width, evaluation, the equal budget, model configs and
  checkpoint names, all built from the methods' specs
  (:mod:`course_pkg.experiments.methods`);
- :mod:`.train` — train (equal budget), load and score a model;
- :mod:`.sweep` — the tuning sweep, and the config of each model the chapters load;
- :mod:`.budget_table` — evaluates the equal-budget models into the results table;
- :mod:`.table` — the results table the chapters read (load, write, display, compare rows);
- :mod:`.lessons` — what chapter 5 reads off that table (speed per CPU second, rising models,
  the shift, transduction, the papers' numbers), as numbers a cell asserts;
- :mod:`.cli` — ``python -m course_pkg.train fewshot …``.
"""

from course_pkg.experiments.fewshot.budget_table import fewshot_table
from course_pkg.experiments.fewshot.config import (
    BUDGET,
    EVAL,
    HIDDEN,
    SCALE_ENV,
    SETTING_NAMES,
    SETTINGS,
    budget_config,
    checkpoint_name,
    model_key,
    model_ways,
    resolve_scale,
    trained_models,
    training_way,
)
from course_pkg.experiments.fewshot.sweep import method_config
from course_pkg.experiments.fewshot.table import (
    RESULTS_DIR,
    best_meta_learner,
    compare_rows,
    level_with,
    load_table,
    published_frame,
    sweep_frame,
    table_frame,
    table_markdown,
    write_table,
)
from course_pkg.experiments.fewshot.train import (
    build_model,
    load_model,
    method_accuracy,
    test_episodes,
    train_all,
    train_model,
)
from course_pkg.experiments.methods import maml_accuracy

__all__ = ["BUDGET", "EVAL", "HIDDEN", "RESULTS_DIR", "SCALE_ENV", "SETTINGS", "SETTING_NAMES",
           "best_meta_learner", "budget_config", "build_model", "checkpoint_name",
           "compare_rows", "level_with", "fewshot_table", "load_model",
           "load_table", "maml_accuracy", "method_accuracy", "method_config",
           "model_key", "model_ways", "published_frame", "sweep_frame",
           "resolve_scale", "table_frame", "table_markdown", "test_episodes", "train_all",
           "train_model", "trained_models", "training_way", "write_table"]

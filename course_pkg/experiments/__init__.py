"""Runs of the course: configurations, checkpoints, the command line and result tables.

Nothing below this layer (``algorithms``, ``rl``, ``viz``, ``grading``, ``data``, ``tasks``,
``models``, ``utils``) knows about runs; modules here import them, never the other way round.

- ``methods``     one spec per method (:data:`~course_pkg.experiments.methods.METHODS`): label,
                  family, colour, how it trains, adapts and is scored; everything reads it
- ``common``      the scale switch, the flags every training subcommand shares, ``Loaded``
- ``registry``    the one list of run families (``FAMILIES``)
- ``cli``         ``python -m course_pkg.train …`` (``course_pkg/train.py`` is its entry point)
- ``sinusoid``    sinusoid regression runs (chapters 4, 7–11): configs, ``load_sinusoid``
- ``glyphs``      chapter 2's table of fine-tuning design choices (runs of ``transfer``)
- ``fewshot``     the few-shot comparison (chapters 4, 5, 11, 13): config, train, table, cli
- ``budget``      training to an equal CPU budget: validation marks, status, snapshots
- ``transfer``    chapter 2's table of fine-tuning design choices on the pre-trained Conv4
- ``validation``  fixed validation episodes
- ``curves``      chapter 11's short meta-training runs
- ``rl``          meta-RL runs (chapter 12): configs, ``load_model``, evaluation tables
- ``results``     stored results the chapters read (benchmark records)

The few-shot names below are re-exported so that ``from course_pkg.experiments import
load_table`` works.
"""

from course_pkg.experiments.common import Loaded
from course_pkg.experiments.fewshot import (
    EVAL,
    HIDDEN,
    RESULTS_DIR,
    SETTING_NAMES,
    SETTINGS,
    best_meta_learner,
    budget_config,
    build_model,
    checkpoint_name,
    compare_rows,
    fewshot_table,
    level_with,
    load_model,
    load_table,
    method_accuracy,
    method_config,
    model_key,
    published_frame,
    sweep_frame,
    table_frame,
    table_markdown,
    test_episodes,
    train_all,
    train_model,
    write_table,
)
from course_pkg.experiments.methods import METHODS, MethodSpec, spec

__all__ = ["EVAL", "HIDDEN", "METHODS", "RESULTS_DIR", "SETTINGS", "SETTING_NAMES", "Loaded",
           "MethodSpec", "best_meta_learner", "budget_config", "build_model", "checkpoint_name",
           "compare_rows", "level_with", "fewshot_table", "load_model", "load_table",
           "method_accuracy", "method_config", "model_key", "published_frame", "spec",
           "sweep_frame", "table_frame", "table_markdown", "test_episodes", "train_all",
           "train_model", "write_table"]

"""Runs of the course: configurations, checkpoints, the command line and result tables.

Nothing below this layer (``algorithms``, ``rl``, ``viz``, ``grading``, ``data``, ``tasks``,
``models``, ``utils``) knows about runs; modules here import them, never the other way round.

- ``common``      the scale switch and the flags every training subcommand shares
- ``registry``    the one list of run families (``FAMILIES``)
- ``cli``         ``python -m course_pkg.train …`` (``course_pkg/train.py`` is its entry point)
- ``sinusoid``    sinusoid regression runs (chapters 4, 7–11): configs, ``load_sinusoid``
- ``glyphs``      chapter 2's table of fine-tuning design choices (runs of ``transfer``)
- ``fewshot_config`` rows, columns, configs and checkpoint names of the few-shot table
- ``fewshot``     the few-shot comparison (chapters 4–5): training, loading, evaluation
- ``fewshot_results`` the few-shot results table
- ``transfer``    the pre-trained Conv4 (chapter 2 and the table's baselines), chapter 2's table
- ``validation``  periodic validation and early stopping
- ``fewshot_cli`` the few-shot family's command line (until ``fewshot`` provides it)
- ``rl``          meta-RL runs (chapter 12): configs, ``load_model``, evaluation tables
- ``results``     stored results the chapters read (benchmark records)

The few-shot names below are re-exported so that ``from course_pkg.experiments import
load_table`` works.
"""

from course_pkg.experiments.fewshot import (  # noqa: F401
    CHAPTER_EXTRAS,
    EVAL,
    HIDDEN,
    METHODS,
    METRIC_METHODS,
    PER_WAY_METHODS,
    SETTING_NAMES,
    SETTINGS,
    TRAIN,
    Loaded,
    build_model,
    checkpoint_name,
    load_model,
    method_accuracy,
    method_config,
    test_episodes,
    train_all,
    train_model,
)
from course_pkg.experiments.fewshot_results import (  # noqa: F401
    RESULTS_DIR,
    fewshot_table,
    load_table,
    table_frame,
    table_markdown,
    write_table,
)

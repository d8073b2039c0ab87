"""Runs of the course: configurations, checkpoints and result tables.

``course_pkg.experiments.fewshot`` holds the few-shot comparison (configs, training, the table).
The names below are re-exported so that ``from course_pkg.experiments import load_table`` works.
"""

from course_pkg.experiments.fewshot import (  # noqa: F401
    CHAPTER_EXTRAS,
    EVAL,
    HIDDEN,
    METHODS,
    METRIC_METHODS,
    PER_WAY_METHODS,
    RESULTS_DIR,
    SETTING_NAMES,
    SETTINGS,
    TRAIN,
    Loaded,
    build_model,
    checkpoint_name,
    fewshot_table,
    load_model,
    load_table,
    method_accuracy,
    method_config,
    table_frame,
    table_markdown,
    test_episodes,
    train_all,
    train_model,
    write_table,
)

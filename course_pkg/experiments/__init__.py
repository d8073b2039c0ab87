"""Runs of the course: configurations, checkpoints and result tables.

- :mod:`course_pkg.experiments.fewshot_config`: rows, columns, training configs, checkpoint names;
- :mod:`course_pkg.experiments.fewshot`: training with early stopping, loading, evaluation, CLI;
- :mod:`course_pkg.experiments.fewshot_results`: the few-shot results table;
- :mod:`course_pkg.experiments.transfer`: chapter 2's pre-trained Conv4 and design-choice table;
- :mod:`course_pkg.experiments.validation`: periodic validation and early stopping.

The names below are re-exported so that ``from course_pkg.experiments import load_table`` works.
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

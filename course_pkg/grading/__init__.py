"""Exercise generation and robust grading with otter-grader.

- :func:`assign` / :func:`assign_all`: masters in ``solutions/masters/`` -> committed student
  notebooks (``exercises/``), solved twins (``solutions/``) and test files, byte-stably.
- :func:`grade_notebook`: grade one notebook cell by cell under time and memory limits, against
  the master's public and hidden tests; :func:`grade_folder`: a folder of submissions -> one CSV.

Command line: ``python -m course_pkg.grading {assign,assign-all,grade,grade-all} ...``
(see ``python -m course_pkg.grading --help`` and ``solutions/masters/README.md``).

Names are imported lazily so that grading does not pay for otter assign's imports.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "MasterError": "masters",
    "assign": "masters",
    "assign_all": "masters",
    "validate_master": "masters",
    "course_root": "paths",
    "list_masters": "paths",
    "output_paths": "paths",
    "GradeReport": "grade",
    "GradingError": "grade",
    "grade_folder": "grade",
    "grade_notebook": "grade",
    "write_json": "grade",
    "CellResult": "kernel",
    "GradingKernel": "kernel",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)

"""Exercise generation and robust grading with otter-grader.

- :func:`assign` / :func:`assign_all`: masters in ``solutions/masters/`` -> committed student
  notebooks (``exercises/``), solved twins (``solutions/``) and test files, byte-stably.
- :func:`grade_notebook`: grade one notebook: its code in a sandboxed kernel, the master's public
  and hidden tests in this (trusted) process; :func:`grade_folder`: a folder -> one CSV.
- :func:`notebook_grader`: the ``grader`` of an exercise notebook (finds its public tests through
  course_pkg, wherever the notebook was copied); :func:`in_kernel`: probes of the tests.

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
    "grade_folder": "batch",
    "grade_notebook": "grade",
    "write_json": "grade",
    "CellResult": "kernel",
    "in_kernel": "boundary",
    "notebook_grader": "notebook",
    "sandbox_status": "sandbox",
    "build_autograder": "autograder",
    "GradingKernel": "kernel",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)

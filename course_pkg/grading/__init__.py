"""Exercise generation and robust grading with otter-grader.

- :func:`assign` / :func:`assign_all`: masters in ``solutions/masters/`` -> committed student
  notebooks (``exercises/``), solved twins (``solutions/``) and test files, byte-stably.
- :func:`grade_notebook`: grade one notebook cell by cell under time and memory limits, against
  the master's public and hidden tests; :func:`grade_folder`: a folder of submissions -> one CSV.

Command line: ``python -m course_pkg.grading {assign,assign-all,grade,grade-all} ...``
(see ``python -m course_pkg.grading --help`` and ``solutions/masters/README.md``).
"""

from .assign import MasterError, assign, assign_all, course_root, list_masters, validate_master
from .grade import GradeReport, GradingError, grade_folder, grade_notebook, write_json
from .kernel import CellResult, GradingKernel

__all__ = [
    "CellResult",
    "GradeReport",
    "GradingError",
    "GradingKernel",
    "MasterError",
    "assign",
    "assign_all",
    "course_root",
    "grade_folder",
    "grade_notebook",
    "list_masters",
    "validate_master",
    "write_json",
]

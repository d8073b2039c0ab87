"""``grader`` of an exercise notebook: otter's checks, wherever the notebook was copied.

The first code cell of every exercise is::

    from course_pkg.grading import notebook_grader
    grader = notebook_grader("ex07_maml")

It finds the public tests through course_pkg (``<course>/exercises/tests/<name>``), so a copy of
the notebook in ``workspace/`` or anywhere else checks itself like the original. A passing check
also says how many hidden tests ``make grade`` will run on top.
"""

from __future__ import annotations

import inspect
import json
import os
from pathlib import Path

from .paths import course_root

HIDDEN_COUNTS = "hidden_counts.json"


def public_tests_dir(name: str) -> Path | None:
    """``exercises/tests/<name>`` of the course (``$COURSE_ROOT`` or course_pkg's repository),
    else ``tests/<name>`` next to the current directory; ``None`` when neither exists."""
    for d in (course_root() / "exercises" / "tests" / name, Path.cwd() / "tests" / name):
        if d.is_dir():
            return d
    return None


class _Checked:
    """otter's check result, plus one sentence about the hidden tests when it passed."""

    def __init__(self, result, hidden: int):
        self._result, self._hidden = result, hidden

    def _note(self) -> str:
        inner = getattr(self._result, "return_value", self._result)
        if not getattr(inner, "passed_all", False) or not self._hidden:
            return ""
        s = "s" if self._hidden != 1 else ""
        return (f"{self._hidden} hidden test{s} remain{'' if s else 's'}: `make grade` runs them "
                "too (they try other inputs and the question's central idea).")

    def __getattr__(self, name):
        return getattr(self._result, name)

    def __repr__(self) -> str:
        note = self._note()
        return repr(self._result) + (f"\n{note}" if note else "")

    def _repr_html_(self) -> str:
        html = getattr(self._result, "_repr_html_", lambda: repr(self._result))()
        note = self._note()
        return html + (f"<p>{note}</p>" if note else "")


class _Missing:
    def __init__(self, name: str):
        self.name = name

    def check(self, question: str, global_env=None) -> None:
        print(f"Cannot find the tests of {self.name}: open this notebook from the course "
              "repository (make workspace), or set COURSE_ROOT to the course folder.")


def notebook_grader(name: str):
    """An ``otter.Notebook`` on the public tests of exercise ``name`` (see the module doc)."""
    tests = public_tests_dir(name)
    if tests is None:
        return _Missing(name)
    import otter

    counts_file = tests / HIDDEN_COUNTS
    try:
        counts = json.loads(counts_file.read_text()) if counts_file.is_file() else {}
    except (OSError, ValueError):
        counts = {}

    class CourseNotebook(otter.Notebook):
        def check(self, question: str, global_env=None):
            if global_env is None:
                global_env = inspect.currentframe().f_back.f_globals
            result = super().check(question, global_env)
            return None if result is None else _Checked(result, int(counts.get(question, 0)))

    return CourseNotebook(tests_dir=os.fspath(tests))


__all__ = ["notebook_grader", "public_tests_dir"]

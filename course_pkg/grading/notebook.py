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
from typing import Any

from .paths import course_root

HIDDEN_COUNTS = "hidden_counts.json"


def public_tests_dir(name: str) -> Path | None:
    """``exercises/tests/<name>`` of the course (``$COURSE_ROOT`` or course_pkg's repository),
    else ``tests/<name>`` next to the current directory; ``None`` when neither exists."""
    for d in (course_root() / "exercises" / "tests" / name, Path.cwd() / "tests" / name):
        if d.is_dir():
            return d
    return None


class CheckResult:
    """What ``grader.check("qN")`` shows: every public test passed, or, for each failing one,
    what to do next (the same feedback as ``make grade``: stubs recognised, the chapter section
    to read, no test source or traceback), plus how many hidden tests ``make grade`` adds.
    Plain-text symbols only (no emoji)."""

    def __init__(self, question: str, results: list, hidden: int):
        self.question, self.results, self._hidden = question, results, hidden
        self.passed_all = all(r.passed for r in results)

    def _note(self) -> str:
        if not self.passed_all or not self._hidden:
            return ""
        s = "s" if self._hidden != 1 else ""
        return (f"{self._hidden} hidden test{s} remain{'' if s else 's'}: `make grade` runs them "
                "too (they try other inputs and the question's central idea).")

    def lines(self) -> list[str]:
        if self.passed_all:
            out = [f"{self.question} results: All test cases passed!"]
        else:
            failed = [r for r in self.results if not r.passed]
            out = [f"{self.question} results: {len(failed)} of {len(self.results)} public "
                   f"test{'s' if len(self.results) != 1 else ''} failed"]
            for r in failed:
                out.append(f"  [FAIL] {r.name}: {r.message}")
        note = self._note()
        return out + ([note] if note else [])

    def __repr__(self) -> str:
        return "\n".join(self.lines())

    def _repr_html_(self) -> str:
        import html

        body = "<br>".join(html.escape(ln) for ln in self.lines())
        return f'<p class="course-check">{body}</p>'


def run_public_tests(name: str, question: str, tests: Path, global_env: dict) -> list:
    """Run the public tests of ``question`` on the notebook's globals, with the grader's
    feedback (:mod:`course_pkg.grading.feedback`)."""
    import inspect as _inspect

    from .feedback import explain, stubs
    from .questions import CaseResult, failure_message, load_question

    q = load_question(tests / f"{question}.py")
    names = [n for n in q.names if n != "env"]
    returned_none: set[str] = set()

    def watched(n, fn):
        def call(*args, **kwargs):
            out = fn(*args, **kwargs)
            if out is None:
                returned_none.add(n)
            return out
        return call

    env = {}
    for n in names:
        v = global_env.get(n)
        env[n] = watched(n, v) if _inspect.isfunction(v) else v
    sources = []
    for n in names:
        try:
            sources.append(_inspect.getsource(global_env[n]))
        except (KeyError, TypeError, OSError):
            pass
    results = []
    for case in q.cases:
        kwargs = {p: (dict(global_env) if p == "env" else env.get(p)) for p in case.params}
        try:
            case.func(**kwargs)
            results.append(CaseResult(case.name, case.hidden, True, "passed", case.points))
        except KeyboardInterrupt:
            raise
        except BaseException as err:  # noqa: BLE001 - a failing test, whatever it raised
            results.append(CaseResult(case.name, case.hidden, False, failure_message(err),
                                      case.points))
    missing = [n for n in names if global_env.get(n) is None]
    return explain(name, question, results, stubs(names, sources), missing, returned_none)


class _Missing:
    def __init__(self, name: str):
        self.name = name

    def check(self, question: str, global_env=None) -> None:
        print(f"Cannot find the tests of {self.name}: open this notebook from the course "
              "repository (make workspace), or set COURSE_ROOT to the course folder.")


def notebook_grader(name: str) -> Any:
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
            if not (tests / f"{question}.py").is_file():
                return super().check(question, global_env)
            results = run_public_tests(name, question, tests, global_env)
            return CheckResult(question, results, int(counts.get(question, 0)))

    return CourseNotebook(tests_dir=os.fspath(tests))


__all__ = ["CheckResult", "notebook_grader", "public_tests_dir", "run_public_tests"]

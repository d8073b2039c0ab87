"""A question's tests, run in the trusted grader against the learner's kernel.

The test files are otter's exception-based format (``solutions/tests/<exercise>/qN.py``), loaded
and executed *here*; the names they take are fetched from the kernel through a
:class:`~course_pkg.grading.boundary.Session` (plain values, or proxies that call across the
boundary). Points follow otter's rules (``points`` of the file shared by the cases without their
own). Failure messages are the exception's message only, never the test's source or traceback.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from pathlib import Path

from .boundary import GraderTimeout, RemoteFailure, Session


@dataclass
class TestCase:
    name: str
    hidden: bool
    points: float
    func: object  # the test function (trusted code)
    params: list[str]


@dataclass
class Question:
    name: str
    points: float
    cases: list[TestCase]

    @property
    def names(self) -> list[str]:
        """The learner's names the tests take, in order of first use."""
        out: list[str] = []
        for c in self.cases:
            out += [p for p in c.params if p not in out and p != "env"]
        return out

    @property
    def hidden(self) -> int:
        return sum(c.hidden for c in self.cases)


class _test_case:
    """Stand-in for ``otter.test_files.test_case`` (importing otter costs seconds)."""

    def __init__(self, name=None, points=None, hidden=False, success_message=None,
                 failure_message=None):
        self.name, self.points, self.hidden = name, points, hidden
        self.test_func = None

    def __call__(self, func):
        self.test_func = func
        return self


_OTTER_IMPORT = "from otter.test_files import test_case"


def _resolve_points(total, given: list[float | None]) -> list[float]:
    """otter's rule: cases without points share what the file's total leaves."""
    pre = sum(p for p in given if p is not None)
    free = sum(p is None for p in given)
    if total is not None:
        if pre > total:
            raise ValueError("more points in the test cases than the question's total")
        each = (total - pre) / free if free else 0.0
    elif pre == 0:
        each = 1.0 / free if free else 0.0
    else:
        each = 0.0
    return [float(p) if p is not None else each for p in given]


def load_question(path: Path) -> Question:
    """Parse one otter exception-based test file (trusted code of the course)."""
    source = Path(path).read_text(encoding="utf-8")
    env: dict = {"__name__": f"course_tests.{Path(path).parent.name}.{Path(path).stem}",
                 "test_case": _test_case}
    exec(compile(source.replace(_OTTER_IMPORT, ""), str(path), "exec"), env)
    found = [v for v in env.values() if isinstance(v, _test_case)]
    points = _resolve_points(env.get("points"), [t.points for t in found])
    cases = [TestCase(str(t.name or t.test_func.__name__), bool(t.hidden), p, t.test_func,
                      list(inspect.signature(t.test_func).parameters))
             for t, p in zip(found, points)]
    return Question(str(env["name"]), float(sum(points)), cases)


def failure_message(err: BaseException) -> str:
    """What the learner sees for a failing test: the message, never source or traceback."""
    raised = getattr(err, "course_raised_by_learner", None)
    if isinstance(raised, str):
        msg = f"calling your code raised {raised[:80]}: {err}".strip()
    elif isinstance(err, AssertionError):
        msg = str(err).strip() or "an assertion of the test failed"
    elif isinstance(err, RemoteFailure):
        msg = str(err)
    else:
        msg = f"{type(err).__name__}: {err}".strip()
    return msg[:600]


def _outcome_types() -> tuple[type, ...]:
    """pytest's ``Failed`` (from ``pytest.raises``) is a BaseException: count it as a failure."""
    try:
        from _pytest.outcomes import OutcomeException
    except ImportError:
        return (Exception,)
    return (Exception, OutcomeException)


@dataclass
class CaseResult:
    name: str
    hidden: bool
    passed: bool
    message: str
    points: float


def run_question(question: Question, session: Session) -> tuple[list[CaseResult], str | None]:
    """Run every test case of ``question``; returns the results and an error for the question
    as a whole (the kernel lost, no answer), if any."""
    catch = _outcome_types()
    results: list[CaseResult] = []
    error = None
    try:
        env = session.lookup(question.names)
    except BaseException as err:  # noqa: BLE001 - the kernel may fail in any way
        if isinstance(err, (KeyboardInterrupt, GraderTimeout)):
            raise
        error = f"the notebook's names could not be read: {failure_message(err)}"
        env = None
    for case in question.cases:
        if env is None:
            results.append(CaseResult(case.name, case.hidden, False, error or "", case.points))
            continue
        kwargs = {p: (dict(env) if p == "env" else env.get(p)) for p in case.params}
        try:
            with session:
                case.func(**kwargs)
            passed, message = True, "passed"
        except catch as err:
            passed, message = False, failure_message(err)
        except (KeyboardInterrupt, GraderTimeout):
            raise
        except BaseException as err:  # noqa: BLE001 - SystemExit & co. from a test: a failure
            passed, message = False, failure_message(err)
        results.append(CaseResult(case.name, case.hidden, passed, message, case.points))
        if session.lost and error is None:
            error = f"the kernel was lost during the tests and restarted: {message}"
    return results, error


__all__ = ["CaseResult", "Question", "TestCase", "failure_message", "load_question",
           "run_question"]

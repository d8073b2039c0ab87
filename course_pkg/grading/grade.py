"""Grade a learner's notebook: the learner's code in a sandbox, the tests in the grader.

Pipeline (see ``solutions/masters/README.md``, "How grading works"):

1. read the notebook (a regular file under a size cap, plain JSON) and find its exercise
   (notebook metadata ``otter.assignment_name``, else the file name);
2. load the master's test files ``solutions/tests/<exercise>/qN.py`` here, in the trusted grader;
3. start a kernel in the sandbox (:mod:`course_pkg.grading.sandbox`: bubblewrap, user nobody, no
   network, no view of ``solutions/``, own PID namespace, resource limits) with a copy of the
   notebook in its own temporary folder;
4. run the learner's code cells in order, each under a time limit; a cell that fails, hangs or
   kills the kernel is skipped (a lost kernel is rebuilt by replaying the cells that succeeded);
5. as soon as the cells before a question's ``grader.check("qN")`` cell have run, grade that
   question (:mod:`course_pkg.grading.questions`): its tests run here and call the learner's
   functions across the boundary (:mod:`course_pkg.grading.boundary`), comparing plain data;
   the question's rule, if any, is checked on the source (:mod:`course_pkg.grading.rules`).
   Its credit is then settled: later cells cannot change it. Cells after the last check are
   not run.

Without a working sandbox the same pipeline runs in an ordinary kernel and the report says that
the result is not tamper-proof.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .boundary import GraderTimeout, Session
from .feedback import explain_failures
from .kernel import CellResult, GradingKernel
from .paths import course_root
from .questions import Question, run_question
from .references import plan, stub_message
from .report import (
    CellIssue,
    GradeReport,
    QuestionReport,
    RuleReport,
    TestCaseReport,
    default_json_path,
    safe_text,
    write_json,
)
from .rules import RULES, check_rule, dynamic_code
from .sandbox import sandbox_status
from .submission import (
    MAX_NOTEBOOK_BYTES,
    GradingError,
    first_line,
    identify_exercise,
    is_otter_cell,
    load_questions,
    natural_key,
    question_files,
    read_learner_notebook,
    read_regular_file,
    schedule,
)

DEFAULT_TIMEOUT_PER_CELL = 60.0
DEFAULT_MEM_MB = 6144
DEFAULT_TOTAL_TIMEOUT = 900.0
#: address-space cap of the trusted grader process (the CLI sets it on itself): importing torch
#: and the kernel client take ~4 GB; answers are refused above 64 MB of logical size
DEFAULT_GRADER_MEM_MB = 8192
#: seconds the command line's watchdog adds to --total-timeout before it ends the grader
WATCHDOG_GRACE = 120.0
#: seconds the trusted side may spend on a question beyond its calls into the kernel (decoding,
#: comparing, rules); past it the question is stopped and scores 0
TRUSTED_GRACE = 30.0
#: imported in the kernel before the learner's cells (not charged to their time limits)
WARMUP = ("import course_pkg.grading.agent, dill, numpy, torch\n"
          "del course_pkg, dill, numpy, torch")
NOT_TAMPER_PROOF = ("NOT TAMPER-PROOF: the notebook ran without the sandbox ({why}); its code "
                    "could have changed this result. Fine for checking your own work; graders "
                    "need bubblewrap (Linux).")


def _describe(res: CellResult, timeout: float, mem_mb: int | None) -> tuple[str, str]:
    if res.memory:
        return "memory", (
            f"ran out of memory: the grading kernel is capped at {mem_mb} MB of address space "
            f"(--mem-mb); {res.ename}: {(res.evalue or '')[:200]}"
        )
    if res.status == "timeout":
        how = "killed" if res.kernel_lost else "interrupted"
        return "timeout", f"did not finish within {timeout:g} s (--timeout-per-cell); {how}"
    if res.status == "dead" and res.ename == "DiskQuotaExceeded":
        return "disk", str(res.evalue)
    if res.status == "dead":
        return "dead", (
            "the kernel died while running it (os._exit, a crash in native code, or the memory "
            f"cap of {mem_mb} MB); the kernel was restarted"
        )
    return "error", f"{res.ename}: {(res.evalue or '')[:300]}"


def bound_grader(mem_mb: int | None, total_timeout: float) -> None:
    """Bound this grader process (the command line calls it before grading one notebook).

    - memory: soft ``RLIMIT_AS`` of ``mem_mb`` (the kernel's own, lower cap is set by prlimit
      when it starts), so a comparison gone wrong raises ``MemoryError`` in a test instead of
      taking the machine's memory from the other graders of ``grade-all``;
    - time: a watchdog thread ends the process (exit code 3, a message on stderr) when it runs
      :data:`WATCHDOG_GRACE` seconds past ``total_timeout``; ``grade-all`` then writes a
      "not graded" row. SIGTERM ends it cleanly (the work folder is removed).
    """
    import os
    import resource
    import sys

    if mem_mb:
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        cap = mem_mb * 1024 * 1024
        if hard != resource.RLIM_INFINITY:
            cap = min(cap, hard)
        resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    limit = total_timeout + WATCHDOG_GRACE

    def watchdog():
        time.sleep(limit)
        print(f"error: the grader exceeded its own time bound ({limit:g} s); no grade",
              file=sys.stderr, flush=True)
        _cleanup_now()
        os._exit(3)

    threading.Thread(target=watchdog, name="grader-watchdog", daemon=True).start()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _on_sigterm)


_LIVE_KERNELS: list[GradingKernel] = []


def _cleanup_now() -> None:
    for k in list(_LIVE_KERNELS):
        try:
            k.close()
        except Exception:  # noqa: BLE001 - best effort while exiting
            pass


def _on_sigterm(signum, frame):
    raise SystemExit(143)


@contextlib.contextmanager
def trusted_time_bound(seconds: float) -> Iterator[None]:
    """Raise :class:`GraderTimeout` in this (main) thread after ``seconds`` of wall time.

    Bounds the trusted grader's own work on an answer (decoding, comparing), which the kernel's
    time limits do not cover. Outside the main thread it does nothing (signals cannot be used
    there); the command line's watchdog still bounds the whole run."""
    if seconds <= 0 or threading.current_thread() is not threading.main_thread():
        yield
        return

    def _alarm(signum, frame):
        raise GraderTimeout(f"the grader stopped checking this answer after {seconds:.0f} s")

    old = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


# -- running the learner's cells --------------------------------------------------------------
class _Runner:
    """Executes the learner's cells in order, remembering failures across kernel restarts."""

    def __init__(self, kernel: GradingKernel, cells: list[tuple[int, str]], timeout: float,
                 deadline: float, mem_mb: int | None):
        self.k, self.timeout, self.deadline = kernel, timeout, deadline
        self.cells = [(i, s) for i, s in cells if not is_otter_cell(s)]
        self.mem_mb = mem_mb
        self.done = 0  # cells[:done] have run (or were skipped)
        self.issues: dict[int, CellIssue] = {}

    def _left(self) -> float:
        return self.deadline - time.monotonic()

    def _skip(self, index: int, source: str, status: str, message: str) -> None:
        self.issues.setdefault(index, CellIssue(index, status, message, first_line(source)))

    def ran(self) -> list[str]:
        """Sources of the cells run so far that did not fail."""
        return [s for i, s in self.cells[: self.done] if i not in self.issues]

    def executed(self) -> list[str]:
        """Sources of every cell that started running so far, failed ones included (a cell
        that raises at its end keeps its definitions): what rules read."""
        return [s for i, s in self.cells[: self.done]
                if i not in self.issues or self.issues[i].status != "not run"]

    def run_until(self, position: int) -> None:
        """Run the cells before notebook ``position``; after a kernel loss, replay from the top
        (each loss adds one cell to the skip list, so this ends)."""
        while True:
            lost = False
            target = sum(1 for i, _ in self.cells if i < position)
            start = 0 if self.k.restarts_pending else self.done
            self.k.restarts_pending = False
            for n in range(start, max(target, self.done)):
                index, source = self.cells[n]
                self.done = max(self.done, n + 1)
                if index in self.issues:
                    continue
                left = self._left()
                if left <= 1:
                    self._skip(index, source, "not run", "not run: total time limit reached "
                               "(--total-timeout)")
                    continue
                res = self.k.run(source, timeout=min(self.timeout, left))
                if res.ok:
                    continue
                status, message = _describe(res, min(self.timeout, left), self.mem_mb)
                self._skip(index, source, status, message)
                if res.kernel_lost:
                    lost = True
                    break
            if not lost:
                return
            self.k.restarts_pending = True


def _hide_references(names: tuple[str, ...], session: Session) -> str | None:
    """Stub ``names`` in the kernel while the question is graded; why not, if it failed."""
    if not names:
        return None
    try:
        done = session.request("hide", list(names), ([stub_message(n) for n in names],), {})
    except Exception as err:  # noqa: BLE001 - a kernel that refuses cannot be graded fairly
        return f"{type(err).__name__}: {err}"
    return None if done == list(names) else "the kernel's agent did not confirm it"


def _grade_question(q: Question, exercise: str, session: Session, runner: _Runner,
                    budget: float) -> QuestionReport:
    """Run ``q``'s tests (and check its rule) within ``budget`` seconds of wall time, with the
    course's reference implementation of what ``q`` asks for unavailable in the kernel."""
    report = QuestionReport(q.name, 0.0, q.points)
    hidden = plan(exercise)[1].get(q.name, ())
    try:
        with trusted_time_bound(budget):
            _run_and_judge(q, exercise, session, runner, hidden, report)
    except GraderTimeout as err:
        session.lost = session.stopped = True
        report.error = f"{err}: the answer took too long to check; this question scores 0"
        report.tests = [TestCaseReport(c.name, c.hidden, False, report.error) for c in q.cases]
        report.rules, report.score = [], 0.0
    return report


def _run_and_judge(q: Question, exercise: str, session: Session, runner: _Runner,
                   hidden: tuple[str, ...], report: QuestionReport) -> None:
    """Fill ``report``: tests (the references in ``hidden`` stubbed meanwhile), feedback,
    rules. Everything here is the trusted side's own work, bounded by the caller's timer."""
    why = _hide_references(hidden, session)
    if why is not None:
        session.lost = True
        report.error = ("the grader could not make the course's reference unavailable while "
                        f"grading ({why}); was course_pkg.grading changed in the notebook? This "
                        "question scores 0")
        return
    results, error = run_question(q, session)
    if hidden and not session.lost:
        try:
            session.request("restore", None, (), {})
        except Exception:  # noqa: BLE001 - then rebuild the kernel: it stays stubbed
            session.lost = session.stopped = True
    cells = runner.executed()  # a cell that failed after its `def` still defined it
    results = explain_failures(exercise, q, results, cells, session.returned_none)
    report.tests = [TestCaseReport(r.name, r.hidden, r.passed, r.message) for r in results]
    report.error = error
    report.score = min(sum(r.points for r in results if r.passed), q.points)
    rule = RULES.get((exercise, q.name))
    if rule is not None:
        why = check_rule(rule, cells)
        report.rules.append(RuleReport(rule.text, why is None, rule.how,
                                       "" if why is None else
                                       f"{rule.function} {why}: this question scores 0"))
        if why is not None:
            report.score = 0.0
    if hidden:
        dyn = dynamic_code(cells)
        report.rules.append(RuleReport(
            "do not call the course's own implementation of this question", dyn is None,
            "while graded + source",
            "" if dyn is None else f"the notebook uses {dyn}, which could restore the course's "
            "implementation the grader hides while this question is graded: this question "
            "scores 0 (write the code plainly)"))
        if dyn is not None:
            report.score = 0.0


def grade_notebook(path: str | Path, **options: Any) -> GradeReport:
    """Grade one notebook (see :func:`_grade_notebook` for the options); never raises for
    anything the notebook does.

    The trusted side computes with one torch thread while it grades, as the learner's kernel
    does (``OMP_NUM_THREADS=1``): a reference computed with another thread count can differ in
    the last digits (and in the random draws that follow them) from the same code in the kernel,
    which failed exercise 12's solution under ``make grade`` on a 2-core machine. The caller's
    thread count is restored afterwards.
    """
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _grade_notebook(path, **options)
    finally:
        torch.set_num_threads(threads)


def _grade_notebook(
    path: str | Path,
    *,
    exercise: str | None = None,
    timeout_per_cell: float = DEFAULT_TIMEOUT_PER_CELL,
    mem_mb: int | None = DEFAULT_MEM_MB,
    total_timeout: float = DEFAULT_TOTAL_TIMEOUT,
    root: str | Path | None = None,
    interrupt_grace: float = 5.0,
    sandbox: bool | None = None,
) -> GradeReport:
    """Grade one notebook; never raises for anything the notebook does.

    Args:
        path: the learner's ``.ipynb``.
        exercise: exercise name; default from the notebook metadata or the file name.
        timeout_per_cell: seconds each code cell, and each call into the notebook, may run.
        mem_mb: address-space cap of the grading kernel in MB (``None``/0: no cap).
        total_timeout: seconds for the whole run; cells/questions beyond it are not run (0 points).
        root: course root holding ``solutions/tests/`` (default: the repository of course_pkg).
        interrupt_grace: seconds a timed-out cell gets to obey the interrupt before its kernel is
            killed and rebuilt.
        sandbox: run the notebook in the bubblewrap sandbox; ``None``: when it works here (else
            the report says the result is not tamper-proof); ``True``: required.

    Raises:
        GradingError: when the exercise cannot be identified or has no tests, or when
            ``sandbox=True`` and the sandbox does not work.
    """
    t0 = time.monotonic()
    import torch  # noqa: F401 - the tests need it; importing it first keeps the timings honest

    path = Path(path)
    root = Path(root) if root else course_root()
    messages: list[str] = []
    works, why = sandbox_status()
    if sandbox and not works:
        raise GradingError(f"the grading sandbox does not work here: {why}")
    use_sandbox = works if sandbox is None else bool(sandbox)
    nb, cells = read_learner_notebook(path, messages)
    exercise = identify_exercise(path, root, nb=nb, exercise=exercise, messages=messages)
    questions = load_questions(exercise, root)
    reports = {q.name: QuestionReport(q.name, 0.0, q.points) for q in questions}
    if not use_sandbox:
        messages.append(NOT_TAMPER_PROOF.format(why=why))
    issues: list[CellIssue] = []
    if nb is not None:
        # SIGTERM (grade-all's limit, a user) ends the grader through SystemExit and the
        # `finally` below; it is held back until the kernel's work folder is registered
        held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
        try:
            kernel = GradingKernel(mem_mb=mem_mb, interrupt_grace=interrupt_grace,
                                   sandbox=use_sandbox, cpu_seconds=int(total_timeout) + 60,
                                   startup_timeout=max(180.0, timeout_per_cell), warmup=WARMUP,
                                   absent=plan(exercise)[0])
            _LIVE_KERNELS.append(kernel)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, held)
        try:
            shutil.copyfile(path, Path(kernel.cwd) / "notebook.ipynb")
            kernel.start()
            deadline = t0 + total_timeout
            runner = _Runner(kernel, cells, timeout_per_cell, deadline, mem_mb)
            by_name = {q.name: q for q in questions}
            for position, name in schedule(cells, questions):
                runner.run_until(position)
                if deadline - time.monotonic() <= 1:
                    reports[name].error = "not graded: total time limit reached (--total-timeout)"
                    continue
                q_deadline = min(deadline, time.monotonic() + 3 * timeout_per_cell)
                session = Session(kernel, timeout_per_cell, q_deadline)
                budget = q_deadline - time.monotonic() + TRUSTED_GRACE
                reports[name] = _grade_question(by_name[name], exercise, session, runner, budget)
                if session.lost:
                    if session.stopped:  # stopped mid-call: the kernel may still be busy
                        kernel.restart()
                    kernel.restarts_pending = True
                    runner.run_until(position)
            issues = sorted(runner.issues.values(), key=lambda c: c.cell)
        except RuntimeError as err:  # the grading kernel itself failed: an infrastructure problem
            raise GradingError(f"grading {path} failed: {err}") from err
        finally:
            kernel.close()
            _LIVE_KERNELS.remove(kernel)
    qreports = [reports[q.name] for q in questions]
    if any(c.status == "memory" for c in issues) or any(
        q.error and "memory" in q.error for q in qreports
    ):
        messages.append(f"Memory cap exceeded: the grading kernel may use at most {mem_mb} MB of "
                        "address space (importing torch alone takes ~3.2 GB); raise it with "
                        "--mem-mb if the exercise legitimately needs more.")
    total = sum(q.score for q in qreports)
    possible = sum(q.max for q in qreports)
    return GradeReport(str(path), exercise, qreports, issues, total, possible,
                       time.monotonic() - t0, messages, sandboxed=use_sandbox)


__all__ = ["CellIssue", "GradeReport", "GradingError", "MAX_NOTEBOOK_BYTES", "QuestionReport",
           "RuleReport", "TestCaseReport", "bound_grader", "default_json_path", "grade_notebook",
           "identify_exercise", "is_otter_cell", "natural_key", "question_files",
           "read_regular_file", "safe_text", "trusted_time_bound", "write_json"]

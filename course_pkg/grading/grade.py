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

import json
import os
import re
import shutil
import stat
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .boundary import Session
from .kernel import CellResult, GradingKernel
from .paths import course_root, list_masters, output_paths
from .questions import Question, load_question, run_question
from .rules import RULES, check_rule
from .sandbox import sandbox_status

DEFAULT_TIMEOUT_PER_CELL = 60.0
DEFAULT_MEM_MB = 6144
DEFAULT_TOTAL_TIMEOUT = 900.0
#: notebooks larger than this are not read (a learner's exercise is a few hundred kB)
MAX_NOTEBOOK_BYTES = 20 * 1024 * 1024

_OTTER_LINE = re.compile(
    r"^\s*(import\s+otter|grader\s*=\s*otter\.Notebook\(.*\)|grader\.\w+\(.*\)"
    r"|from\s+course_pkg\.grading\s+import\s+notebook_grader"
    r"|grader\s*=\s*notebook_grader\(.*\))\s*;?\s*$"
)
#: imported in the kernel before the learner's cells (not charged to their time limits)
WARMUP = ("import course_pkg.grading.agent, dill, numpy, torch\n"
          "del course_pkg, dill, numpy, torch")
_CHECK = re.compile(r"grader\.check\(\s*['\"]([^'\"]+)['\"]\s*\)")
NOT_TAMPER_PROOF = ("NOT TAMPER-PROOF: the notebook ran without the sandbox ({why}); its code "
                    "could have changed this result. Fine for checking your own work; graders "
                    "need bubblewrap (Linux).")


class GradingError(RuntimeError):
    """The notebook cannot be graded at all (unknown exercise, missing tests)."""


@dataclass
class TestCaseReport:
    name: str
    hidden: bool
    passed: bool
    message: str


@dataclass
class QuestionReport:
    """Score of one question; ``error`` says why its tests could not run (timeout, crash...)."""

    name: str
    score: float
    max: float
    tests: list[TestCaseReport] = field(default_factory=list)
    error: str | None = None


@dataclass
class CellIssue:
    """A learner cell that was skipped because it failed."""

    cell: int  # 1-based position in the notebook (markdown cells included)
    status: str  # "error" | "timeout" | "dead" | "memory" | "not run"
    message: str
    source: str  # first line of the cell


@dataclass
class GradeReport:
    notebook: str
    exercise: str
    questions: list[QuestionReport]
    cells: list[CellIssue]
    total: float
    max: float
    seconds: float
    messages: list[str] = field(default_factory=list)
    sandboxed: bool = False

    @property
    def percent(self) -> float:
        return 100.0 * self.total / self.max if self.max else 0.0

    def to_dict(self) -> dict:
        d = asdict(self)
        d["percent"] = round(self.percent, 2)
        d["seconds"] = round(self.seconds, 2)
        return d

    def table(self) -> str:
        """Per-question table, total, then each failing test's message and notes."""
        lines = [f"{self.notebook}  (exercise {self.exercise})", ""]
        lines.append(f"{'question':<10}{'score':>8}{'max':>8}   tests passed")
        for q in self.questions:
            passed = sum(t.passed for t in q.tests)
            note = f"{passed}/{len(q.tests)}" if q.tests else "-"
            if q.error:
                note += f"   ({q.error})"
            lines.append(f"{q.name:<10}{_fmt(q.score):>8}{_fmt(q.max):>8}   {note}")
        lines.append(f"{'total':<10}{_fmt(self.total):>8}{_fmt(self.max):>8}   "
                     f"{self.percent:.1f} %")
        failing = [(q.name, t) for q in self.questions for t in q.tests if not t.passed]
        if failing:
            lines += ["", "Failing tests:"]
            for qname, t in failing:
                kind = "hidden" if t.hidden else "public"
                lines.append(f"  {qname} {t.name} ({kind}): {t.message}")
        if self.cells:
            lines += ["", "Skipped cells (their definitions are missing while grading):"]
            for c in self.cells:
                lines.append(f"  cell {c.cell} [{c.status}] {c.message}\n      > {c.source}")
        for m in self.messages:
            lines += ["", m]
        return "\n".join(lines)


def _fmt(x: float) -> str:
    return f"{x:g}" if float(x).is_integer() else f"{x:.2f}"


# -- exercise identification ------------------------------------------------------------------
def identify_exercise(nb: dict | None, path: Path, root: Path) -> str:
    """The exercise a notebook belongs to: metadata first, then the file name.

    The file name matches when it contains a master's name (``alice_ex01_supervised_learning``)
    or its ``exNN`` prefix as a separate token (``ex01_alice.ipynb``).
    """
    names = list_masters(root)
    meta = nb.get("metadata") if isinstance(nb, dict) else None
    otter = meta.get("otter") if isinstance(meta, dict) else None
    name = otter.get("assignment_name") if isinstance(otter, dict) else None
    if isinstance(name, str) and name in names:
        return name
    stem = path.stem.lower()
    for n in names:
        if n in stem:
            return n
    for n in names:
        prefix = n.split("_", 1)[0]
        if re.search(rf"(^|[^a-z0-9]){re.escape(prefix)}([^0-9]|$)", stem):
            return n
    raise GradingError(
        f"cannot tell which exercise {path} is (no otter metadata, and the file name contains "
        f"none of {names}); rename it or pass --exercise"
    )
# -- the learner's cells ----------------------------------------------------------------------
def is_otter_cell(source: str) -> bool:
    """True for cells made only of ``import otter`` / ``grader = otter.Notebook(...)`` /
    ``grader.check(...)`` lines (and comments): the grader skips them."""
    lines = [ln for ln in source.splitlines() if ln.strip() and not ln.strip().startswith("#")]
    return bool(lines) and all(_OTTER_LINE.match(ln) for ln in lines)


def _first_line(source: str) -> str:
    for ln in source.splitlines():
        if ln.strip():
            return ln.strip()[:100]
    return ""


def _describe(res: CellResult, timeout: float, mem_mb: int | None) -> tuple[str, str]:
    if res.memory:
        return "memory", (
            f"ran out of memory: the grading kernel is capped at {mem_mb} MB of address space "
            f"(--mem-mb); {res.ename}: {(res.evalue or '')[:200]}"
        )
    if res.status == "timeout":
        how = "killed" if res.kernel_lost else "interrupted"
        return "timeout", f"did not finish within {timeout:g} s (--timeout-per-cell); {how}"
    if res.status == "dead":
        return "dead", (
            "the kernel died while running it (os._exit, a crash in native code, or the memory "
            f"cap of {mem_mb} MB); the kernel was restarted"
        )
    return "error", f"{res.ename}: {(res.evalue or '')[:300]}"




# -- test files -------------------------------------------------------------------------------
def question_files(exercise: str, root: Path) -> list[Path]:
    tests_dir = output_paths(exercise, root)["tests"]
    files = sorted(tests_dir.glob("*.py"), key=lambda p: _natural_key(p.stem))
    if not files:
        raise GradingError(f"no tests for {exercise} in {tests_dir}: run `make exercises`")
    return files


def _natural_key(s: str) -> list:
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", s)]


def load_questions(exercise: str, root: Path) -> list[Question]:
    return [load_question(f) for f in question_files(exercise, root)]


# -- reading a notebook safely ----------------------------------------------------------------
def read_regular_file(path: Path, limit: int = MAX_NOTEBOOK_BYTES) -> bytes:
    """The bytes of ``path`` if it is a regular file (not a link, FIFO, device or folder) of at
    most ``limit`` bytes; raises ``ValueError`` saying what it is otherwise."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as err:
        if os.path.islink(path):
            raise ValueError("a symbolic link, not a regular file") from None
        raise ValueError(f"cannot be opened ({err.strerror})") from None
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fh.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise ValueError("not a regular file")
        if st.st_size > limit:
            raise ValueError(f"larger than {limit // 2**20} MB")
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise ValueError(f"larger than {limit // 2**20} MB")
    return data


def read_learner_notebook(path: Path, messages: list[str]) -> tuple[dict | None, list]:
    """Read a notebook leniently (plain JSON, no schema validation).

    Returns the notebook dict (``None`` if unreadable, with a note in ``messages``) and its code
    cells as ``(1-based cell position, source)``, otter's own cells included.
    """
    try:
        nb = json.loads(read_regular_file(path).decode("utf-8"))
        if not isinstance(nb, dict):
            raise TypeError("the file is not a JSON object")
        raw_cells = nb["cells"]
        if not isinstance(raw_cells, list):
            raise TypeError("'cells' is not a list")
    except Exception as err:  # noqa: BLE001 - any unreadable file is graded 0
        messages.append(f"The notebook could not be read ({type(err).__name__}: {err}); "
                        "every question scores 0.")
        return None, []
    cells = []
    for i, cell in enumerate(raw_cells, start=1):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        src = cell.get("source", "")
        src = "".join(s for s in src if isinstance(s, str)) if isinstance(src, list) else str(src)
        if src.strip():
            cells.append((i, src))
    return nb, cells


def schedule(cells: list[tuple[int, str]], questions: list[Question]) -> list[tuple[int, str]]:
    """``(position, question)`` in grading order: each question right after the cells before its
    first ``grader.check`` cell; questions without a check cell after every cell."""
    first: dict[str, int] = {}
    for pos, src in cells:
        for name in _CHECK.findall(src):
            first.setdefault(name, pos)
    end = max((p for p, _ in cells), default=0) + 1
    order = [(first.get(q.name, end), q.name) for q in questions]
    return sorted(order, key=lambda t: (t[0], _natural_key(t[1])))


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
        self.issues.setdefault(index, CellIssue(index, status, message, _first_line(source)))

    def ran(self) -> list[str]:
        """Sources of the cells run so far that did not fail."""
        return [s for i, s in self.cells[: self.done] if i not in self.issues]

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


def _grade_question(q: Question, exercise: str, session: Session, runner: _Runner
                    ) -> QuestionReport:
    results, error = run_question(q, session)
    report = QuestionReport(q.name, 0.0, q.points)
    report.tests = [TestCaseReport(r.name, r.hidden, r.passed, r.message) for r in results]
    report.error = error
    report.score = min(sum(r.points for r in results if r.passed), q.points)
    rule = RULES.get((exercise, q.name))
    if rule is not None:
        why = check_rule(rule, runner.ran())
        report.tests.append(TestCaseReport(f"rule: {rule.text}", False, why is None,
                                           "kept" if why is None else
                                           f"{rule.function} {why}: this question scores 0"))
        if why is not None:
            report.score = 0.0
    return report


def grade_notebook(
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
    exercise = exercise or identify_exercise(nb, path, root)
    questions = load_questions(exercise, root)
    reports = {q.name: QuestionReport(q.name, 0.0, q.points) for q in questions}
    if not use_sandbox:
        messages.append(NOT_TAMPER_PROOF.format(why=why))
    issues: list[CellIssue] = []
    if nb is not None:
        kernel = GradingKernel(mem_mb=mem_mb, interrupt_grace=interrupt_grace,
                               sandbox=use_sandbox, cpu_seconds=int(total_timeout) + 60,
                               startup_timeout=max(180.0, timeout_per_cell), warmup=WARMUP)
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
                reports[name] = _grade_question(by_name[name], exercise, session, runner)
                if session.lost:
                    kernel.restarts_pending = True
                    runner.run_until(position)
            issues = sorted(runner.issues.values(), key=lambda c: c.cell)
        except RuntimeError as err:  # the grading kernel itself failed: an infrastructure problem
            raise GradingError(f"grading {path} failed: {err}") from err
        finally:
            kernel.close()
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


def default_json_path(notebook: str | Path) -> Path:
    """``grades/<notebook stem>.json`` under the current directory."""
    return Path("grades") / f"{Path(notebook).stem}.json"


def write_json(report: GradeReport, out: str | Path) -> Path:
    """Write the JSON report atomically (a temporary file renamed over ``out``)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n")
    os.replace(tmp, out)
    return out

"""Grade a learner's notebook against the master's tests, robustly and in bounded time.

Pipeline (see ``solutions/masters/README.md``):

1. find the exercise (notebook metadata ``otter.assignment_name``, else the file name);
2. run the learner's code cells one by one in a fresh kernel (:class:`GradingKernel`) with a
   per-cell time limit and a memory cap; a cell that times out, raises, does not parse or kills
   the kernel is skipped and recorded; otter's own cells (``import otter``,
   ``grader = otter.Notebook(...)``, ``grader.check(...)``) are skipped;
3. for each question, run the committed test file ``solutions/tests/<exercise>/<q>.py`` (otter's
   exception-based format, public + hidden test cases) against the kernel namespace under the same
   time limit; a question whose tests hang, crash or kill the kernel scores 0, the others are
   unaffected (a lost kernel is rebuilt by replaying the cells that succeeded).

Everything is bounded: at most ``timeout_per_cell + interrupt_grace`` per cell or question, each
cell can cost at most one kernel restart, and ``total_timeout`` caps the whole run.
"""

from __future__ import annotations

import csv
import json
import re
import secrets
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .kernel import CellResult, GradingKernel
from .paths import course_root, list_masters, output_paths

DEFAULT_TIMEOUT_PER_CELL = 60.0
DEFAULT_MEM_MB = 6144
DEFAULT_TOTAL_TIMEOUT = 900.0

_OTTER_LINE = re.compile(
    r"^\s*(import\s+otter|grader\s*=\s*otter\.Notebook\(.*\)|grader\.\w+\(.*\))\s*;?\s*$"
)


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

    @property
    def percent(self) -> float:
        return 100.0 * self.total / self.max if self.max else 0.0

    def to_dict(self) -> dict:
        d = asdict(self)
        d["percent"] = round(self.percent, 2)
        d["seconds"] = round(self.seconds, 2)
        return d

    def table(self) -> str:
        """Human-readable per-question table, total and notes."""
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
    if isinstance(nb, dict):
        meta = (nb.get("metadata") or {}).get("otter", {}).get("assignment_name")
        if meta in names:
            return meta
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


def _possible(files: list[Path]) -> list[tuple[str, float]]:
    """(question name, max points) of each test file, loaded with otter in this process."""
    import warnings

    with warnings.catch_warnings():  # otter's imports trigger traitlets deprecation warnings
        warnings.simplefilter("ignore", DeprecationWarning)
        from otter.nbmeta_config import NBMetadataConfig
        from otter.test_files import create_test_file

    out = []
    for f in files:
        tf = create_test_file(str(f), NBMetadataConfig())
        out.append((tf.name, float(tf.possible)))
    return out


_LOAD_CODE = """\
def __course_load__(paths, marker):
    import json
    from otter.nbmeta_config import NBMetadataConfig
    from otter.test_files import create_test_file
    out = []
    for p in paths:
        tf = create_test_file(p, NBMetadataConfig())
        out.append([tf.name, float(tf.possible)])
    print("\\n" + marker + json.dumps(out))
try:
    __course_load__({paths!r}, {marker!r})
finally:
    del __course_load__
"""


_GRADE_CODE = """\
def __course_grade__(path, marker):
    import json
    from otter.nbmeta_config import NBMetadataConfig
    from otter.test_files import create_test_file
    tf = create_test_file(path, NBMetadataConfig())
    tf.run(globals())
    out = {{
        "score": float(tf.score),
        "possible": float(tf.possible),
        "tests": [
            {{"name": r.test_case.name, "hidden": bool(r.test_case.hidden),
              "passed": bool(r.passed), "message": str(r.message)}}
            for r in tf.test_case_results
        ],
    }}
    print("\\n" + marker + json.dumps(out))
try:
    __course_grade__({path!r}, {marker!r})
finally:
    del __course_grade__
"""


def _parse_grade_output(stdout: str, marker: str) -> dict | None:
    for line in stdout.splitlines():
        if line.startswith(marker):
            try:
                return json.loads(line[len(marker):])
            except json.JSONDecodeError:
                return None
    return None


# -- the grading run --------------------------------------------------------------------------
class _Runner:
    """Executes the learner's cells, remembering which ones to skip across kernel restarts."""

    def __init__(self, kernel: GradingKernel, cells: list[tuple[int, str]], timeout: float,
                 deadline: float, mem_mb: int | None):
        self.k, self.cells, self.timeout, self.deadline = kernel, cells, timeout, deadline
        self.mem_mb = mem_mb
        self.issues: dict[int, CellIssue] = {}

    def _left(self) -> float:
        return self.deadline - time.monotonic()

    def _skip(self, index: int, source: str, status: str, message: str) -> None:
        self.issues.setdefault(index, CellIssue(index, status, message, _first_line(source)))

    def replay(self) -> None:
        """(Re)build the namespace: run every cell not yet skipped, from a fresh kernel state.

        Restarts from the top whenever a cell costs the kernel; each restart adds one cell to the
        skip list, so this terminates after at most ``len(cells) + 1`` passes.
        """
        while True:
            lost = False
            for index, source in self.cells:
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


def grade_notebook(
    path: str | Path,
    *,
    exercise: str | None = None,
    timeout_per_cell: float = DEFAULT_TIMEOUT_PER_CELL,
    mem_mb: int | None = DEFAULT_MEM_MB,
    total_timeout: float = DEFAULT_TOTAL_TIMEOUT,
    root: str | Path | None = None,
    interrupt_grace: float = 5.0,
) -> GradeReport:
    """Grade one notebook; never raises for anything the notebook does.

    Args:
        path: the learner's ``.ipynb``.
        exercise: exercise name; default from the notebook metadata or the file name.
        timeout_per_cell: seconds each code cell, and each question's tests, may run.
        mem_mb: address-space cap of the grading kernel in MB (``None``/0: no cap).
        total_timeout: seconds for the whole run; cells/questions beyond it are not run (0 points).
        root: course root holding ``solutions/tests/`` (default: the repository of course_pkg).
        interrupt_grace: seconds a timed-out cell gets to obey the interrupt before its kernel is
            killed and rebuilt.

    Raises:
        GradingError: when the exercise cannot be identified or has no tests.
    """
    t0 = time.monotonic()
    path = Path(path)
    root = Path(root) if root else course_root()
    messages: list[str] = []
    nb, cells = read_learner_notebook(path, messages)
    exercise = exercise or identify_exercise(nb, path, root)
    files = question_files(exercise, root)
    questions: list[QuestionReport] = []
    issues: list[CellIssue] = []
    if nb is None:  # nothing to run: every question scores 0
        questions = [QuestionReport(name, 0.0, possible) for name, possible in _possible(files)]
        return GradeReport(str(path), exercise, questions, [], 0.0,
                           sum(q.max for q in questions), time.monotonic() - t0, messages)
    kernel = GradingKernel(mem_mb=mem_mb, interrupt_grace=interrupt_grace)
    try:
        kernel.start()
        # the master's test files are loaded before any learner code runs
        marker = f"@@course-grade-{secrets.token_hex(8)}@@"
        res = kernel.run(_LOAD_CODE.format(paths=[str(f.resolve()) for f in files], marker=marker),
                         timeout=max(timeout_per_cell, 60.0))
        loaded = _parse_grade_output(res.stdout, marker) if res.ok else None
        if loaded is None:
            raise RuntimeError(f"could not load the tests {files}: {res.ename}: {res.evalue}")
        questions = [QuestionReport(name, 0.0, possible) for name, possible in loaded]
        deadline = t0 + total_timeout
        runner = _Runner(kernel, cells, timeout_per_cell, deadline, mem_mb)
        runner.replay()
        for q, f in zip(questions, files):
            left = deadline - time.monotonic()
            if left <= 1:
                q.error = "not graded: total time limit reached (--total-timeout)"
                continue
            marker = f"@@course-grade-{secrets.token_hex(8)}@@"
            limit = min(timeout_per_cell, left)
            res = kernel.run(_GRADE_CODE.format(path=str(f.resolve()), marker=marker), limit)
            data = _parse_grade_output(res.stdout, marker) if res.ok else None
            if data is not None:
                q.score = min(float(data["score"]), q.max)
                q.tests = [TestCaseReport(**t) for t in data["tests"]]
            elif res.ok:
                q.error = "the tests printed no result (stdout redirected?)"
            else:
                status, message = _describe(res, limit, mem_mb)
                q.error = f"tests {status}: {message}"
            if res.kernel_lost:
                runner.replay()
        issues = sorted(runner.issues.values(), key=lambda c: c.cell)
    except RuntimeError as err:  # the grading kernel itself failed: an infrastructure problem
        raise GradingError(f"grading {path} failed: {err}") from err
    finally:
        kernel.close()
    if any(c.status == "memory" for c in issues) or any(
        q.error and "memory" in q.error for q in questions
    ):
        messages.append(f"Memory cap exceeded: the grading kernel may use at most {mem_mb} MB of "
                        "address space (importing torch alone takes ~3.2 GB); raise it with "
                        "--mem-mb if the exercise legitimately needs more.")
    total = sum(q.score for q in questions)
    possible = sum(q.max for q in questions)
    return GradeReport(str(path), exercise, questions, issues, total, possible,
                       time.monotonic() - t0, messages)


def read_learner_notebook(path: Path, messages: list[str]) -> tuple[dict | None, list]:
    """Read a notebook leniently (plain JSON, no schema validation).

    Returns the notebook dict (``None`` if unreadable, with a note in ``messages``) and its code
    cells to run as ``(1-based cell position, source)``, otter's own cells left out.
    """
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
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
        src = "".join(src) if isinstance(src, list) else str(src)
        if src.strip() and not is_otter_cell(src):
            cells.append((i, src))
    return nb, cells


def default_json_path(notebook: str | Path) -> Path:
    """``grades/<notebook stem>.json`` under the current directory."""
    return Path("grades") / f"{Path(notebook).stem}.json"


def write_json(report: GradeReport, out: str | Path) -> Path:
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n")
    return out


def _status(r: GradeReport) -> str:
    """One-word-ish summary for the CSV."""
    if any(m.startswith("The notebook could not be read") for m in r.messages):
        return "unreadable notebook"
    notes = []
    if r.cells:
        notes.append(f"{len(r.cells)} cell(s) skipped")
    if any(q.error for q in r.questions):
        notes.append(f"{sum(bool(q.error) for q in r.questions)} question(s) not graded")
    if any(m.startswith("Memory cap") for m in r.messages):
        notes.append("memory cap hit")
    return "partial run: " + ", ".join(notes) if notes else "ok"


# -- a folder of submissions ------------------------------------------------------------------
def find_submissions(folder: str | Path) -> list[Path]:
    """Every ``.ipynb`` under ``folder`` (recursively), checkpoints excluded, sorted."""
    folder = Path(folder)
    return sorted(p for p in folder.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)


def grade_folder(
    folder: str | Path,
    csv_path: str | Path,
    *,
    json_dir: str | Path | None = None,
    progress: bool = True,
    **kwargs,
) -> list[GradeReport | tuple[Path, str]]:
    """Grade every notebook under ``folder`` into one CSV.

    Columns: ``student`` (path relative to ``folder`` without ``.ipynb``), ``file``,
    ``exercise``, one column per question (``q1``...; ``<exercise>:q1`` when the folder mixes
    exercises), ``total``, ``max``, ``percent``, ``status`` (``ok``; ``partial run: ...`` when
    cells were skipped or tests could not run; ``unreadable notebook``; ``not graded: ...`` when
    the exercise cannot be identified).
    """
    folder = Path(folder)
    results: list[GradeReport | tuple[Path, str]] = []
    subs = find_submissions(folder)
    for n, nb_path in enumerate(subs, start=1):
        if progress:
            print(f"[{n}/{len(subs)}] grading {nb_path} ...", flush=True)
        try:
            rep = grade_notebook(nb_path, **kwargs)
        except GradingError as err:
            results.append((nb_path, str(err)))
            continue
        results.append(rep)
        if json_dir is not None:
            rel = nb_path.relative_to(folder).with_suffix(".json")
            write_json(rep, Path(json_dir) / rel)
    reports = [r for r in results if isinstance(r, GradeReport)]
    exercises = sorted({r.exercise for r in reports})
    mixed = len(exercises) > 1
    qcols: list[tuple[str, str]] = []
    for ex in exercises:
        for f in question_files(ex, Path(kwargs.get("root") or course_root())):
            qcols.append((ex, f.stem))
    header = ["student", "file", "exercise"]
    header += [f"{ex}:{q}" if mixed else q for ex, q in qcols]
    header += ["total", "max", "percent", "status"]
    csv_path = Path(csv_path)
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    with csv_path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        for r in results:
            if isinstance(r, GradeReport):
                p = Path(r.notebook)
                by_q = {(r.exercise, q.name): q.score for q in r.questions}
                row = [str(p.relative_to(folder).with_suffix("")), str(p), r.exercise]
                row += [_fmt(by_q[c]) if c in by_q else "" for c in qcols]
                status = _status(r)
                row += [_fmt(r.total), _fmt(r.max), f"{r.percent:.1f}", status]
            else:
                p, err = r
                row = [str(p.relative_to(folder).with_suffix("")), str(p), ""]
                row += [""] * len(qcols) + ["", "", "", f"not graded: {err}"]
            w.writerow(row)
    return results

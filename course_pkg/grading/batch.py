"""Grade a folder of submissions into one CSV, robustly and in parallel.

Each submission is graded by its own grader process (``python -m course_pkg.grading grade``,
which sandboxes the notebook) under a wall-clock limit, so that nothing a notebook does (and no
bug of the grader) can cost another submission its row. The CSV gets exactly one row per
``*.ipynb`` entry found: ungradable entries (FIFOs, links, folders named ``*.ipynb``, files over
the size cap, unknown exercises, crashed graders) get a row whose ``status`` says why. The CSV is
written once, at the end, atomically (a temporary file renamed into place).
"""

from __future__ import annotations

import csv
import json
import os
import stat
import subprocess
import sys
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from .grade import MAX_NOTEBOOK_BYTES, WATCHDOG_GRACE, question_files
from .paths import course_root
from .report import _fmt, safe_text
from .sandbox import sweep_workdirs


@dataclass
class Row:
    path: Path
    report: dict | None  # the grader's JSON report
    error: str | None = None


def find_submissions(folder: str | Path) -> list[Path]:
    """Every entry named ``*.ipynb`` under ``folder`` (links are not followed), checkpoints
    excluded, sorted. Entries that are not regular files are returned too (they get a row)."""
    out = []
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if d != ".ipynb_checkpoints")
        names = filenames + [d for d in dirnames if d.endswith(".ipynb")]
        out += [Path(dirpath) / n for n in names if n.endswith(".ipynb")]
    return sorted(out)


def _precheck(path: Path) -> str | None:
    try:
        st = os.lstat(path)
    except OSError as err:
        return f"cannot be read ({err.strerror})"
    if stat.S_ISLNK(st.st_mode):
        return "a symbolic link, not a regular file"
    if stat.S_ISDIR(st.st_mode):
        return "a folder, not a notebook file"
    if not stat.S_ISREG(st.st_mode):
        return "not a regular file (FIFO, device or socket)"
    if st.st_size > MAX_NOTEBOOK_BYTES:
        return f"larger than {MAX_NOTEBOOK_BYTES // 2**20} MB"
    return None


def _die_with_parent() -> None:
    """In the child grader: get SIGKILL when grade-all dies (Linux), so no grader outlives it."""
    try:
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _grade_one(path: Path, out: Path, args: list[str], wall: float) -> Row:
    why = _precheck(path)
    if why:
        return Row(path, None, f"not graded: {why}")
    # options first, then "--": a notebook named "-x.ipynb" is a file, not an option
    cmd = [sys.executable, "-m", "course_pkg.grading", "grade", "--json", str(out), "--quiet",
           *args, "--", str(path)]
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=wall,
                             stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent,
                             errors="replace")
    except subprocess.TimeoutExpired:
        sweep_workdirs()
        return Row(path, None, f"not graded: the grader did not finish within {wall:g} s")
    except OSError as err:
        return Row(path, None, f"not graded: the grader could not start ({err})")
    try:
        return _row(path, out, res)
    finally:
        sweep_workdirs()  # a grader that was killed leaves its work folder: remove it


def _row(path: Path, out: Path, res) -> Row:
    if res.returncode != 0 or not out.is_file():
        lines = [ln for ln in (res.stderr or res.stdout or "").splitlines() if ln.strip()]
        msg = lines[-1] if lines else f"exit code {res.returncode}"
        return Row(path, None, f"not graded: {msg.removeprefix('error: ')[:300]}")
    try:
        return Row(path, json.loads(out.read_text()))
    except (OSError, ValueError) as err:
        return Row(path, None, f"not graded: unreadable report ({err})")


def _status(r: dict) -> str:
    msgs = r.get("messages", [])
    if any(m.startswith("The notebook could not be read") for m in msgs):
        return "unreadable notebook"
    notes = []
    if r.get("cells"):
        notes.append(f"{len(r['cells'])} cell(s) skipped")
    errs = sum(bool(q.get("error")) for q in r.get("questions", []))
    if errs:
        notes.append(f"{errs} question(s) not graded")
    if any(m.startswith("Exercise mismatch") for m in msgs):
        notes.append("exercise mismatch (the notebook's metadata names another exercise)")
    if any(m.startswith("Memory cap") for m in msgs):
        notes.append("memory cap hit")
    rules = sum(1 for q in r.get("questions", []) for t in q.get("rules", []) if not t["kept"])
    if rules:
        notes.append(f"{rules} rule(s) broken")
    if not r.get("sandboxed"):
        notes.append("NOT sandboxed")
    return "partial run: " + ", ".join(notes) if notes else "ok"


def grade_folder(
    folder: str | Path,
    csv_path: str | Path,
    *,
    json_dir: str | Path | None = None,
    jobs: int | None = None,
    insecure: bool = False,
    progress: bool = True,
    timeout_per_cell: float = 60.0,
    mem_mb: int | None = 6144,
    total_timeout: float = 900.0,
    exercise: str | None = None,
    root: str | Path | None = None,
    grader_mem_mb: int | None = None,
) -> list[Row]:
    """Grade every ``*.ipynb`` under ``folder`` into one CSV; returns one :class:`Row` each.

    Columns: ``student`` (path under ``folder`` without ``.ipynb``), ``file``, ``exercise``, one
    column per question (``q1``...; ``<exercise>:q1`` when the folder mixes exercises), ``total``,
    ``max``, ``percent``, ``status`` (``ok``; ``partial run: ...``; ``unreadable notebook``;
    ``not graded: ...``).

    Raises:
        RuntimeError: when the sandbox does not work here and ``insecure`` is False.
    """
    from .sandbox import sandbox_status

    works, why = sandbox_status()
    if not works and not insecure:
        raise RuntimeError(f"refusing to grade submissions without the sandbox ({why}); pass "
                           "--insecure to grade anyway (only for trusted notebooks)")
    folder = Path(folder)
    root = Path(root) if root else course_root()
    subs = find_submissions(folder)
    jobs = max(1, int(jobs or os.cpu_count() or 1))
    args = ["--timeout-per-cell", str(timeout_per_cell), "--mem-mb", str(mem_mb or 0),
            "--total-timeout", str(total_timeout)]
    args += ["--sandbox" if works else "--insecure"]
    if grader_mem_mb is not None:
        args += ["--grader-mem-mb", str(int(grader_mem_mb))]
    if exercise:
        args += ["--exercise", exercise]
    env_root = os.environ.get("COURSE_ROOT")
    if root != course_root() and not env_root:
        os.environ["COURSE_ROOT"] = str(root)
    # each grader bounds itself (watchdog at total_timeout + WATCHDOG_GRACE); this is the backstop
    wall = total_timeout + WATCHDOG_GRACE + 60.0
    lock = threading.Lock()
    done = [0]
    with tempfile.TemporaryDirectory(prefix="course-grade-all-") as tmp:
        def work(item):
            n, p = item
            row = _grade_one(p, Path(tmp) / f"{n}.json", args, wall)
            with lock:
                done[0] += 1
                if progress:
                    tail = row.error or f"{_fmt(row.report['total'])}/{_fmt(row.report['max'])}"
                    print(safe_text(f"[{done[0]}/{len(subs)}] {p}: {tail}"), flush=True)
            return row

        with ThreadPoolExecutor(max_workers=jobs) as pool:
            rows = list(pool.map(work, enumerate(subs)))
    if json_dir is not None:
        for row in rows:
            if row.report is not None:
                out = Path(json_dir) / row.path.relative_to(folder).with_suffix(".json")
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_text(json.dumps(row.report, indent=2, ensure_ascii=False) + "\n")
    _write_csv(rows, folder, Path(csv_path), root)
    return rows


def _write_csv(rows: list[Row], folder: Path, csv_path: Path, root: Path) -> None:
    exercises = sorted({r.report["exercise"] for r in rows if r.report})
    mixed = len(exercises) > 1
    qcols = [(ex, f.stem) for ex in exercises for f in question_files(ex, root)]
    header = ["student", "file", "exercise"]
    header += [f"{ex}:{q}" if mixed else q for ex, q in qcols]
    header += ["total", "max", "percent", "status"]
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{csv_path.name}.", dir=csv_path.parent)
    try:
        with os.fdopen(fd, "w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(header)
            for r in rows:
                student = str(r.path.relative_to(folder).with_suffix(""))
                if r.report:
                    rep = r.report
                    by_q = {(rep["exercise"], q["name"]): q["score"] for q in rep["questions"]}
                    row = [student, str(r.path), rep["exercise"]]
                    row += [_fmt(by_q[c]) if c in by_q else "" for c in qcols]
                    row += [_fmt(rep["total"]), _fmt(rep["max"]), f"{rep['percent']:.1f}",
                            _status(rep)]
                else:
                    row = [student, str(r.path), ""] + [""] * len(qcols)
                    row += ["", "", "", r.error or "not graded"]
                w.writerow([csv_cell(c) for c in row])
        os.chmod(tmp, 0o644)
        os.replace(tmp, csv_path)
    except BaseException:
        os.unlink(tmp)
        raise


_FORMULA = ("=", "+", "-", "@", "\t", "\r", "\n", "|", "%")


def csv_cell(value: object) -> str:
    """A CSV cell a spreadsheet shows as text: learner-controlled text starting like a formula
    (``=HYPERLINK(...)``, ``+``, ``-``, ``@``, tab, CR) gets a leading apostrophe (OWASP's
    advice); control characters are escaped. Numbers (``-1.5``) are left alone."""
    text = safe_text(value)
    if text.startswith(_FORMULA):
        try:
            float(text)
        except ValueError:
            return "'" + text
    return text


__all__ = ["Row", "csv_cell", "find_submissions", "grade_folder"]

"""A learner's submission as the grader reads it: the file, its exercise, its cells, the order in
which its questions are graded. Nothing here runs the learner's code.
"""

from __future__ import annotations

import ast
import json
import os
import re
import stat
from pathlib import Path

from .paths import list_masters, output_paths
from .questions import Question, load_question

#: notebooks larger than this are not read (a learner's exercise is a few hundred kB)
MAX_NOTEBOOK_BYTES = 20 * 1024 * 1024

_OTTER_LINE = re.compile(
    r"^\s*(import\s+otter|grader\s*=\s*otter\.Notebook\(.*\)|grader\.\w+\(.*\)"
    r"|from\s+course_pkg\.grading\s+import\s+notebook_grader"
    r"|grader\s*=\s*notebook_grader\(.*\))\s*;?\s*$"
)
_MAGIC = re.compile(r"^\s*[%!]")


class GradingError(RuntimeError):
    """The notebook cannot be graded at all (unknown exercise, missing tests)."""


# -- exercise identification ------------------------------------------------------------------
def metadata_exercise(nb: dict | None) -> str | None:
    """The exercise the notebook's own metadata claims (``otter.assignment_name``), if any.

    Only ever *reported*: a learner controls it, so it never decides what is graded."""
    meta = nb.get("metadata") if isinstance(nb, dict) else None
    otter = meta.get("otter") if isinstance(meta, dict) else None
    name = otter.get("assignment_name") if isinstance(otter, dict) else None
    return name if isinstance(name, str) else None


def exercise_from_file_name(path: Path, root: Path) -> str:
    """The exercise the instructor asked for, read from the file name: it contains a master's
    name (``alice_ex01_supervised_learning``) or its ``exNN`` prefix as a separate token
    (``ex01_alice.ipynb``).

    Raises:
        GradingError: when the name matches no exercise, or several.
    """
    names = list_masters(root)
    stem = path.stem.lower()
    full = {n for n in names if n in stem}
    if not full:
        full = {n for n in names
                if re.search(rf"(^|[^a-z0-9]){re.escape(n.split('_', 1)[0])}([^0-9]|$)", stem)}
    if len(full) == 1:
        return full.pop()
    if full:
        raise GradingError(f"the file name of {path} names several exercises "
                           f"({', '.join(sorted(full))}): rename it or pass --exercise")
    raise GradingError(
        f"cannot tell which exercise {path} is (the file name contains none of {names}); "
        "rename it or pass --exercise"
    )


def identify_exercise(path: Path, root: Path, *, nb: dict | None = None,
                      exercise: str | None = None, messages: list[str] | None = None) -> str:
    """The exercise to grade: ``exercise`` (``--exercise``) if given, else from the file name
    (:func:`exercise_from_file_name`); never from the notebook's metadata, which is only
    compared and a mismatch noted in ``messages``."""
    if exercise is not None:
        if exercise not in list_masters(root):
            raise GradingError(f"no exercise {exercise!r} (--exercise); the exercises are "
                               f"{list_masters(root)}")
        chosen, how = exercise, "--exercise"
    else:
        chosen, how = exercise_from_file_name(path, root), "its file name"
    claimed = metadata_exercise(nb)
    if claimed is not None and claimed != chosen and messages is not None:
        messages.append(f"Exercise mismatch: the notebook's metadata says {claimed[:100]!r}, "
                        f"but it was graded as {chosen} ({how}). Was the right file handed in?")
    return chosen


# -- the learner's cells ----------------------------------------------------------------------
def is_otter_cell(source: str) -> bool:
    """True for cells made only of ``import otter`` / ``grader = otter.Notebook(...)`` /
    ``grader.check(...)`` lines (and comments): the grader skips them."""
    lines = [ln for ln in source.splitlines() if ln.strip() and not ln.strip().startswith("#")]
    return bool(lines) and all(_OTTER_LINE.match(ln) for ln in lines)


def parse_cell(source: str) -> ast.Module | None:
    """The cell's syntax tree, IPython magics and shell lines read as ``pass``; ``None`` when
    it does not parse."""
    src = "\n".join("pass" if _MAGIC.match(ln) else ln for ln in source.splitlines())
    try:
        return ast.parse(src)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def checked_questions(source: str) -> list[str]:
    """The questions a cell's *code* checks: calls ``grader.check("qN")`` (never comments or
    strings that mention one)."""
    tree = parse_cell(source)
    if tree is None:
        return []
    out = []
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr == "check" and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "grader" and node.args
                and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            out.append(node.args[0].value)
    return out


def first_line(source: str) -> str:
    for ln in source.splitlines():
        if ln.strip():
            return ln.strip()[:100]
    return ""


# -- test files -------------------------------------------------------------------------------
def question_files(exercise: str, root: Path) -> list[Path]:
    tests_dir = output_paths(exercise, root)["tests"]
    files = sorted(tests_dir.glob("*.py"), key=lambda p: natural_key(p.stem))
    if not files:
        raise GradingError(f"no tests for {exercise} in {tests_dir}: run `make exercises`")
    return files


def natural_key(s: str) -> list:
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
    first cell whose code calls ``grader.check`` on it; questions without one after every
    cell."""
    first: dict[str, int] = {}
    for pos, src in cells:
        if "grader" not in src or "check" not in src:
            continue
        for name in checked_questions(src):
            first.setdefault(name, pos)
    end = max((p for p, _ in cells), default=0) + 1
    order = [(first.get(q.name, end), q.name) for q in questions]
    return sorted(order, key=lambda t: (t[0], natural_key(t[1])))


__all__ = ["GradingError", "MAX_NOTEBOOK_BYTES", "checked_questions", "identify_exercise",
           "is_otter_cell", "load_questions", "metadata_exercise", "question_files",
           "read_learner_notebook", "read_regular_file", "schedule"]

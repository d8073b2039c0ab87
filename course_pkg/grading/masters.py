"""Generate exercises from their masters with ``otter assign``, byte-stably.

A master ``solutions/masters/<name>.ipynb`` (otter-assign v1 format, see
``solutions/masters/README.md``) produces four committed artefacts under the course root:

- ``exercises/<name>.ipynb``: the student notebook (solutions stripped, hidden tests removed);
- ``exercises/tests/<name>/qN.py``: the public tests, read by ``grader.check("qN")``;
- ``solutions/<name>.ipynb``: the solved twin;
- ``solutions/tests/<name>/qN.py``: public and hidden tests, the reference for grading.

otter assigns random cell ids; :func:`normalise_notebook` replaces them by ids derived from the
exercise name and cell position, drops outputs, execution counts and volatile metadata, so running
:func:`assign` twice writes identical bytes. otter's autograder zip (which holds a timestamp) is not
generated at all: the grader runs the committed test files itself.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import re
import tempfile
import warnings
from pathlib import Path

import nbformat
import yaml

from .paths import course_root, list_masters, masters_dir, output_paths

#: The assignment config every master must carry (besides ``name``).
REQUIRED_CONFIG: dict = {
    "init_cell": False,
    "check_all_cell": False,
    "export_cell": False,
    "generate": False,
    "run_tests": False,
    "tests": {"files": True, "ok_format": False},
}

KERNELSPEC = {"display_name": "Python 3", "language": "python", "name": "python3"}


class MasterError(ValueError):
    """A master notebook does not follow the course's conventions."""


def _config_cell(nb: nbformat.NotebookNode) -> dict:
    if not nb.cells or nb.cells[0].cell_type != "raw":
        raise MasterError("the first cell must be a raw cell starting with '# ASSIGNMENT CONFIG'")
    src = nb.cells[0].source
    if not src.lstrip().startswith("# ASSIGNMENT CONFIG"):
        raise MasterError("the first cell must be a raw cell starting with '# ASSIGNMENT CONFIG'")
    config = yaml.safe_load(src) or {}
    if not isinstance(config, dict):
        raise MasterError("the ASSIGNMENT CONFIG cell is not a YAML mapping")
    return config


def validate_master(path: Path) -> dict:
    """Check the conventions of ``solutions/masters/README.md``; returns the assignment config.

    Raises:
        MasterError: naming what to fix.
    """
    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    config = _config_cell(nb)
    name = path.stem
    problems = []
    if config.get("name") != name:
        problems.append(
            f"config 'name' must be {name!r} (the file name), got {config.get('name')!r}"
        )
    for key, value in REQUIRED_CONFIG.items():
        if config.get(key) != value:
            problems.append(f"config {key!r} must be {value!r}, got {config.get(key)!r}")
    extra = set(config) - set(REQUIRED_CONFIG) - {"name"}
    if extra:
        problems.append(f"unsupported config keys {sorted(extra)} (the course grader ignores them)")
    code = [c for c in nb.cells if c.cell_type == "code"]
    imp = "from course_pkg.grading import notebook_grader"
    init = f'grader = notebook_grader("{name}")'
    if not code or init not in code[0].source or imp not in code[0].source:
        problems.append(f"the first code cell must be:\n    {imp}\n    {init}")
    if any(c.get("outputs") for c in code):
        problems.append("commit the master without outputs (jupyter nbconvert --clear-output)")
    if problems:
        raise MasterError(f"{path}:\n  - " + "\n  - ".join(problems))
    return config


def _cell_id(name: str, index: int) -> str:
    return hashlib.sha1(f"{name}/{index}".encode()).hexdigest()[:8]


_CHECK_ONLY = re.compile(r"^\s*grader\.check\(\s*['\"][^'\"]+['\"]\s*\)\s*$")


def _drop_repeated_checks(nb: nbformat.NotebookNode) -> None:
    """otter adds a ``grader.check`` cell after each question; a master that has its own gets it
    twice: keep one."""
    keep, last = [], None
    for cell in nb.cells:
        src = cell.source.strip() if cell.cell_type == "code" else None
        if src and _CHECK_ONLY.match(src) and src == last:
            continue
        keep.append(cell)
        if cell.cell_type == "code":
            last = src
        elif cell.cell_type == "markdown" and cell.source.strip():
            last = None
    nb.cells = keep


def normalise_notebook(nb: nbformat.NotebookNode, name: str) -> nbformat.NotebookNode:
    """Make a generated notebook deterministic: stable cell ids, no outputs, fixed metadata."""
    _drop_repeated_checks(nb)
    nb.nbformat, nb.nbformat_minor = 4, 5
    for i, cell in enumerate(nb.cells):
        cell["id"] = _cell_id(name, i)
        cell.metadata.pop("execution", None)
        cell.metadata.pop("collapsed", None)
        cell.metadata.pop("scrolled", None)
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        if "attachments" in cell and not cell["attachments"]:
            del cell["attachments"]
    otter_meta = nb.metadata.get("otter", {})
    nb.metadata = nbformat.NotebookNode(
        {
            "kernelspec": dict(KERNELSPEC),
            "language_info": {"name": "python"},
            "otter": otter_meta,
        }
    )
    nbformat.validate(nb)
    return nb


def _write_bytes_if_changed(path: Path, data: bytes) -> bool:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() and path.read_bytes() == data:
        return False
    path.write_bytes(data)
    return True


def _notebook_bytes(nb: nbformat.NotebookNode) -> bytes:
    return (nbformat.writes(nb) + "\n").encode()


def _run_otter_assign(master: Path, result: Path) -> None:
    """Run otter assign quietly (its logger and stdout chatter are suppressed)."""
    from otter.assign import main as otter_assign

    buf = io.StringIO()
    logging.getLogger("otter").setLevel(logging.WARNING)
    with contextlib.redirect_stdout(buf), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        otter_assign(str(master), str(result), no_pdfs=True, no_run_tests=True)


def assign(name: str, root: Path | None = None, out_root: Path | None = None) -> list[Path]:
    """Generate exercise ``name`` from ``<root>/solutions/masters/<name>.ipynb``.

    Args:
        name: master file stem (``ex01_supervised_learning``) or a path to a master.
        root: course root holding the masters (default :func:`course_root`).
        out_root: where to write the artefacts (default ``root``; tests use a temporary folder).

    Returns:
        The files written or confirmed up to date.
    """
    root = Path(root) if root else course_root()
    master = Path(name)
    if master.suffix != ".ipynb":
        master = masters_dir(root) / f"{name}.ipynb"
    if not master.is_file():
        raise FileNotFoundError(f"no master notebook {master}")
    name = master.stem
    validate_master(master)
    out = output_paths(name, Path(out_root) if out_root else root)
    written: list[Path] = []
    with tempfile.TemporaryDirectory(prefix=f"assign-{name}-") as tmp:
        result = Path(tmp) / "out"
        _run_otter_assign(master.resolve(), result)
        for kind, sub in (("exercise", "student"), ("solution", "autograder")):
            nb = nbformat.read(result / sub / master.name, as_version=4)
            data = _notebook_bytes(normalise_notebook(nb, name))
            _write_bytes_if_changed(out[kind], data)
            written.append(out[kind])
        for kind, sub in (("public_tests", "student"), ("tests", "autograder")):
            src_dir, dst_dir = result / sub / "tests", out[kind]
            new = {p.name: p.read_bytes() for p in sorted(src_dir.glob("*.py"))}
            if not new:
                raise MasterError(f"{master}: otter produced no tests in {sub}/tests")
            if dst_dir.exists():  # drop tests of questions that no longer exist
                for old in dst_dir.glob("*.py"):
                    if old.name not in new:
                        old.unlink()
            for fname, data in new.items():
                _write_bytes_if_changed(dst_dir / fname, data)
                written.append(dst_dir / fname)
        written.append(_write_hidden_counts(out["tests"], out["public_tests"]))
    return written


def _write_hidden_counts(tests: Path, public: Path) -> Path:
    """``exercises/tests/<name>/hidden_counts.json``: how many hidden tests each question has
    (counts only), for the learner's ``grader.check``."""
    from .notebook import HIDDEN_COUNTS
    from .questions import load_question

    counts = {}
    for f in sorted(tests.glob("*.py")):
        q = load_question(f)
        counts[q.name] = q.hidden
    path = public / HIDDEN_COUNTS
    _write_bytes_if_changed(path, (json.dumps(counts, indent=1, sort_keys=True) + "\n").encode())
    return path


def assign_all(root: Path | None = None, out_root: Path | None = None) -> dict[str, list[Path]]:
    """Run :func:`assign` for every master in ``solutions/masters/``."""
    names = list_masters(root)
    if not names:
        raise FileNotFoundError(f"no master notebooks in {masters_dir(root)}")
    return {n: assign(n, root=root, out_root=out_root) for n in names}

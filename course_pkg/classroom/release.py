"""The student release: a copy of the course with nothing of ``solutions/``, as a git repository.

``make release DEST=../learning-to-learn-student`` (``python -m course_pkg.classroom release``)
writes into ``DEST``:

- the book (``book/``, ``_config.yml``, ``_toc.yml``), ``course_pkg``, the learner exercises and
  their public tests (``exercises/``), the set-up files (``Makefile``, ``requirements.txt``,
  ``pyproject.toml``, ``binder/``, ``hub/``, ``.jupyter/``, ``.gitignore``) and a student
  ``README.md``; only files git tracks in the instructor's repository (no ``.venv``, no
  ``workspace/``, no build), as they are in the working tree;
- ``learner/``: the learner's copies of the chapters and exercises, converted as ``make
  workspace`` converts them (citations and chapter links that JupyterLab can show). nbgitpuller
  links open these (:mod:`course_pkg.classroom.links`);

and commits the result on branch ``main``. Running it again on the same ``DEST`` replaces the
files and adds a commit (a student's nbgitpuller merges it: their edits win). Nothing of
``solutions/`` (solved notebooks, hidden tests, masters), ``tests/``, ``benchmarks/`` or ``.ci/``
is copied; :func:`find_leaks` then searches every file of the release for the solved cells'
code, the solution-only lines and the hidden tests' names and bodies, and the release is not
committed when it finds any.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

#: what the release takes from the instructor's repository (git-tracked paths under these)
INCLUDE = ("book/", "course_pkg/", "exercises/", "binder/", "hub/", ".jupyter/",
           "_config.yml", "_toc.yml", "Makefile", "requirements.txt", "pyproject.toml",
           ".gitignore")
#: never copied, whatever INCLUDE says (the instructor's side)
EXCLUDE = ("solutions/", "tests/", "benchmarks/", ".ci/", "autograder/", "grades/")
#: marks a folder written by :func:`make_release` (a second run may replace its files)
MARKER = ".course-release"
LEARNER_DIR = "learner"
#: a solution-only line shorter than this is too common to mean a leak ("return x")
MIN_LINE = 16
_HIDDEN_TEST = re.compile(r"@test_case\([^)]*hidden\s*=\s*True[^)]*\)\s*\ndef\s+(\w+)")


class ReleaseError(RuntimeError):
    """The release cannot be written (bad destination, not a git clone, a leak found)."""


@dataclass
class Release:
    """What :func:`make_release` wrote: the folder, its commit and counts of what it holds."""

    dest: Path
    commit: str
    files: int
    learner_files: int
    changed: bool
    leaks: list[str] = field(default_factory=list)


def _git(cwd: Path, *args: str) -> str:
    res = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=120)
    if res.returncode != 0:
        raise ReleaseError(f"git {' '.join(args)} failed in {cwd}: {res.stderr.strip()}")
    return res.stdout


def release_paths(repo: Path) -> list[str]:
    """The repository-relative paths the release copies (git-tracked, present, not excluded)."""
    tracked = _git(repo, "ls-files", "-z").split("\0")
    out = []
    for rel in tracked:
        if not rel or rel.startswith(EXCLUDE) or not rel.startswith(INCLUDE):
            continue
        if rel in INCLUDE or any(rel.startswith(p) for p in INCLUDE if p.endswith("/")):
            if (repo / rel).is_file():
                out.append(rel)
    return sorted(out)


def _code_lines(nb_path: Path) -> list[str]:
    nb = json.loads(nb_path.read_text(encoding="utf-8"))
    return ["".join(c.get("source", [])) for c in nb.get("cells", [])
            if c.get("cell_type") == "code"]


def solution_fingerprints(repo: Path) -> dict[str, set[str]]:
    """What must not reach students, per exercise: ``{"cells": ..., "lines": ..., "tests": ...}``.

    - ``cells``: the code of every solution cell that differs from the exercise's cells;
    - ``lines``: stripped non-comment lines of those cells (at least :data:`MIN_LINE`
      characters) that appear nowhere in the instructor's repository outside ``solutions/``
      (so a line that the book or course_pkg also teaches is not counted);
    - ``tests``: the names of the hidden tests (``@test_case(hidden=True)``) that no public file
      uses, and their bodies' lines that no public file holds;
    - ``scoped``: ``"<exercise>::<hidden test name>"``, searched in the files of that exercise
      only (a name such as ``test_q1_matches_course_pkg`` may be hidden in one exercise and
      public in another).
    """
    repo = Path(repo)
    public_text = "\n".join(
        (repo / p).read_text(encoding="utf-8", errors="replace") for p in release_paths(repo))
    cells: set[str] = set()
    lines: set[str] = set()
    tests: set[str] = set()
    scoped: set[str] = set()
    for sol in sorted((repo / "solutions").glob("ex*.ipynb")):
        ex = repo / "exercises" / sol.name
        ex_cells = set(_code_lines(ex)) if ex.is_file() else set()
        ex_lines = {ln.strip() for c in ex_cells for ln in c.splitlines()}
        for cell in _code_lines(sol):
            if cell in ex_cells or not cell.strip():
                continue
            cells.add(cell.strip())
            for ln in cell.splitlines():
                s = ln.strip()
                if (len(s) >= MIN_LINE and not s.startswith("#") and s not in ex_lines
                        and s not in public_text):
                    lines.add(s)
    for test_file in sorted((repo / "solutions" / "tests").glob("*/*.py")):
        text = test_file.read_text(encoding="utf-8")
        for m in _HIDDEN_TEST.finditer(text):
            scoped.add(f"{test_file.parent.name}::{m.group(1)}")
            if m.group(1) not in public_text:
                tests.add(m.group(1))
            body = text[m.end():].split("\n@test_case", 1)[0]
            tests.update(s.strip() for s in body.splitlines()
                         if len(s.strip()) >= MIN_LINE and s.strip() not in public_text)
    return {"cells": cells, "lines": lines, "tests": tests, "scoped": scoped}


def find_leaks(folder: Path, fingerprints: dict[str, set[str]]) -> list[str]:
    """Every ``path: what`` in ``folder`` (``.git`` included) that holds a fingerprint.

    Text files are searched as text, every other file as bytes (a zip or a pickle that stored the
    code would show it too, uncompressed)."""
    folder = Path(folder)
    needles = [(kind, s) for kind, items in sorted(fingerprints.items()) for s in sorted(items)]
    leaks = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        rel = path.relative_to(folder).as_posix()
        if rel.startswith(".git/"):
            continue  # history: checked through the work tree of each commit (git is zlib'd)
        data = path.read_bytes()
        text = data.decode("utf-8", errors="replace")
        if path.suffix == ".ipynb":  # cells are stored as JSON strings: search the decoded code
            try:
                nb = json.loads(text)
                text += "\n".join("".join(c.get("source", [])) for c in nb.get("cells", []))
            except ValueError:
                pass
        for kind, s in needles:
            if kind == "scoped":
                exercise, s = s.split("::", 1)
                if exercise not in rel:
                    continue
            if s in text:
                leaks.append(f"{rel}: {kind[:-1]} {s.splitlines()[0][:80]!r}")
    if (folder / "solutions").exists():
        leaks.append("solutions/: the folder exists")
    return leaks


def _check_dest(repo: Path, dest: Path) -> None:
    repo, dest = repo.resolve(), dest.resolve()
    if dest == repo or repo in dest.parents:
        raise ReleaseError(f"DEST={dest} is inside the course repository; choose a folder "
                           "outside it, e.g. DEST=../learning-to-learn-student")
    if dest in repo.parents:
        raise ReleaseError(f"DEST={dest} contains the course repository")
    if dest.exists() and not dest.is_dir():
        raise ReleaseError(f"DEST={dest} is a file, not a folder")
    if dest.is_dir() and any(dest.iterdir()) and not (dest / MARKER).is_file():
        raise ReleaseError(f"DEST={dest} is not empty and is not a student release (no {MARKER}):"
                           " refusing to replace its files")


def _student_readme(repo: Path) -> str:
    title = "Learning to Learn"
    toc = repo / "_config.yml"
    if toc.is_file():
        m = re.search(r'^title:\s*"?([^"\n]+)"?', toc.read_text(encoding="utf-8"), re.M)
        title = m.group(1).strip() if m else title
    return f"""# {title} (student edition)

The book, the exercises and their public tests, and the companion package `course_pkg`.

```bash
make book        # build the HTML book into _build/html (every chapter executed)
make lab         # JupyterLab on your own copies in workspace/
```

`learner/` holds the copies the course hub opens through its links (chapters and exercises as
JupyterLab shows them). On the hub your edits stay yours: following a link again pulls the
course's updates and keeps your changes.

Check an exercise as you go with `grader.check("q1")` in the notebook (the public tests); your
instructor grades the submitted notebook with the public and the hidden tests.
"""


def make_release(repo: Path, dest: Path, message: str | None = None) -> Release:
    """Write (or update) the student release of the course at ``repo`` into ``dest``.

    Raises :class:`ReleaseError` for a destination inside the repository or a non-empty folder
    that is not a release, outside a git clone, and when :func:`find_leaks` finds anything."""
    from course_pkg.book_tools import make_workspace  # layer 4, like this module

    repo, dest = Path(repo).resolve(), Path(dest).resolve()
    if not (repo / "book").is_dir() or not (repo / "exercises").is_dir():
        raise ReleaseError(f"{repo} is not the course repository (no book/ and exercises/)")
    _check_dest(repo, dest)
    paths = release_paths(repo)
    fingerprints = solution_fingerprints(repo)
    dest.mkdir(parents=True, exist_ok=True)
    if not (dest / ".git").is_dir():
        _git(dest, "init", "-q", "-b", "main")
    for child in dest.iterdir():  # a new release replaces the previous one's files
        if child.name != ".git":
            shutil.rmtree(child) if child.is_dir() and not child.is_symlink() else child.unlink()
    for rel in paths:
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(repo / rel, dest / rel)
    (dest / "README.md").write_text(_student_readme(repo), encoding="utf-8")
    copied, _ = make_workspace(dest, dest / LEARNER_DIR)
    head = _git(repo, "rev-parse", "--short", "HEAD").strip()
    (dest / MARKER).write_text(f"student release of {repo.name} at {head}\n", encoding="utf-8")
    leaks = find_leaks(dest, fingerprints)
    if leaks:
        raise ReleaseError("the release would leak solutions; nothing committed:\n  "
                           + "\n  ".join(leaks[:20]))
    _git(dest, "add", "-A")
    changed = bool(_git(dest, "status", "--porcelain").strip())
    if changed:
        _git(dest, "-c", "user.name=course release", "-c", "user.email=release@localhost",
             "commit", "-q", "-m", message or f"Student release of {repo.name} {head}")
    commit = _git(dest, "rev-parse", "HEAD").strip()
    files = len(_git(dest, "ls-files", "-z").split("\0")) - 1
    return Release(dest=dest, commit=commit, files=files, learner_files=len(copied),
                   changed=changed)


__all__ = ["Release", "ReleaseError", "find_leaks", "make_release", "release_paths",
           "solution_fingerprints"]

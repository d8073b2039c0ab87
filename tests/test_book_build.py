"""`make book` is never stale: every build re-executes every chapter.

Sphinx re-reads only the pages whose own source changed, so without care an edit in
``course_pkg/`` would leave the old numbers on every page. The ``book`` recipe passes ``--all``
and removes the doctree and execution caches.

- a fast check of the recipe that ``make -n book`` prints and of ``_config.yml``;
- a slow check that builds a one-page scratch book twice with the same recipe, with a change to a
  module the page imports in between, and finds the new value in the second build's HTML.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
STAMP = ".venv/.course-installed"


def _dry_run(**variables: str) -> str:
    """The commands ``make book`` would run (``make -n``), with the set-up step skipped."""
    args = ["make", "-n", "-o", STAMP, "book"] + [f"{k}={v}" for k, v in variables.items()]
    out = subprocess.run(args, cwd=REPO, capture_output=True, text=True, check=True)
    return out.stdout


def test_book_recipe_rebuilds_every_page() -> None:
    cmds = _dry_run()
    build = [line for line in cmds.splitlines() if "jupyter-book build" in line]
    assert build, f"no jupyter-book build command in the book recipe:\n{cmds}"
    assert "--all" in build[0], "the book recipe must pass --all (re-read every page)"
    for flag in ("-W", "-n", "--keep-going"):
        assert flag in build[0].split(), f"the book recipe lost {flag}"
    for cache in ("_build/html", "_build/.doctrees", "_build/.jupyter_cache"):
        assert cache in cmds, f"the book recipe does not remove {cache}"


def test_config_forces_execution() -> None:
    config = yaml.safe_load((REPO / "_config.yml").read_text())
    assert config["execute"]["execute_notebooks"] == "force"
    assert config["execute"]["allow_errors"] is False


def _notebook(source: str) -> dict:
    return {
        "cells": [{"cell_type": "markdown", "id": "c0", "metadata": {}, "source": ["# Scratch\n"]},
                  {"cell_type": "code", "execution_count": None, "id": "c1", "metadata": {},
                   "outputs": [], "source": [source]}],
        "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python",
                                    "name": "python3"}},
        "nbformat": 4, "nbformat_minor": 5,
    }


@pytest.mark.slow
def test_package_edit_reexecutes_the_page(tmp_path: Path) -> None:
    if not (REPO / ".venv" / "bin" / "jupyter-book").exists():
        pytest.skip("no .venv with jupyter-book (run `make setup`)")
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    book = tmp_path / "book"
    book.mkdir()
    real = yaml.safe_load((REPO / "_config.yml").read_text())
    config = {"title": "scratch", "only_build_toc_files": True, "execute": real["execute"],
              "exclude_patterns": ["_build/*", "scratchmod.py"]}
    (book / "_config.yml").write_text(yaml.safe_dump(config))
    (book / "_toc.yml").write_text("format: jb-book\nroot: index\n")
    (book / "index.ipynb").write_text(json.dumps(_notebook(
        "import scratchmod\nprint('scratch value', scratchmod.VALUE)")))
    module = book / "scratchmod.py"
    env = {**os.environ, "PYTHONPATH": str(book)}
    html = book / "_build" / "html" / "index.html"

    def build(value: str) -> str:
        module.write_text(f"VALUE = {value!r}\n")
        run = subprocess.run(["make", "-o", STAMP, "book", f"BOOK_SRC={book}"], cwd=REPO, env=env,
                             capture_output=True, text=True, timeout=300)
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
        return html.read_text()

    assert "scratch value first-build" in build("first-build")
    # Only the imported module changes, not the page: the page must run again anyway.
    assert "scratch value second-build" in build("second-build")



def _numbered_chapters() -> list[Path]:
    toc = yaml.safe_load((REPO / "_toc.yml").read_text())
    files = [c["file"] for part in toc["parts"] if part.get("numbered")
             for c in part["chapters"]]
    return [REPO / f"{f}.ipynb" for f in files]


@pytest.mark.parametrize("chapter", _numbered_chapters(), ids=lambda p: p.stem)
def test_chapter_has_learning_aids(chapter: Path) -> None:
    """Objectives first, questions with hidden answers last, and a pointer to the exercise."""
    cells = json.loads(chapter.read_text())["cells"]
    md = ["".join(c["source"]) for c in cells if c["cell_type"] == "markdown"]
    headings = [line for text in md for line in text.splitlines() if line.startswith("## ")]
    assert headings and headings[0] == "## Learning objectives", headings[:2]
    assert headings[-1] == "## Check your understanding", headings[-2:]
    check = md[-1]
    questions = check.count("```{admonition} Answer")
    assert 3 <= questions <= 5 and check.count(":class: dropdown") == questions
    number = chapter.stem.split("_")[0]
    exercises = sorted((REPO / "exercises").glob(f"ex{number}_*.ipynb"))
    if exercises:
        assert any(f"exercises/{e.name}" in text for text in md for e in exercises), \
            f"{chapter.name} does not name its exercise"

"""Every committed notebook is valid nbformat 4.5; chapters open in JupyterLab unmodified and
show their numbers through ``{eval}`` roles that both renderings understand."""

from __future__ import annotations

import ast
import json
import re
import subprocess
from pathlib import Path

import nbformat
import pytest

from course_pkg import book_tools

REPO = Path(__file__).resolve().parents[1]


def _committed(*folders: str) -> list[Path]:
    out = subprocess.run(["git", "ls-files", "-z", "--", *folders], cwd=REPO,
                         capture_output=True, check=True).stdout.decode().split("\0")
    return [REPO / p for p in out if p.endswith(".ipynb")]


NOTEBOOKS = _committed("book", "exercises", "solutions")
CHAPTERS = sorted(p for p in NOTEBOOKS if p.parent == REPO / "book")


def test_notebooks_are_found() -> None:
    assert len(CHAPTERS) >= 13 and any("exercises" in p.parts for p in NOTEBOOKS)
    assert any("masters" in p.parts for p in NOTEBOOKS)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(REPO)))
def test_notebook_validates(path: Path) -> None:
    nb = nbformat.read(path, as_version=nbformat.NO_CONVERT)
    assert (nb.nbformat, nb.nbformat_minor) == (4, 5), "must be nbformat 4.5 (cells carry ids)"
    nbformat.validate(nb)  # raises ValidationError with the offending field
    ids = [c.id for c in nb.cells]
    assert len(set(ids)) == len(ids), "duplicate cell ids"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_chapter_opens_unmodified(path: Path) -> None:
    """JupyterLab writes the kernel's kernelspec and language_info into a notebook when its kernel
    starts; a chapter that already has them is not marked modified on open."""
    meta = json.loads(path.read_text(encoding="utf-8"))["metadata"]
    assert meta["kernelspec"] == book_tools.KERNELSPEC
    info = meta["language_info"]
    assert {"codemirror_mode", "file_extension", "mimetype", "name", "nbconvert_exporter",
            "pygments_lexer", "version"} <= set(info), (
        "run: python -m course_pkg.book_tools lab-metadata " + str(path.relative_to(REPO)))


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_chapter_numbers_use_eval_roles(path: Path) -> None:
    """No glue role is left (JupyterLab cannot show them) and every ``{eval}`` expression is a
    name or an f-string of names, which both book/_ext/course_eval.py and the kernel evaluate."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        src = "".join(cell["source"])
        if cell["cell_type"] == "code":
            assert "from myst_nb import glue" not in src, (
                "use course_pkg.book_tools.glue: run python -m course_pkg.book_tools "
                f"convert-glue {path.relative_to(REPO)}")
            continue
        if cell["cell_type"] != "markdown":
            continue
        left = re.findall(r"\{glue(?::[a-z]+)?\}`[^`]*`", src)
        assert not left, (f"cell {cell['id']}: {left}; run python -m course_pkg.book_tools "
                          f"convert-glue {path.relative_to(REPO)}")
        for expr in re.findall(r"\{eval\}`([^`]+)`", src):
            tree = ast.parse(expr, mode="eval")
            allowed = (ast.Expression, ast.Name, ast.Load, ast.JoinedStr, ast.FormattedValue,
                       ast.Constant)
            assert all(isinstance(n, allowed) for n in ast.walk(tree)), (cell["id"], expr)


def test_convert_glue_rewrites_roles_and_import() -> None:
    nb = {"cells": [
        {"cell_type": "code", "id": "a", "source": ["from myst_nb import glue\n", "x = 1"]},
        {"cell_type": "markdown", "id": "b", "source": [
            "{glue:text}`ch_a:.2f` and {glue:text}`ch_n`,\n", "{glue:md}`ch_m` {glue}`ch_x`"]},
    ]}
    out, changed, problems = book_tools.convert_notebook(nb)
    assert changed == 2 and not problems
    assert out["cells"][0]["source"] == ["from course_pkg.book_tools import glue\n", "x = 1"]
    assert out["cells"][1]["source"] == [
        '{eval}`f"{ch_a:.2f}"` and {eval}`ch_n`,\n', "{eval}`ch_m` {eval}`ch_x`"]
    again, changed, _ = book_tools.convert_notebook(out)  # idempotent
    assert changed == 0 and again == out
    other = {"cells": [{"cell_type": "markdown", "id": "c", "source": ["{glue:text}`doc::k`"]}]}
    assert book_tools.convert_notebook(other)[2], "a cross-document glue must be reported"


def test_forward_references_are_found() -> None:
    nb = {"cells": [
        {"cell_type": "markdown", "id": "m1", "source": ["{eval}`f\"{ch_a:.1f}\"`"]},
        {"cell_type": "code", "id": "c1", "source": ["for k in (1, 2):\n",
                                                     "    glue(f\"ch_{k}\", k)\n",
                                                     "glue('ch_a', 1.0)"]},
        {"cell_type": "markdown", "id": "m2", "source": ["{eval}`ch_a` {eval}`ch_1` {eval}`b`"]},
    ]}
    assert book_tools.forward_references(nb) == ["cell m1: ch_a", "cell m2: b"]


def test_glue_binds_the_kernel_variable_and_rejects_bad_names() -> None:
    from IPython.testing.globalipapp import get_ipython

    shell = get_ipython()
    book_tools.glue("ch_test_value", 0.125)
    assert shell.user_ns["ch_test_value"] == 0.125
    with pytest.raises(ValueError, match="identifier"):
        book_tools.glue("ch-bad name", 1)



def test_count_noun_agrees_with_the_number() -> None:
    import numpy as np
    import torch

    assert book_tools.count_noun(1, "inner step") == "1 inner step"
    assert book_tools.count_noun(0, "point") == "0 points"
    assert book_tools.count_noun(np.int64(5), "point") == "5 points"
    assert book_tools.count_noun(torch.tensor(1), "step") == "1 step"
    assert book_tools.count_noun(2.0, "proximal step") == "2 proximal steps"
    assert book_tools.count_noun(3, "query", "queries") == "3 queries"
    with pytest.raises(ValueError, match="whole number"):
        book_tools.count_noun(1.5, "step")
    with pytest.raises(TypeError, match="bool"):
        book_tools.count_noun(True, "step")

def test_make_workspace_never_overwrites(tmp_path: Path) -> None:
    copied, kept = book_tools.make_workspace(REPO, tmp_path / "ws")
    assert not kept and any(p.name == "07_maml.ipynb" for p in copied)
    assert (tmp_path / "ws" / "exercises" / "tests").is_dir()
    mine = tmp_path / "ws" / "exercises" / "ex07_maml.ipynb"
    mine.write_text("my answers")
    copied, kept = book_tools.make_workspace(REPO, tmp_path / "ws")
    assert not copied and mine in kept and mine.read_text() == "my answers"
    with pytest.raises(FileNotFoundError, match="not the course repository"):
        book_tools.make_workspace(tmp_path)


def test_make_workspace_leaves_git_status_clean(tmp_path: Path) -> None:
    """Everything ``make workspace`` writes (into ``<repo>/workspace/``) is ignored by git."""
    import subprocess

    if not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    copied, _ = book_tools.make_workspace(REPO, tmp_path / "workspace")
    paths = [str(Path("workspace") / p.relative_to(tmp_path / "workspace")) for p in copied]
    assert paths
    done = subprocess.run(["git", "-C", str(REPO), "check-ignore", "--no-index", "--stdin"],
                          input="\n".join(paths), capture_output=True, text=True, check=False)
    ignored = set(done.stdout.split())
    assert ignored == set(paths), sorted(set(paths) - ignored)[:5]


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_chapter_glues_before_prose_uses(path: Path) -> None:
    """JupyterLab (jupyterlab-myst) evaluates a markdown cell's ``{eval}`` roles when that cell
    runs, so with Run All every name must be glued by a code cell *above* the prose using it."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    late = book_tools.forward_references(nb)
    assert late == [], (
        f"{path.relative_to(REPO)}: {{eval}} names used before any code cell above glues them "
        f"(JupyterLab's Run All shows an error there): {late}. Glue each name in a code cell "
        "before the markdown cell (a remove-cell cell, from the static config for settings), or "
        "move the sentence after the cell that computes it; "
        "python -m course_pkg.book_tools check book/*.ipynb lists them.")

"""The learner's JupyterLab copies show citations and page links as the HTML book does."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pytest

from course_pkg import book_references as br
from course_pkg.book_tools import make_workspace

REPO = Path(__file__).resolve().parents[1]
BIB = REPO / "book" / "references.bib"


@pytest.fixture(scope="module")
def refs() -> dict[str, br.Reference]:
    return br.load_references(BIB)


@pytest.fixture(scope="module")
def titles() -> dict[str, tuple[str, str]]:
    return br.page_titles(REPO / "book")


def test_labels_follow_the_author_year_rules(refs) -> None:
    text, cited = br.render_citations(
        "MAML {cite:p}`finn2017maml`; {cite:t}`ravi2017lstm` and {cite}`weng2018metalearning,"
        "kalathil2023metalecture` (ok).", refs)
    assert text == ("MAML \\[Finn *et al.*, 2017\\]; Ravi and Larochelle \\[2017\\] and "
                    "\\[Kalathil, n.d., Weng, 2018\\] (ok).")
    assert cited == ["finn2017maml", "ravi2017lstm", "weng2018metalearning",
                     "kalathil2023metalecture"]


def test_unknown_keys_and_roles_are_named(refs) -> None:
    with pytest.raises(KeyError, match="ch99: no reference nobody2030"):
        br.render_citations("{cite:p}`finn2017maml,nobody2030`", refs, "ch99")
    with pytest.raises(ValueError, match=r"\{cite:year\}"):
        br.render_citations("{cite:year}`finn2017maml`", refs, "ch99")


def test_a_chapter_gets_labels_and_its_reference_list(refs, titles) -> None:
    nb = {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
        {"cell_type": "markdown", "id": "a", "metadata": {},
         "source": ["See {cite:p}`snell2017protonet`\n", "and {cite:t}`finn2017maml`"
                    " ({doc}`07_maml`, {doc}`the symbols <notation>`)."]},
        {"cell_type": "code", "id": "b", "metadata": {}, "outputs": [], "execution_count": None,
         "source": "x = '{cite:p}`finn2017maml`'"}]}
    out = br.chapter_for_lab(nb, refs, titles)
    assert "".join(out["cells"][0]["source"]) == (
        "See \\[Snell *et al.*, 2017\\]\nand Finn *et al.* \\[2017\\] ([Model-agnostic "
        "meta-learning (MAML)](07_maml.ipynb), [the symbols](notation.md)).")
    assert out["cells"][1]["source"] == nb["cells"][1]["source"]  # code is left alone
    last = "".join(out["cells"][-1]["source"])
    assert out["cells"][-1]["metadata"]["tags"] == [br.REFERENCES_TAG]
    assert last.index("**Finn *et al.*, 2017.**") < last.index("**Snell *et al.*, 2017.**")
    assert "Prototypical networks" in last and "{cite" not in last
    assert "[Bibliography](bibliography.md)" in last
    assert len(nb["cells"]) == 2  # the input is not modified


def test_unknown_page_is_named(titles) -> None:
    with pytest.raises(KeyError, match="ch99: .*'14_nothing'"):
        br.link_documents("see {doc}`14_nothing`", titles, "ch99")


def test_the_bibliography_page_lists_every_reference(refs, titles) -> None:
    page = br.page_for_lab((REPO / "book" / "bibliography.md").read_text(), refs, titles)
    assert "{bibliography}" not in page
    assert page.count("\n- **") == len(refs)


PAGES = sorted(p.name for p in (REPO / "book").iterdir()
               if p.suffix in {".ipynb", ".md"} and "{cite" in p.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    ws = tmp_path_factory.mktemp("ws")
    make_workspace(REPO, ws)
    return ws


def test_pages_with_citations_are_found() -> None:
    assert {"intro.md", "07_maml.ipynb"} <= set(PAGES) and len(PAGES) >= 10


@pytest.mark.parametrize("name", PAGES)
def test_workspace_labels_equal_the_html_books(workspace, name) -> None:
    """Every label written into the workspace copy appears, as text, on the built HTML page."""
    from browser_utils import require_build

    page = require_build() / "book" / (Path(name).stem + ".html")
    shown = " ".join(html.unescape(re.sub(r"<[^>]+>", "", page.read_text())).split())
    copy = workspace / "book" / name
    text = copy.read_text(encoding="utf-8")
    if name.endswith(".ipynb"):
        cells = json.loads(text)["cells"]
        text = "\n".join("".join(c["source"]) for c in cells
                         if c["cell_type"] == "markdown"
                         and br.REFERENCES_TAG not in c["metadata"].get("tags", []))
    assert "{cite" not in text
    labels = [m.replace("*", "") for m in re.findall(r"\\\[(.*?)\\\]", text)]
    assert labels, f"no citation in {name}"
    for label in labels:
        assert f"[{label}]" in shown, f"{name}: [{label}] is not on {page.name}"
    assert "{doc}" not in text
    for title in re.findall(r"\[([^\]]+)\]\([\w.-]+\.(?:ipynb|md)\)", text):
        if "$" not in title:  # the book shows math in a title as \( \)
            assert title.replace("*", "") in shown, f"{name}: link {title!r} not on {page.name}"


def test_book_prose_does_not_repeat_the_authors_before_a_parenthetical_citation(refs) -> None:
    """'Finn et al. {cite:p}`finn2017maml`' prints 'Finn et al. [Finn et al., 2017]': use cite:t."""
    bad = []
    role = re.compile(r"([\w-]+)(?: et al\.| and [\w-]+)? \{cite(?::p|:ps)?\}`([^`,]+)")
    for path in sorted((REPO / "book").glob("*.ipynb")) + sorted((REPO / "book").glob("*.md")):
        for m in role.finditer(path.read_text(encoding="utf-8")):
            surname = refs[m.group(2).strip()].authors.split()[0]
            if m.group(1) == surname:
                bad.append(f"{path.name}: {m.group(0)}")
    assert not bad, bad


def test_workspace_chapters_validate_and_keep_their_code(workspace) -> None:
    """The rewritten copies are valid notebooks whose code cells are the book's, byte for byte."""
    import nbformat

    for src in sorted((REPO / "book").glob("*.ipynb")):
        copy = nbformat.read(workspace / "book" / src.name, as_version=nbformat.NO_CONVERT)
        nbformat.validate(copy)
        original = json.loads(src.read_text(encoding="utf-8"))
        code = [c["source"] for c in original["cells"] if c["cell_type"] == "code"]
        assert [c.source for c in copy.cells if c.cell_type == "code"] == [
            "".join(s) if isinstance(s, list) else s for s in code], src.name
        assert copy.metadata == original["metadata"], src.name


def test_citation_label_is_the_books_plain_label() -> None:
    """A table cell shows the label the book prints for a citation, without markdown."""
    from course_pkg.book_references import citation_label

    assert citation_label("finn2017maml") == "Finn et al., 2017"
    assert citation_label("nichol2018reptile") == "Nichol et al., 2018"
    with pytest.raises(KeyError, match="no reference 'nosuch2020'"):
        citation_label("nosuch2020")

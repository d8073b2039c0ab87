"""``book/exercises.md`` lists every exercise in words, so it reads in JupyterLab as in the book.

jupyterlab-myst shows a ``{tableofcontents}`` directive as raw text; the page instead links each
exercise with a ``{doc}`` role: the HTML book resolves it to the generated page
(``book/_ext/course_exercises.py``), the workspace copy (``make workspace``) to the notebook in
``exercises/``. The book's sidebar still comes from ``_toc.yml``'s glob.
"""

from __future__ import annotations

import re
from pathlib import Path

from course_pkg import book_tools
from course_pkg.book_references import load_references, page_for_lab

REPO = Path(__file__).resolve().parents[1]
PAGE = REPO / "book" / "exercises.md"
STEMS = sorted(p.stem for p in (REPO / "exercises").glob("ex*.ipynb"))


def test_the_page_lists_every_exercise_once_in_order() -> None:
    text = PAGE.read_text(encoding="utf-8")
    assert "{tableofcontents}" not in text, "JupyterLab shows the directive as raw text"
    listed = re.findall(r"\{doc\}`exercises/([^`]+)`", text)
    assert len(STEMS) >= 12
    assert listed == STEMS, "book/exercises.md: one {doc}`exercises/<name>` line per notebook"


def test_the_sidebar_still_lists_the_generated_pages() -> None:
    toc = (REPO / "_toc.yml").read_text(encoding="utf-8")
    assert re.search(r"- file: book/exercises\n\s+sections:\n\s+- glob: book/exercises/\*", toc)


def test_the_workspace_copy_links_the_notebooks_with_their_titles() -> None:
    titles = book_tools.lab_titles(REPO)
    refs = load_references(REPO / "book" / "references.bib")
    copy = page_for_lab(PAGE.read_text(encoding="utf-8"), refs, titles, where=str(PAGE))
    assert "{doc}" not in copy
    links = re.findall(r"\[([^\]]+)\]\((\.\./exercises/[^)]+)\)", copy)
    assert [Path(target).stem for _, target in links] == STEMS
    for title, target in links:
        assert title.startswith("Exercise "), title
        # workspace/book/exercises.md -> workspace/exercises/<name>.ipynb (make_workspace)
        assert (REPO / "book" / target).resolve() == (REPO / "exercises" / Path(target).name)
        assert (REPO / "exercises" / Path(target).name).is_file()

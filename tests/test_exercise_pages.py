"""Each exercise has a page in the HTML book: the learner's version (no solution), with a link
that downloads the notebook as ``exercises/`` holds it (``book/_ext/course_exercises.py``)."""

from __future__ import annotations

import html
import json
import re

import pytest
from browser_utils import REPO

EXERCISES = sorted(p.stem for p in (REPO / "exercises").glob("ex*.ipynb"))


def _text(page: str) -> str:
    body = re.sub(r"<script.*?</script>|<style.*?</style>", " ", page, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", "", body))


def _solution_lines(name: str) -> list[str]:
    """Lines of the solved notebook's answer cells that the learner's version does not have."""
    ex = json.loads((REPO / "exercises" / f"{name}.ipynb").read_text(encoding="utf-8"))
    sol_path = REPO / "solutions" / f"{name}.ipynb"
    if not sol_path.is_file():
        return []
    sol = json.loads(sol_path.read_text(encoding="utf-8"))
    learner = "\n".join("".join(c["source"]) for c in ex["cells"])
    return [line.strip() for c in sol["cells"] if c["cell_type"] == "code"
            for line in "".join(c["source"]).splitlines()
            if len(line.strip()) >= 12 and line.strip() not in learner]


@pytest.mark.parametrize("name", EXERCISES)
def test_exercise_page(name, html_root):
    page_path = html_root / "book" / "exercises" / f"{name}.html"
    assert page_path.is_file(), f"no HTML page for exercises/{name}.ipynb ({page_path})"
    page = page_path.read_text(encoding="utf-8")
    nb = json.loads((REPO / "exercises" / f"{name}.ipynb").read_text(encoding="utf-8"))
    title = next(line for c in nb["cells"] if c["cell_type"] == "markdown"
                 for line in "".join(c["source"]).splitlines() if line.startswith("# "))
    text = _text(page)
    assert title[2:].strip() in text, f"{name}: the page lacks the title {title!r}"
    # the download link gives the notebook itself
    links = re.findall(r'href="([^"]+\.ipynb)"', page)
    downloads = [link for link in links if "_downloads/" in link]
    assert downloads, f"{name}: no download link to the notebook ({links})"
    file = (page_path.parent / downloads[0]).resolve()
    assert file.read_bytes() == (REPO / "exercises" / f"{name}.ipynb").read_bytes()
    # the learner's version: every question, no solution
    n_q = sum("grader.check(" in "".join(c["source"]) for c in nb["cells"])
    assert text.count("grader.check(") >= n_q > 0, name
    leaked = [line for line in _solution_lines(name) if line in text]
    assert not leaked, f"{name}: the page shows solution code: {leaked[:3]}"


def test_the_pages_are_in_the_navigation(html_root):
    index = (html_root / "book" / "intro.html").read_text(encoding="utf-8")
    for name in EXERCISES:
        assert f"exercises/{name}.html" in index, f"{name} is not in the book's navigation"


def test_no_page_for_a_removed_exercise(html_root):
    pages = {p.stem for p in (html_root / "book" / "exercises").glob("*.html")}
    assert pages <= set(EXERCISES), f"pages of removed exercises: {pages - set(EXERCISES)}"

"""The opt-in online build: launch links to the learner's copies on chapter and exercise pages.

- ``make book`` stays offline: its recipe sets no COURSE_ONLINE, ``_config.yml`` keeps the
  theme's launch buttons off, and the built book (when there is one) has no launch link;
- the settings are validated (a missing or malformed address stops the build);
- slow: a scratch book (one chapter, one exercise page, the real ``_config.yml``'s extensions and
  static files) built with ``make book-online``, the recipe instructors use; its pages carry links
  that open ``learner/book/<chapter>.ipynb`` and ``learner/exercises/<exercise>.ipynb`` through
  nbgitpuller on the hub and on Binder.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import urllib.parse
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
STAMP = ".venv/.course-installed"
STAMP_NAME = ".course-installed"
sys.path.insert(0, str(REPO / "book" / "_ext"))

from course_launch import online_settings, page_links  # noqa: E402

HUB = "https://hub.example.edu"
BINDER = "https://mybinder.example.org"
RELEASE = "https://github.com/example-course/learning-to-learn-student"


def test_make_book_stays_offline() -> None:
    out = subprocess.run(["make", "-n", "-o", STAMP, "book"], cwd=REPO, capture_output=True,
                         text=True, check=True).stdout
    assert "COURSE_ONLINE" not in out
    config = yaml.safe_load((REPO / "_config.yml").read_text())
    assert not any(config["launch_buttons"].get(k) for k in
                   ("binderhub_url", "jupyterhub_url", "colab_url", "notebook_interface"))
    assert "course_launch" in config["sphinx"]["config"]["extensions"]
    online = subprocess.run(["make", "-n", "-o", STAMP, "book-online", f"REPO_URL={RELEASE}",
                             f"HUB_URL={HUB}"], cwd=REPO, capture_output=True, text=True,
                            check=True).stdout
    assert "COURSE_ONLINE=1" in online and f'COURSE_REPO_URL="{RELEASE}"' in online
    assert "jupyter-book build" in online, "book-online must run the book recipe itself"


def test_offline_build_has_no_launch_links() -> None:
    html = REPO / "_build" / "html" / "book" / "07_maml.html"
    if not html.is_file():
        pytest.skip("the book is not built (make book)")
    text = html.read_text()
    assert "course-launch" not in text and "git-pull?" not in text


def test_settings_are_validated() -> None:
    assert online_settings({}) is None
    assert online_settings({"COURSE_ONLINE": "0", "COURSE_REPO_URL": RELEASE}) is None
    from sphinx.errors import ConfigError

    with pytest.raises(ConfigError, match="COURSE_REPO_URL"):
        online_settings({"COURSE_ONLINE": "1", "COURSE_JUPYTERHUB_URL": HUB})
    with pytest.raises(ConfigError, match="JUPYTERHUB_URL and/or"):
        online_settings({"COURSE_ONLINE": "1", "COURSE_REPO_URL": RELEASE})
    with pytest.raises(ConfigError, match="must start with https://"):
        online_settings({"COURSE_ONLINE": "1", "COURSE_REPO_URL": RELEASE,
                         "COURSE_BINDERHUB_URL": "mybinder.org"})
    s = online_settings({"COURSE_ONLINE": "1", "COURSE_REPO_URL": RELEASE,
                         "COURSE_JUPYTERHUB_URL": HUB})
    assert s["COURSE_BRANCH"] == "main"
    assert page_links("book/07_maml", s)[0][1].endswith("learner%2Fbook%2F07_maml.ipynb")
    assert page_links("book/exercises/ex07_maml", s)[0][1].endswith(
        "learner%2Fexercises%2Fex07_maml.ipynb")
    assert page_links("bibliography", s) == []


def _nb(cells: list[tuple[str, str]]) -> str:
    return json.dumps({
        "cells": [{"cell_type": t, "id": f"c{i}", "metadata": {}, "source": [src],
                   **({"execution_count": None, "outputs": []} if t == "code" else {})}
                  for i, (t, src) in enumerate(cells)],
        "metadata": {"kernelspec": {"display_name": "Python 3 (course)", "language": "python",
                                    "name": "python3"}},
        "nbformat": 4, "nbformat_minor": 5})


def _scratch_book(root: Path) -> None:
    """One chapter and one exercise page with the course's configuration and book/ assets."""
    real = yaml.safe_load((REPO / "_config.yml").read_text())
    real["title"] = "Scratch online book"
    (root / "_config.yml").write_text(yaml.safe_dump(real, sort_keys=False))
    (root / "_toc.yml").write_text(yaml.safe_dump({
        "format": "jb-book", "root": "book/intro",
        "parts": [{"caption": "Chapters", "numbered": True,
                   "chapters": [{"file": "book/01_scratch"}]},
                  {"caption": "Exercises", "chapters": [{"file": "book/exercises/ex01_scratch"}]}],
    }, sort_keys=False))
    book = root / "book"
    for folder in ("_ext", "_static", "_templates"):
        shutil.copytree(REPO / "book" / folder, book / folder,
                        ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "book" / "references.bib", book / "references.bib")
    (book / "intro.md").write_text("# Scratch online book\n\nThe start page.\n")
    (book / "01_scratch.ipynb").write_text(_nb([("markdown", "# Scratch chapter\n"),
                                                ("code", "print('chapter ran')")]))
    exercise = _nb([("markdown", "# Exercise: scratch\n"), ("code", "x = ...")])
    (root / "exercises").mkdir()
    (root / "exercises" / "ex01_scratch.ipynb").write_text(exercise)
    (book / "exercises").mkdir()
    (book / "exercises" / "ex01_scratch.ipynb").write_text(exercise)


def _links(html: str) -> list[str]:
    return [urllib.parse.unquote(m.replace("&amp;", "&")) for m in
            re.findall(r'<a class="[^"]*course-launch-link[^"]*" href="([^"]+)"', html)]


@pytest.mark.slow
def test_online_build_links_every_page_to_the_learner_copy(tmp_path: Path) -> None:
    if not (REPO / ".venv" / "bin" / "jupyter-book").exists():
        pytest.skip("no .venv with jupyter-book (run `make setup`)")
    root = tmp_path / "scratch"
    root.mkdir()
    _scratch_book(root)
    env = {k: v for k, v in os.environ.items() if not k.startswith("COURSE_")}
    # run from the scratch folder (the course's .venv named absolutely), so that whatever the
    # book's extensions write relative to the working folder stays in the scratch book
    venv = REPO / ".venv"
    run = subprocess.run(["make", "-f", str(REPO / "Makefile"), "-o", str(venv / STAMP_NAME),
                          f"VENV={venv}", "book-online", f"BOOK_SRC={root}",
                          f"REPO_URL={RELEASE}", f"HUB_URL={HUB}", f"BINDER_URL={BINDER}"],
                         cwd=root, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
    html = root / "_build" / "html"
    chapter = _links((html / "book" / "01_scratch.html").read_text())
    exercise = _links((html / "book" / "exercises" / "ex01_scratch.html").read_text())
    assert len(chapter) == 2 and len(exercise) == 2, (chapter, exercise)
    hub, binder = chapter
    assert hub.startswith(f"{HUB}/hub/user-redirect/git-pull?repo={RELEASE}")
    assert "urlpath=lab/tree/learning-to-learn-student/learner/book/01_scratch.ipynb" in hub
    assert binder.startswith(f"{BINDER}/v2/gh/example-course/learning-to-learn-student/main")
    assert binder.endswith("urlpath=lab/tree/learner/book/01_scratch.ipynb")
    assert "learner/exercises/ex01_scratch.ipynb" in exercise[0]
    assert "learner/exercises/ex01_scratch.ipynb" in exercise[1]
    assert _links((html / "book" / "intro.html").read_text()) == [], "a .md page got links"

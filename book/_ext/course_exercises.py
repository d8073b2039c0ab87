"""Sphinx extension: an HTML page for every exercise, the learner's version, with a download link.

At ``config-inited`` (before ``sphinx_external_toc`` reads ``_toc.yml``, whose "Exercises" part
globs ``book/exercises/*``) each ``exercises/ex*.ipynb`` of the tree being built is copied into
the git-ignored ``book/exercises/`` as a page:

- the learner's notebook as ``exercises/`` holds it (generated from the masters by
  ``make exercises``; no solutions), outputs removed, never executed (``mystnb.execution_mode:
  off``: the ``...`` placeholders are the learner's to fill);
- links back to the chapter point at the chapter's page;
- under the title, a download link to the untouched notebook (a copy in
  ``book/exercise_downloads/``, not a page) and how to grade it.

Stale pages (an exercise removed from ``exercises/``) are deleted, so the pages always match
``exercises/`` at build time.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

PAGES = Path("book") / "exercises"
DOWNLOADS = Path("book") / "exercise_downloads"


def _note(name: str) -> dict[str, Any]:
    text = (
        ":::{admonition} Work on this exercise in JupyterLab\n"
        ":class: tip\n"
        f"{{download}}`Download the notebook {name}.ipynb <../exercise_downloads/{name}.ipynb>`"
        " and open it in JupyterLab with the course kernel (`make lab` opens your copy "
        f"`workspace/exercises/{name}.ipynb`). This page shows the questions only: fill in every "
        "`...`, check a question with `grader.check(\"q1\")`, and grade the whole notebook with "
        f"`make grade NB=workspace/exercises/{name}.ipynb`.\n"
        ":::\n"
    )
    return {"cell_type": "markdown", "metadata": {}, "source": text.splitlines(keepends=True)}


def page_from_exercise(nb: dict[str, Any], name: str) -> dict[str, Any]:
    """The page notebook of exercise ``name`` (a new dict; ``nb`` is not changed)."""
    nb = json.loads(json.dumps(nb))
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            cell["outputs"], cell["execution_count"] = [], None
        elif cell["cell_type"] == "markdown":
            src = "".join(cell["source"]).replace("](../book/", "](../")
            cell["source"] = src.splitlines(keepends=True)
    first_md = next((i for i, c in enumerate(nb["cells"]) if c["cell_type"] == "markdown"), -1)
    nb["cells"].insert(first_md + 1, _note(name))
    nb.setdefault("metadata", {})["mystnb"] = {"execution_mode": "off"}
    return nb


def write_pages(root: Path) -> list[str]:
    """(Re)write ``book/exercises/*.ipynb`` and the downloads from ``root/exercises``; returns
    the page names written."""
    src, pages, downloads = root / "exercises", root / PAGES, root / DOWNLOADS
    for d in (pages, downloads):
        if d.exists():
            shutil.rmtree(d)
        d.mkdir(parents=True)
    names = []
    for path in sorted(src.glob("ex*.ipynb")):
        nb = json.loads(path.read_text(encoding="utf-8"))
        (pages / path.name).write_text(json.dumps(page_from_exercise(nb, path.stem), indent=1,
                                                  ensure_ascii=False) + "\n", encoding="utf-8")
        shutil.copyfile(path, downloads / path.name)
        names.append(path.stem)
    return names


def _on_config_inited(app: Any, config: Any) -> None:
    write_pages(Path(app.srcdir))


def setup(app: Any) -> dict[str, Any]:
    app.connect("config-inited", _on_config_inited, priority=100)
    return {"parallel_read_safe": True, "parallel_write_safe": True}

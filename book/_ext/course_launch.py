"""Sphinx extension: launch links on chapter and exercise pages, in the online build only.

The book is built offline by default (``make book``: no launch buttons, no external links; a
test checks it). ``make book-online`` sets ``COURSE_ONLINE=1`` and the class's addresses:

- ``COURSE_REPO_URL``: the student release's git URL (``make release``, then published);
- ``COURSE_JUPYTERHUB_URL``: the class's JupyterHub (links through nbgitpuller), and/or
- ``COURSE_BINDERHUB_URL``: a BinderHub (e.g. ``https://mybinder.org``);
- ``COURSE_BRANCH``: the release's branch (default ``main``).

Each chapter page (a notebook under ``book/``) and each exercise page (``book/exercises/``) then
starts with "Run this page" links that open the learner's copy of that page in JupyterLab
(``learner/book/<chapter>.ipynb``, ``learner/exercises/<exercise>.ipynb``: the converted copies
of :mod:`course_pkg.classroom.links`), never the raw sources. A missing or malformed address is
a configuration error that stops the build.
"""

from __future__ import annotations

import os
from typing import Any

from docutils import nodes
from sphinx.errors import ConfigError

ENV_KEYS = ("COURSE_REPO_URL", "COURSE_JUPYTERHUB_URL", "COURSE_BINDERHUB_URL", "COURSE_BRANCH")


def online_settings(environ: dict[str, str] | os._Environ) -> dict[str, str] | None:
    """The online build's addresses from ``environ``, ``None`` for the offline build.

    Raises ``ConfigError`` when ``COURSE_ONLINE=1`` but the addresses are missing or malformed."""
    if environ.get("COURSE_ONLINE", "").strip() not in ("1", "true", "yes"):
        return None
    s = {k: environ.get(k, "").strip() for k in ENV_KEYS}
    s["COURSE_BRANCH"] = s["COURSE_BRANCH"] or "main"
    if not s["COURSE_REPO_URL"]:
        raise ConfigError("COURSE_ONLINE=1 needs COURSE_REPO_URL (the student release's git URL)")
    if not (s["COURSE_JUPYTERHUB_URL"] or s["COURSE_BINDERHUB_URL"]):
        raise ConfigError("COURSE_ONLINE=1 needs COURSE_JUPYTERHUB_URL and/or "
                          "COURSE_BINDERHUB_URL")
    for key in ("COURSE_JUPYTERHUB_URL", "COURSE_BINDERHUB_URL"):
        if s[key] and not s[key].startswith(("https://", "http://")):
            raise ConfigError(f"{key}={s[key]!r} must start with https:// or http://")
    return s


def page_links(docname: str, s: dict[str, str]) -> list[tuple[str, str]]:
    """``[(label, url)]`` for a page, empty for pages without a learner copy."""
    from course_pkg.classroom.links import binder_link, nbgitpuller_link

    if docname.startswith("book/exercises/"):
        page = f"exercises/{docname.rsplit('/', 1)[1]}.ipynb"
    elif docname.startswith("book/") and docname.count("/") == 1:
        page = f"{docname}.ipynb"
    else:
        return []
    out = []
    if s["COURSE_JUPYTERHUB_URL"]:
        out.append(("Open in the class JupyterHub",
                    nbgitpuller_link(s["COURSE_JUPYTERHUB_URL"], s["COURSE_REPO_URL"], page,
                                     s["COURSE_BRANCH"])))
    if s["COURSE_BINDERHUB_URL"]:
        out.append(("Open on Binder", binder_link(s["COURSE_BINDERHUB_URL"],
                                                  s["COURSE_REPO_URL"], page,
                                                  s["COURSE_BRANCH"])))
    return out


def _config_inited(app: Any, config: Any) -> None:
    app.env_course_launch = online_settings(os.environ)  # validated before anything is read


def _add_links(app: Any, doctree: nodes.document, docname: str) -> None:
    s = getattr(app, "env_course_launch", None)
    if not s or not str(app.env.doc2path(docname)).endswith(".ipynb"):
        return
    links = page_links(docname, s)
    sections = [n for n in doctree.children if isinstance(n, nodes.section)]
    if not links or not sections:
        return
    para = nodes.paragraph()
    para += nodes.strong(text="Run this page: ")
    for i, (label, url) in enumerate(links):
        if i:
            para += nodes.Text(" · ")
        para += nodes.reference("", label, refuri=url, classes=["course-launch-link"])
    box = nodes.container(classes=["course-launch"])
    box += para
    sections[0].insert(1, box)  # right under the page title


def setup(app: Any) -> dict[str, Any]:
    app.connect("config-inited", _config_inited)
    app.connect("doctree-resolved", _add_links)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1"}

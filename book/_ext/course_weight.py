"""Sphinx extension: pages ship what they use (page weight).

- Interactive figures: each static figure's cell output carries its styles and ES module inline
  (self-contained, for JupyterLab and tests). On every page this extension moves them into shared
  files in ``_static/cviz/`` and references each once (:func:`course_pkg.viz.embed.externalize`):
  a page with two figures loads the figures' helpers once, not one inlined copy per figure, and
  the browser caches them from page to page.
- Icons: the theme's ``fontawesome.js`` (1.5 MB + a 1.7 MB source map) is no longer loaded
  (book/_templates/static/webpack-macros.html; the icons come from book/_static/course-icons.css),
  so it is removed from the build; so are the theme CSS's 1 881 rules naming the glyph of every
  Font Awesome icon class (86 kB of its 397 kB; the classes the pages use are drawn by
  course-icons.css).

tests/test_page_weight.py checks both on the built book.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from sphinx.application import Sphinx
from sphinx.errors import ExtensionError

from course_pkg.viz.embed import externalize

#: Files of the theme that no page loads any more (relative to the output folder).
UNUSED = ("_static/scripts/fontawesome.js", "_static/scripts/fontawesome.js.map",
          "_static/scripts/fontawesome.js.LICENSE.txt")


THEME_CSS = "_static/styles/pydata-sphinx-theme.css"
#: A rule of Font Awesome's icon table: only ``.fa-<name>:before`` selectors, only a ``content``.
FA_ICON_RULE = re.compile(r'(?<=\})(?:\.fa-[a-z0-9-]+:{1,2}(?:before|after),?)+\{content:"[^"]*"\}')


def trim_theme_css(css: str) -> str:
    """The theme's CSS without Font Awesome's icon table (and its stale source-map comment)."""
    out = FA_ICON_RULE.sub("", css)
    if out.count("{") != out.count("}") or ".bd-header" not in out:
        raise ExtensionError("course_weight: trimming the theme's CSS went wrong")
    return re.sub(r"/\*# sourceMappingURL=[^*]*\*/\s*$", "", out)


def _externalize_figures(app: Sphinx, pagename: str, templatename: str,
                         context: dict[str, Any], doctree: Any) -> None:
    body = context.get("body")
    if not body or "data-cviz-module=" not in body:
        return
    folder = context["pathto"]("_static/cviz", 1)
    body, files = externalize(body, folder)
    out = Path(app.outdir) / "_static" / "cviz"
    out.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        path = out / name
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
    context["body"] = body


def _remove_unused(app: Sphinx, exception: Exception | None) -> None:
    if exception is not None or app.builder.format != "html":
        return
    for rel in UNUSED:
        (Path(app.outdir) / rel).unlink(missing_ok=True)
    css = Path(app.outdir) / THEME_CSS
    if css.is_file():
        css.write_text(trim_theme_css(css.read_text(encoding="utf-8")), encoding="utf-8")
        css.with_name(css.name + ".map").unlink(missing_ok=True)


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("html-page-context", _externalize_figures)
    app.connect("build-finished", _remove_unused)
    return {"parallel_read_safe": True, "parallel_write_safe": True}

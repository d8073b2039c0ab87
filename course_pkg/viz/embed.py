"""How a static figure's scripts and styles reach a page: inline once per figure, or shared files.

A static figure (:class:`course_pkg.viz._base.StaticFigure`) is a self-contained snippet: its
state as JSON inside the figure's ``<div>``, then :func:`inline_assets` — the shared styles in a
``<style data-cviz-css="viz-<hash>.css">`` and the figure's ES module (``common.js`` + the
figure's ``<kind>.js`` + a call to ``cvMountAll``) in a ``<script type="module"
data-cviz-module="<kind>-<hash>.js">``. That snippet works anywhere (a notebook opened in
JupyterLab, a test page), but a page with two figures would carry the same ~30 KB of script twice.

The HTML book therefore rewrites each page once (``book/_ext/course_weight.py`` calls
:func:`externalize`): every marked style and module becomes one reference to a file in
``_static/cviz/`` named by a hash of its content — ``viz-<hash>.css``, ``<kind>-<hash>.js`` (the
figure's code, importing the shared helpers) and ``common-<hash>.js`` (the helpers, loaded once
per page and cached across pages) — and the later copies on the page are dropped.
"""

from __future__ import annotations

import hashlib
import json
import re
from functools import cache
from importlib import resources

from course_pkg.viz.palette import METHOD_COLORS

#: Top-level declarations of common.js (the names a figure's module imports from it).
_DECL = re.compile(r"^(?:async\s+)?(?:function\*?|class|const|let|var)\s+([A-Za-z_$][\w$]*)", re.M)
_CSS_TAG = re.compile(r'<style data-cviz-css="([\w.-]+)">(.*?)</style>\n?', re.S)
_MODULE_TAG = re.compile(r'<script type="module" data-cviz-module="([\w.-]+)">\n?(.*?)</script>\n?',
                         re.S)


@cache
def _asset(name: str) -> str:
    return resources.files("course_pkg.viz").joinpath("static", name).read_text(encoding="utf-8")


def common_source() -> str:
    """The helpers every figure's module starts with: the method colours of
    :mod:`course_pkg.viz.palette` (``CV_METHOD_COLORS``), then ``common.js``."""
    colors = "const CV_METHOD_COLORS = " + json.dumps(METHOD_COLORS, sort_keys=True) + ";\n"
    return colors + _asset("common.js")


def figure_source(kind: str) -> str:
    """The figure's own code, ``static/<kind>.js`` (``render`` and ``staticCompute``)."""
    return _asset(f"{kind}.js")


def esm_source(kind: str) -> str:
    """The ES module of figure ``kind`` (the live widget's ``_esm``): :func:`common_source`,
    then ``<kind>.js``."""
    return common_source() + "\n// ---- figure: " + kind + "\n" + figure_source(kind)


def css_source() -> str:
    """The styles shared by every figure (``static/viz.css``)."""
    return _asset("viz.css")


def _digest(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()[:12]


def _mount(kind: str) -> str:
    return f"cvMountAll({json.dumps(kind)}, render, staticCompute);\n"


def module_source(kind: str) -> str:
    """The inline module of figure ``kind``: helpers, figure code, then mount its figures."""
    return esm_source(kind) + "\n" + _mount(kind)


def css_name() -> str:
    """File name of the shared figure styles (``viz-<hash>.css``)."""
    return f"viz-{_digest(css_source())}.css"


def module_name(kind: str) -> str:
    """File name of figure ``kind``'s module (``<kind>-<hash of its inline module>.js``)."""
    return f"{kind}-{_digest(module_source(kind))}.js"


def inline_assets(kind: str) -> str:
    """The figure's styles and module as inline, marked tags (see the module docstring)."""
    return (f'<style data-cviz-css="{css_name()}">{css_source()}</style>\n'
            f'<script type="module" data-cviz-module="{module_name(kind)}">\n'
            f"{module_source(kind)}</script>\n")


def split_module(kind: str, body: str) -> tuple[str, str] | None:
    """``(helpers, figure code + mount)`` of an inline module of figure ``kind``, or ``None`` when
    ``body`` is not one (no single ``// ---- figure: <kind>`` line, no mount at its end)."""
    marker = f"\n// ---- figure: {kind}\n"
    if body.count(marker) != 1:
        return None
    common, figure = body.split(marker)
    if not figure.rstrip().endswith(_mount(kind).strip()):
        return None
    return common, figure


def module_files(kind: str, body: str) -> dict[str, str] | None:
    """``{file name: text}`` replacing the inline module ``body`` of figure ``kind``: the helpers
    as ``common-<hash>.js`` (exporting their top-level names) and the figure's code as
    ``<kind>-<hash>.js`` importing them; ``None`` when ``body`` is not such a module.

    The module is split rather than rebuilt from this package, because the kernel that ran a
    chapter may have registered more method colours (``CV_METHOD_COLORS``) than this process."""
    parts = split_module(kind, body)
    if parts is None:
        return None
    common, figure = parts
    names = ", ".join(sorted(set(_DECL.findall(common))))
    common_file = f"common-{_digest(common)}.js"
    importer = f'import {{ {names} }} from "./{common_file}";\n'
    return {common_file: common + f"\nexport {{ {names} }};\n",
            f"{kind}-{_digest(body)}.js": importer + figure}


def externalize(html: str, static_url: str) -> tuple[str, dict[str, str]]:
    """Replace the inline figure tags of one page's ``html`` by references to shared files.

    ``static_url`` is the folder the files will be served from, relative to the page (e.g.
    ``"../_static/cviz"``). Returns the new HTML (each style and module referenced once, later
    copies dropped) and ``{file name: text}`` to write into that folder. A marked module that is
    not one of this package's (see :func:`split_module`) stays inline.
    """
    files: dict[str, str] = {}
    seen: set[str] = set()

    def css(m: re.Match[str]) -> str:
        body = m.group(2)
        name = f"viz-{_digest(body)}.css"
        if name in seen:
            return ""
        seen.add(name)
        files[name] = body
        return f'<link rel="stylesheet" href="{static_url}/{name}">\n'

    def module(m: re.Match[str]) -> str:
        kind, body = m.group(1).rsplit("-", 1)[0], m.group(2)
        made = module_files(kind, body)
        if made is None:
            return m.group(0)
        name = f"{kind}-{_digest(body)}.js"
        if name in seen:
            return ""
        seen.add(name)
        files.update(made)
        return f'<script type="module" src="{static_url}/{name}"></script>\n'

    out = _MODULE_TAG.sub(module, _CSS_TAG.sub(css, html))
    return out, files

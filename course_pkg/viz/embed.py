"""How a static figure's scripts and styles reach a page: inline once per figure, or shared files.

A static figure (:class:`course_pkg.viz._base.StaticFigure`) is a self-contained snippet: its
state as JSON inside the figure's ``<div>``, then :func:`inline_assets` — the shared styles in a
``<style data-cviz-css="viz-<hash>.css">`` and the figure's ES module (``common.js`` + the
figure's ``<kind>.js`` + a call to ``cvMountAll``) in a ``<script type="module"
data-cviz-module="<kind>-<hash>.js">``. That snippet works anywhere (a notebook opened in
JupyterLab, a test page), but a page with two figures would carry the same ~30 KB of script twice.

The HTML book therefore rewrites each page once (``book/_ext/course_weight.py`` calls
:func:`externalize`): every marked style and module whose content is exactly what this package
produces becomes one reference to a file in ``_static/cviz/`` — ``viz-<hash>.css``,
``<kind>-<hash>.js`` (importing the shared helpers) and ``common-<hash>.js`` (the helpers, loaded
once per page and cached across pages) — and the later copies on the page are dropped. Content
from another version of the package is left inline, untouched.
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


def common_name() -> str:
    """File name of the shared helpers' module (``common-<hash>.js``)."""
    return f"common-{_digest(common_source())}.js"


def common_exports() -> list[str]:
    """Names declared at the top level of the helpers (colours + ``common.js``)."""
    return sorted(set(_DECL.findall(common_source())))


def inline_assets(kind: str) -> str:
    """The figure's styles and module as inline, marked tags (see the module docstring)."""
    return (f'<style data-cviz-css="{css_name()}">{css_source()}</style>\n'
            f'<script type="module" data-cviz-module="{module_name(kind)}">\n'
            f"{module_source(kind)}</script>\n")


def asset_files(kind: str) -> dict[str, str]:
    """``{file name: text}`` of the shared files that replace figure ``kind``'s inline tags."""
    names = ", ".join(common_exports())
    return {
        css_name(): css_source(),
        common_name(): common_source() + f"\nexport {{ {names} }};\n",
        module_name(kind): (f'import {{ {names} }} from "./{common_name()}";\n'
                            + figure_source(kind) + "\n" + _mount(kind)),
    }


def externalize(html: str, static_url: str) -> tuple[str, dict[str, str]]:
    """Replace the inline figure tags of one page's ``html`` by references to shared files.

    ``static_url`` is the folder the files will be served from, relative to the page (e.g.
    ``"../_static/cviz"``). Returns the new HTML (each style and module referenced once, later
    copies dropped) and ``{file name: text}`` to write into that folder. Tags whose content is not
    exactly this package's current output stay inline.
    """
    kinds = {module_name(k): k for k in _kinds_in(html)}
    files: dict[str, str] = {}
    seen: set[str] = set()

    def css(m: re.Match[str]) -> str:
        name, body = m.group(1), m.group(2)
        if name != css_name() or body != css_source():
            return m.group(0)
        if name in seen:
            return ""
        seen.add(name)
        files[name] = css_source()
        return f'<link rel="stylesheet" href="{static_url}/{name}">\n'

    def module(m: re.Match[str]) -> str:
        name, body = m.group(1), m.group(2)
        kind = kinds.get(name)
        if kind is None or body != module_source(kind):
            return m.group(0)
        if name in seen:
            return ""
        seen.add(name)
        files.update({k: v for k, v in asset_files(kind).items() if k != css_name()})
        return f'<script type="module" src="{static_url}/{name}"></script>\n'

    out = _MODULE_TAG.sub(module, _CSS_TAG.sub(css, html))
    return out, files


def _kinds_in(html: str) -> set[str]:
    """Figure kinds of this package whose module is marked in ``html``."""
    marked = {m.group(1).rsplit("-", 1)[0] for m in _MODULE_TAG.finditer(html)}
    static = resources.files("course_pkg.viz").joinpath("static")
    return {k for k in marked if static.joinpath(f"{k}.js").is_file()}

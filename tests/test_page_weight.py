"""Page weight: pages load what they use, and shared scripts once.

- Icons: no page loads the theme's ``fontawesome.js`` (1.5 MB for ~16 icons) or Font Awesome's
  web fonts for them; every icon class a built page or the theme's JavaScript uses is drawn by
  ``book/_static/course-icons.css`` (book/_ext/icon_subset.py), and on chapter 7 every visible
  icon has a box and its SVG mask, light and dark.
- Interactive figures: a figure's script is never inlined into a page's HTML twice; in the book
  the figures' modules load from ``_static/cviz`` (book/_ext/course_weight.py), each once per page,
  and a page with several figures of one kind still mounts every one of them.

The checks of the built book read ``_build/html`` (``make book``); the others need no build.
"""

from __future__ import annotations

import hashlib
import re
import sys
from pathlib import Path

import pytest
from browser_utils import DARK, HTML_ROOT, PHONE, REPO, built_pages, open_page, serve_html

from course_pkg import viz
from course_pkg.viz import embed

ICONS_CSS = REPO / "book" / "_static" / "course-icons.css"
BUILT = (HTML_ROOT / "index.html").is_file()
PAGES = built_pages() if BUILT else []
#: Font Awesome's style and modifier classes (not icons).
FA_MODIFIERS = {"fa", "fas", "far", "fab", "fa-solid", "fa-regular", "fa-brands", "fa-lg",
                "fa-xs", "fa-sm", "fa-xl", "fa-2x", "fa-fw", "fa-spin", "fa-pulse", "fa-inverse"}
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)([^>]*)>(.*?)</script>", re.S)
SCRIPT_SRC = re.compile(r'<script[^>]*\bsrc="([^"]+)"')
CLASS_ATTR = re.compile(r'class="([^"]*)"')


def _require_build() -> None:
    if not BUILT:
        pytest.fail(f"the HTML book is not built ({HTML_ROOT / 'index.html'} is missing): run "
                    "`make book` first", pytrace=False)


def _icon_classes(text: str) -> set[str]:
    """Font Awesome icon classes (``fa-<name>``) named in class attributes of ``text``."""
    out = set()
    for attr in CLASS_ATTR.findall(text):
        words = attr.split()
        if not any(w in FA_MODIFIERS for w in words):
            continue
        out |= {w for w in words if w.startswith("fa-") and w not in FA_MODIFIERS}
    return out


def _drawn_icons() -> set[str]:
    css = ICONS_CSS.read_text(encoding="utf-8")
    return set(re.findall(r"^\.(fa-[a-z0-9-]+) \{ --course-icon-w", css, re.M))


# --------------------------------------------------------------------------- no build needed
def test_externalize_references_each_script_once() -> None:
    a = viz.two_task_adaptation(mode="static")
    b = viz.two_task_adaptation(mode="static", inner_lr=0.3)
    c = viz.sinusoid_explorer(mode="static")
    html = a.html + "<p>between</p>" + b.html + c.html
    assert html.count("function cvDecode") == 3  # each snippet is self-contained
    out, files = embed.externalize(html, "../_static/cviz")
    assert "function cvDecode" not in out and not re.search(r"<style data-cviz", out)
    srcs = SCRIPT_SRC.findall(out)
    assert sorted(srcs) == sorted({f"../_static/cviz/{embed.module_name(k)}"
                                   for k in ("adaptation", "sinusoid")}), srcs
    assert out.count('rel="stylesheet"') == 1 and out.count("cviz-init") == 3
    (common_file,) = [n for n in files if n.startswith("common-")]
    common = files[common_file]
    assert "function cvDecode" in common and "export {" in common
    for kind in ("adaptation", "sinusoid"):
        assert files[embed.module_name(kind)].startswith("import {")
        assert f'from "./{common_file}"' in files[embed.module_name(kind)]
        assert "function cvDecode" not in files[embed.module_name(kind)]
    # the kernel that ran a page may know more method colours: its helpers get their own file
    other = c.html.replace("const CV_METHOD_COLORS = {",
                           'const CV_METHOD_COLORS = {"new": "#123456", ')
    out2, files2 = embed.externalize(other, "x")
    assert "function cvDecode" not in out2 and '"new": "#123456"' in "".join(files2.values())
    assert not set(files2) & {common_file, embed.module_name("sinusoid")}
    # a marked module that is not one (no figure marker line) stays inline, untouched
    broken = c.html.replace("// ---- figure: sinusoid", "// figure")
    out3, files3 = embed.externalize(broken, "x")
    assert "function cvDecode" in out3 and set(files3) == {embed.css_name()}


def _write_externalized(root: Path, figures: list) -> None:
    html, files = embed.externalize("".join(f.html for f in figures), "_static/cviz")
    (root / "_static" / "cviz").mkdir(parents=True)
    for name, text in files.items():
        (root / "_static" / "cviz" / name).write_text(text, encoding="utf-8")
    (root / "page.html").write_text(
        "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>figures</title>"
        f"<link rel='icon' href='data:,'></head><body><main>{html}</main></body></html>",
        encoding="utf-8")


@pytest.mark.browser
@pytest.mark.parametrize("shape", ["shared files", "inline"])
def test_every_figure_mounts_when_scripts_load_once(chromium_browser, tmp_path, shape) -> None:
    figs = [viz.two_task_adaptation(mode="static"),
            viz.two_task_adaptation(mode="static", inner_lr=0.3),
            viz.sinusoid_explorer(mode="static")]
    if shape == "inline":
        (tmp_path / "page.html").write_text(
            "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>f</title>"
            "<link rel='icon' href='data:,'></head><body><main>"
            + "".join(f.html for f in figs) + "</main></body></html>", encoding="utf-8")
    else:
        _write_externalized(tmp_path, figs)
    with serve_html(tmp_path) as base, open_page(chromium_browser, base + "page.html",
                                                 wait_for_math=False) as rep:
        rep.page.wait_for_function(
            "() => [...document.querySelectorAll('.cviz-root[data-cviz]')].every("
            "(e) => e.dataset.cvizReady === '1' && +(e.dataset.cvizDraws || 0) > 0)")
        assert rep.page.locator(".cviz-root[data-cviz] canvas").count() >= 3
    rep.assert_clean()


def test_the_font_subset_has_every_glyph_the_theme_css_draws() -> None:
    """The theme's CSS draws some icons as glyphs of Font Awesome's web font (admonitions,
    download links, breadcrumbs): book/_static/course-icons.woff holds each of them, and the
    @font-face that puts it in the full font's place claims exactly those code points."""
    ttlib = pytest.importorskip("fontTools.ttLib")
    sys.path.insert(0, str(REPO / "book" / "_ext"))
    try:
        import icon_subset
    finally:
        sys.path.remove(str(REPO / "book" / "_ext"))
    need = icon_subset.glyph_codes(icon_subset.theme_css())
    assert 0xF05A in need and 0xF071 in need, "admonition glyphs not found: the scanner broke"
    have = set(ttlib.TTFont(icon_subset.FONT).getBestCmap())
    assert need <= have, f"glyphs missing from {icon_subset.FONT.name}: " \
        f"{sorted(hex(c) for c in need - have)} (run book/_ext/icon_subset.py)"
    claimed = {int(h, 16) for h in re.findall(r"U\+([0-9A-F]+)", ICONS_CSS.read_text())}
    assert claimed == have


# --------------------------------------------------------------------------- the built book
def test_no_page_loads_fontawesome_js() -> None:
    _require_build()
    bad = [p for p in PAGES if "fontawesome.js" in (HTML_ROOT / p).read_text(encoding="utf-8")]
    assert not bad, f"pages loading the theme's fontawesome.js again: {bad[:5]}"
    assert not (HTML_ROOT / "_static" / "scripts" / "fontawesome.js").exists(), \
        "fontawesome.js (1.5 MB, unused) is in the build: book/_ext/course_weight.py removes it"


def test_every_icon_is_drawn_by_the_subset() -> None:
    _require_build()
    used: dict[str, str] = {}
    for p in PAGES:
        for icon in _icon_classes((HTML_ROOT / p).read_text(encoding="utf-8")):
            used.setdefault(icon, p)
    for js in (HTML_ROOT / "_static" / "scripts").glob("*.js"):
        for icon in re.findall(r'classList\s*=\s*"fa-solid (fa-[a-z0-9-]+)"', js.read_text()):
            used.setdefault(icon, js.name)
    assert "fa-magnifying-glass" in used, "the icon scanner found no icon: it is broken"
    missing = {i: p for i, p in used.items() if i not in _drawn_icons()}
    assert not missing, (f"icons not drawn by book/_static/course-icons.css (add them to ICONS "
                         f"in book/_ext/icon_subset.py and run it): {missing}")


def test_no_page_inlines_a_figure_script_twice() -> None:
    _require_build()
    problems = []
    for p in PAGES:
        html = (HTML_ROOT / p).read_text(encoding="utf-8")
        bodies: dict[str, int] = {}
        for attrs, body in INLINE_SCRIPT.findall(html):
            if "application/json" in attrs or len(body) < 200:
                continue
            digest = hashlib.sha1(body.encode()).hexdigest()
            bodies[digest] = bodies.get(digest, 0) + 1
            if "function cvDecode" in body:
                problems.append(f"{p}: a figure module is inlined (not loaded from _static/cviz)")
        problems += [f"{p}: the same inline script {n} times" for n in bodies.values() if n > 1]
        srcs = SCRIPT_SRC.findall(html)
        problems += [f"{p}: {s} loaded {srcs.count(s)} times" for s in set(srcs)
                     if srcs.count(s) > 1]
        if "data-cviz=" in html:
            for s in SCRIPT_SRC.findall(html):
                if "_static/cviz/" in s:
                    assert (HTML_ROOT / p).parent.joinpath(s).resolve().is_file(), (p, s)
    assert not problems, "\n".join(problems[:20])


@pytest.mark.browser
@pytest.mark.parametrize("mode", ["light", "dark"])
def test_chapter_7_icons_render_without_fontawesome(chromium_browser, html_server, mode) -> None:
    _require_build()
    loaded: list[str] = []
    opts = {**PHONE, **(DARK if mode == "dark" else {"color_scheme": "light"})}
    with open_page(chromium_browser, html_server + "book/07_maml.html", context_options=opts,
                   timeout_ms=120_000,
                   before_goto=lambda p: p.on("request", lambda r: loaded.append(r.url))) as rep:
        rep.page.wait_for_function("() => document.documentElement.dataset.courseLayout"
                                   " === 'done'")
        icons = rep.page.evaluate("""() => [...document.querySelectorAll('[class*="fa-"]')]
            .filter((e) => e.getClientRects().length && getComputedStyle(e).visibility !== 'hidden')
            .map((e) => { const s = getComputedStyle(e, '::before');
                          return {cls: e.className, w: parseFloat(s.width), h: parseFloat(s.height),
                                  mask: s.maskImage || s.webkitMaskImage, bg: s.backgroundColor}; })
            .filter((i) => /\\bfa-(?!solid|regular|brands|lg)[a-z]/.test(i.cls))""")
    rep.assert_clean()
    heavy = [u for u in loaded if "fontawesome" in u or "fa-solid-900" in u]
    assert not heavy, f"Font Awesome's script or font was loaded: {heavy}"
    assert len(icons) >= 4, icons  # header buttons at least
    for i in icons:
        assert i["w"] > 4 and i["h"] > 4 and i["mask"].startswith("url("), i
        assert i["bg"] not in ("rgba(0, 0, 0, 0)", "transparent"), i

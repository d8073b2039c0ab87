"""The built HTML book reads offline: every page opened in headless Chromium.

Served from ``_build/html`` on 127.0.0.1; each page fails on any request that leaves 127.0.0.1,
any failed request (network error or HTTP >= 400), any uncaught JS error or console error, and,
on pages with math, on math that MathJax did not typeset (raw ``$$``/``\\(`` text, ``.math``
elements without ``mjx-container``, MathJax errors) or a MathJax not served locally.
Build the book first with ``make book``; Chromium comes from ``make browser``.
"""

from __future__ import annotations

import re

import pytest

# The fixtures chromium_browser, html_root and html_server come from conftest.py: importing the
# *_fixture objects here as well would register a second session-wide Chromium (and playwright
# refuses a second sync instance inside the first one's loop).
from browser_utils import (
    HTML_ROOT,
    REPO,
    built_pages,
    check_page,
    is_local,
    open_page,
)

PAGES = built_pages() if (HTML_ROOT / "index.html").is_file() else ["<book not built>"]
# Pages whose math must be there: a regression that drops MathJax from them must fail.
PAGES_WITH_MATH = ["book/notation.html"]


@pytest.mark.browser
@pytest.mark.parametrize("page", PAGES)
def test_page_is_offline_clean(page, html_root, html_server, chromium_browser):
    report = check_page(chromium_browser, html_server + page)
    report.assert_clean()
    if report.math_total:
        assert report.mathjax_version, f"{page}: MathJax did not start"


@pytest.mark.browser
@pytest.mark.parametrize("page", PAGES_WITH_MATH)
def test_math_is_typeset_by_local_mathjax(page, html_root, html_server, chromium_browser):
    report = check_page(chromium_browser, html_server + page)
    assert report.math_total > 0, f"{page} has no math elements any more"
    assert report.mathjax_scripts, f"{page} loads no MathJax"
    assert all(s.startswith(html_server + "_static/mathjax/") for s in report.mathjax_scripts), (
        report.mathjax_scripts
    )
    assert report.mathjax_version and report.mathjax_version.startswith("3."), (
        report.mathjax_version
    )
    report.assert_clean()


@pytest.mark.browser
def test_untypeset_math_is_detected(html_root, html_server, chromium_browser):
    """The checker itself can fail: with MathJax blocked the notation page must be flagged."""

    def block_mathjax(page):
        page.route("**/mathjax/**", lambda route: route.abort())

    url = html_server + PAGES_WITH_MATH[0]
    report = check_page(chromium_browser, url, before_goto=block_mathjax)
    assert report.math_total > 0
    assert len(report.math_untypeset) == report.math_total
    assert any(p.startswith("untypeset math") for p in report.problems())
    assert any("mathjax" in f for f in report.failed_requests)


@pytest.mark.browser
def test_search_finds_pages(html_root, html_server, chromium_browser):
    """Sphinx's client-side search (searchtools.js + searchindex.js) works offline."""
    with open_page(chromium_browser, html_server + "search.html?q=notation") as report:
        results = report.page.locator("#search-results li")
        results.first.wait_for(state="attached")
        assert results.count() >= 1
    report.assert_clean()


@pytest.mark.browser
def test_search_excerpts_show_no_raw_tex(html_root, html_server, chromium_browser):
    """Search excerpts are page text: math in them reads as plain text (book/_static/course.js),
    not as MathJax source such as ``\\(\\nabla_\\theta\\)``."""
    with open_page(chromium_browser, html_server + "search.html?q=gradient") as report:
        page = report.page
        # Sphinx writes "Search finished, …" into p.search-summary after the last excerpt
        page.wait_for_function("() => /Search finished/.test("
                               "(document.querySelector('#search-results .search-summary') "
                               "|| {}).textContent)", timeout=60_000)
        excerpts = page.locator("#search-results p.context").all_text_contents()
    assert excerpts, "no search excerpts"
    tex = re.compile(r"\\\(|\\\)|\\\[|\$\$|\\(frac|mathcal|nabla|theta|alpha)\b")
    bad = [e[:120] for e in excerpts if tex.search(e)]
    assert not bad, f"{len(bad)} of {len(excerpts)} excerpts show TeX source, e.g. {bad[:3]}"
    report.assert_clean()


SRC_ATTR = re.compile(
    r"""<(?:script|link|img|iframe|source|video|audio)\b[^>]*?\s(?:src|href)=["']([^"']+)["']""",
    re.IGNORECASE,
)


def test_no_page_references_remote_assets(html_root):
    """Static check (no browser): no script/style/image/font URL in any page is remote."""
    bad = []
    for rel in built_pages(html_root):
        text = (html_root / rel).read_text(encoding="utf-8", errors="replace")
        for m in SRC_ATTR.finditer(text):
            url = m.group(1)
            tag = m.group(0)
            if tag.lower().startswith("<link") and not re.search(
                r"""rel=["']?(stylesheet|preload|icon|shortcut icon|modulepreload)""", tag, re.I
            ):
                continue  # plain hyperlinks (e.g. rel="next") are not loaded
            if url.startswith(("http://", "https://", "//")) and not is_local(url):
                bad.append(f"{rel}: {url}")
    assert not bad, "remote assets referenced:\n" + "\n".join(bad)


def test_css_loads_no_remote_fonts(html_root):
    """No stylesheet under _static imports a remote font or style (@import / url(http...))."""
    bad = []
    for css in sorted((html_root / "_static").rglob("*.css")):
        text = css.read_text(encoding="utf-8", errors="replace")
        for m in re.finditer(r"""(?:@import\s+(?:url\()?|url\()\s*["']?(https?:)?//""", text):
            bad.append(f"{css.relative_to(html_root)}: {text[m.start():m.start() + 80]}")
    assert not bad, "\n".join(bad)


def test_no_jupyter_widget_outputs(html_root):
    """Static check: no page embeds an ipywidgets view (it needs widget JS the book doesn't ship;
    e.g. a tqdm.auto bar: tqdm's notebook bar ignores TQDM_DISABLE)."""
    bad = [
        rel
        for rel in built_pages(html_root)
        if "application/vnd.jupyter.widget-view+json"
        in (html_root / rel).read_text(encoding="utf-8", errors="replace")
    ]
    assert not bad, "pages with Jupyter widget outputs (render nothing offline): " + ", ".join(bad)


def test_every_toc_entry_was_built(html_root):
    """Static check: each file of _toc.yml has its page in the build."""
    import yaml

    toc = yaml.safe_load((REPO / "_toc.yml").read_text())
    entries = [toc["root"]]

    def walk(items: list) -> None:  # files, their sections; a glob names no single file
        for item in items:
            if "file" in item:
                entries.append(item["file"])
            walk(item.get("sections", []))

    for part in toc.get("parts", []):
        walk(part.get("chapters", []))
    missing = [e for e in entries if not (html_root / f"{e}.html").is_file()]
    assert not missing, f"pages missing from {html_root}: {missing} (run `make book`)"


def _prose_text(html: str) -> str:
    """A page's text without code blocks, scripts and styles (where markdown syntax is legit)."""
    for tag in ("pre", "code", "script", "style", "textarea"):
        html = re.sub(rf"<{tag}\b.*?</{tag}>", " ", html, flags=re.S | re.I)
    return re.sub(r"<[^>]+>", " ", html)


def test_markdown_that_cells_display_is_rendered(html_root):
    """Static check: no page shows markdown syntax as text — e.g. the pipes of a table that a
    cell displays with ``IPython.display.Markdown`` (CommonMark rendering has no tables)."""
    # the dashes of a table's rule row, or what smart quotes make of them (— and –)
    table_rule = re.compile(r"\|\s*:?(?:-{3,}|[—–]+-?):?\s*\|")
    bad = []
    for rel in built_pages(html_root):
        text = _prose_text((html_root / rel).read_text(encoding="utf-8", errors="replace"))
        m = table_rule.search(text)
        if m:
            bad.append(f"{rel}: …{text[max(0, m.start() - 60):m.end() + 20]!r}…")
    assert not bad, "raw markdown tables in the HTML:\n" + "\n".join(bad)


def test_displayed_tables_are_html_tables(html_root):
    """The Performance appendix's two results tables come out as HTML <table>s."""
    for rel in ("book/appendix_performance.html",):
        html = (html_root / rel).read_text(encoding="utf-8")
        assert html.count("<table") >= 2, rel

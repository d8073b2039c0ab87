"""WCAG 2.1 AA: axe-core on every built page, in light and in dark mode.

axe-core (the npm package, pinned in the Makefile's ``axe`` target) is installed into the
git-ignored ``.cache/axe`` by ``make test`` (``npm install axe-core@<version>``, offline from the
npm registry; ``$COURSE_AXE_JS`` may point at another ``axe.min.js``). It is injected into each
page after MathJax and the interactive figures have finished; every violation of the rules tagged
``wcag2a``, ``wcag2aa``, ``wcag21a`` or ``wcag21aa`` whose impact is *serious* or *critical* fails
the test. No rule is switched off. Dark mode is an OS set to dark (``prefers-color-scheme``): the
book's theme follows it (``default_mode: auto``).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from browser_utils import DARK, HTML_ROOT, REPO, built_pages, in_ci, open_page, wait_for_figures

pytestmark = [pytest.mark.browser]

AXE_JS = Path(os.environ.get("COURSE_AXE_JS")
              or REPO / ".cache" / "axe" / "node_modules" / "axe-core" / "axe.min.js")
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
IMPACTS = {"serious", "critical"}
PAGES = built_pages() if (HTML_ROOT / "index.html").is_file() else ["<book not built>"]
MODES = {"light": {"color_scheme": "light"}, "dark": DARK}

_RUN_AXE = """async (tags) => {
  const r = await axe.run(document, {runOnly: {type: 'tag', values: tags},
                                     resultTypes: ['violations']});
  return {version: axe.version, violations: r.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.map((n) => ({target: n.target.join(' '), summary: n.failureSummary}))}))};
}"""


def axe_source() -> str:
    """The text of ``axe.min.js``; skips (fails under ``CI=true``) with how to install it."""
    if not AXE_JS.is_file():
        msg = f"axe-core is not installed ({AXE_JS} missing): run `make axe` (npm install)"
        if in_ci():
            pytest.fail(msg, pytrace=False)
        pytest.skip(msg)
    return AXE_JS.read_text(encoding="utf-8")


def run_axe(page) -> dict:
    """Inject axe-core into ``page`` and return ``{version, violations}`` (WCAG A/AA tags)."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.add_script_tag(content=axe_source())
    return page.evaluate(_RUN_AXE, TAGS)


@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("page", PAGES)
def test_no_serious_axe_violations(page, mode, html_root, html_server, chromium_browser):
    axe_source()  # skip before opening the page when axe-core is missing
    with open_page(chromium_browser, html_server + page,
                   context_options=MODES[mode], timeout_ms=120_000) as rep:
        wait_for_figures(rep.page)
        theme = rep.page.evaluate("() => document.documentElement.dataset.theme")
        assert theme == mode, f"{page}: the theme did not follow the OS ({theme!r} != {mode!r})"
        result = run_axe(rep.page)
    bad = [v for v in result["violations"] if v["impact"] in IMPACTS]
    lines = [f"{v['id']} ({v['impact']}): {v['help']} — {len(v['nodes'])} element(s), e.g. "
             f"{v['nodes'][0]['target']}: {v['nodes'][0]['summary']}" for v in bad]
    assert not bad, f"{page} [{mode}] axe-core {result['version']}:\n  " + "\n  ".join(lines)


def test_axe_detects_a_violation(html_root, html_server, chromium_browser):
    """The check itself can fail: an unlabelled button and grey-on-grey text are reported."""
    axe_source()
    with open_page(chromium_browser, html_server + "book/notation.html") as rep:
        rep.page.evaluate("""() => {
            const b = document.createElement('button');
            document.querySelector('main').appendChild(b);
            const p = document.createElement('p');
            p.textContent = 'low contrast'; p.style.color = '#bbb'; p.style.background = '#ccc';
            document.querySelector('main').appendChild(p);
        }""")
        ids = {v["id"] for v in run_axe(rep.page)["violations"]}
    assert {"button-name", "color-contrast"} <= ids, ids

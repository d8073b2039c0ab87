"""What a reader sees on a phone and in tables and images (built book, headless Chromium).

- At 390 CSS px (a phone, 2 device pixels per CSS pixel) no page scrolls sideways, and no
  figure canvas is wider than its figure or than the screen; the canvases are drawn at the
  screen's pixel density (crisp on a 2× screen).
- Every table that a cell outputs has at least 4 px of horizontal padding in each cell.
- No ``<img>`` has a file name (or nothing) as its alt text.
"""

from __future__ import annotations

import re

import pytest
from browser_utils import HTML_ROOT, PHONE, built_pages, open_page, wait_for_figures

pytestmark = [pytest.mark.browser]

PAGES = built_pages() if (HTML_ROOT / "index.html").is_file() else ["<book not built>"]
FILE_NAME = re.compile(r"(^|/)[\w.-]+\.(png|jpe?g|svg|gif|webp)$", re.IGNORECASE)

_PHONE_PROBE = """() => {
  const vw = document.documentElement.clientWidth;
  const out = {vw, scroll: document.documentElement.scrollWidth, wide: [], canvases: []};
  for (const el of document.querySelectorAll('main *')) {
    const r = el.getBoundingClientRect();
    if (r.width > 0 && r.right > vw + 1 && !el.closest('.MathJax, mjx-container')) {
      // only elements that are not inside a scrolling box push the page sideways
      let p = el.parentElement, scrolls = false;
      while (p && p !== document.body) {
        const ox = getComputedStyle(p).overflowX;
        if (ox === 'auto' || ox === 'scroll' || ox === 'hidden') { scrolls = true; break; }
        p = p.parentElement;
      }
      if (!scrolls) out.wide.push(el.tagName.toLowerCase() + (el.className ? '.' +
        String(el.className).split(' ')[0] : '') + ' ' + Math.round(r.right) + 'px');
    }
  }
  for (const c of document.querySelectorAll('[data-cviz] canvas')) {
    const fig = c.closest('.cviz-figure') || c.closest('[data-cviz]');
    const r = c.getBoundingClientRect(), f = fig.getBoundingClientRect();
    out.canvases.push({w: r.width, right: r.right, figRight: f.right, figW: f.width,
                       px: c.width, fig: c.closest('[data-cviz]').dataset.cviz});
  }
  return out;
}"""


@pytest.mark.parametrize("page", PAGES)
def test_phone_layout(page, html_root, html_server, chromium_browser):
    with open_page(chromium_browser, html_server + page, context_options=PHONE,
                   timeout_ms=120_000) as rep:
        wait_for_figures(rep.page)
        probe = rep.page.evaluate(_PHONE_PROBE)
    vw = probe["vw"]
    assert probe["scroll"] <= vw + 1, (
        f"{page}: the page scrolls sideways at 390 px ({probe['scroll']} > {vw}); "
        f"too wide: {probe['wide'][:8]}")
    for c in probe["canvases"]:
        assert c["right"] <= c["figRight"] + 1 and c["right"] <= vw + 1, (
            f"{page}: a {c['fig']} canvas ({c['w']:.0f} px) is wider than its figure "
            f"({c['figW']:.0f} px) or the screen ({vw} px)")
        assert c["px"] >= 1.9 * c["w"], (
            f"{page}: a {c['fig']} canvas has {c['px']} pixels for {c['w']:.0f} CSS px on a 2× "
            "screen (blurry)")


_TABLE_PROBE = """() => {
  const bad = [];
  const cells = document.querySelectorAll('.cell_output table td, .cell_output table th,' +
                                          '.output table td, .output table th');
  for (const c of cells) {
    const s = getComputedStyle(c);
    const l = parseFloat(s.paddingLeft), r = parseFloat(s.paddingRight);
    if ((l < 4 || r < 4) && c.textContent.trim()) bad.push(`${c.textContent.trim().slice(0, 20)}`
        + ` (padding ${l}/${r} px)`);
  }
  const imgs = Array.from(document.querySelectorAll('main img')).map((i) => ({
    alt: i.getAttribute('alt'), src: i.getAttribute('src'),
    hidden: i.getAttribute('aria-hidden') === 'true' || i.getAttribute('role') === 'presentation'
  }));
  return {cells: cells.length, bad, imgs};
}"""


@pytest.mark.parametrize("page", PAGES)
def test_tables_are_padded_and_images_described(page, html_root, html_server, chromium_browser):
    with open_page(chromium_browser, html_server + page, wait_for_math=False,
                   timeout_ms=120_000) as rep:
        probe = rep.page.evaluate(_TABLE_PROBE)
    assert not probe["bad"], (f"{page}: {len(probe['bad'])} table cells with < 4 px horizontal "
                              f"padding, e.g. {probe['bad'][:5]}")
    for img in probe["imgs"]:
        if img["hidden"]:
            continue
        alt = (img["alt"] or "").strip()
        assert alt, f"{page}: <img src={img['src']!r}> has no alt text"
        assert not FILE_NAME.search(alt), f"{page}: <img> has a file name as alt text: {alt!r}"
        assert len(alt) >= 15, f"{page}: <img src={img['src']!r}> alt text too short: {alt!r}"

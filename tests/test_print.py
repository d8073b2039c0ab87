"""Printed pages (``make pdf``): nothing is wider than the page, and ``make pdf`` writes a PDF.

Each page is laid out as ``book/_ext/print_pdf.py`` prints it (print media, the A4 column as the
viewport, the page's ``beforeprint`` handlers): no element of the article may end right of the
column or hide content in a box narrower than it (a cut code line, a table's last column, an
equation). The self-check answers print open, without their "Click to hide" button.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys

import pytest
from browser_utils import HTML_ROOT, REPO, built_pages

pytestmark = [pytest.mark.browser]

PAGES = built_pages() if (HTML_ROOT / "index.html").is_file() else ["<book not built>"]
_spec = importlib.util.spec_from_file_location("print_pdf", REPO / "book" / "_ext" / "print_pdf.py")
print_pdf = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(print_pdf)

_PRINT_PROBE = """() => {
  const article = document.querySelector('article.bd-article') || document.querySelector('main');
  const col = article.getBoundingClientRect(), page = document.documentElement.clientWidth;
  const out = {col: col.width, page, wide: [], toggles: [], hidden: 0};
  const name = (el) => el.tagName.toLowerCase() + (typeof el.className === 'string' && el.className
    ? '.' + el.className.trim().split(/\\s+/)[0] : '');
  for (const el of article.querySelectorAll('*')) {
    const r = el.getBoundingClientRect();
    // visually hidden text for screen readers (1 px, clipped) prints nothing
    if (!r.width || (r.width <= 1 && r.height <= 1) || el.closest('mjx-assistive-mml')) continue;
    const s = getComputedStyle(el);
    const cut = el.scrollWidth > el.clientWidth + 1 && s.overflowX !== 'visible' &&
                !el.closest('mjx-container');
    if (r.right > page + 1 || r.right > col.right + 1 || cut) {
      out.wide.push(`${name(el)} ${Math.round(cut ? el.scrollWidth - el.clientWidth
                                                  : r.right - col.right)} px: ` +
                    el.textContent.trim().slice(0, 40));
    }
  }
  for (const b of article.querySelectorAll('button.toggle-button, .toggle-button')) {
    if (getComputedStyle(b).display !== 'none') out.toggles.push(b.textContent.trim().slice(0, 30));
  }
  for (const t of article.querySelectorAll('.toggle-hidden, details:not([open])')) {
    if (getComputedStyle(t).display === 'none') out.hidden += 1;
  }
  return out;
}"""


@pytest.mark.parametrize("page", PAGES)
def test_printed_page_fits(page, html_root, html_server, chromium_browser):
    context = chromium_browser.new_context()
    try:
        tab = context.new_page()
        print_pdf.print_layout(tab, html_server + page)
        probe = tab.evaluate(_PRINT_PROBE)
    finally:
        context.close()
    assert probe["page"] <= print_pdf.PRINT_WIDTH_PX
    assert not probe["wide"], (f"{page}, printed: {len(probe['wide'])} elements wider than the "
                               f"{probe['col']:.0f}-px column: {probe['wide'][:8]}")
    assert not probe["toggles"], f"{page}, printed: toggle buttons shown: {probe['toggles'][:5]}"
    assert not probe["hidden"], f"{page}, printed: {probe['hidden']} answers stay folded"


def test_make_pdf_prints_a_chapter(html_root, tmp_path):
    """``book/_ext/print_pdf.py`` (``make pdf``) writes a multi-page A4 PDF of a chapter."""
    run = subprocess.run([sys.executable, str(REPO / "book" / "_ext" / "print_pdf.py"),
                          str(html_root), str(tmp_path), "book/07_maml.html"],
                         capture_output=True, text=True, timeout=300, cwd=REPO)
    assert run.returncode == 0, run.stderr[-2000:]
    pdf = (tmp_path / "07_maml.pdf").read_bytes()
    boxes = re.findall(rb"/MediaBox \[0 0 ([\d.]+) ([\d.]+)\]", pdf)
    assert pdf.startswith(b"%PDF-") and len(boxes) >= 5, f"not a chapter-long PDF: {boxes}"
    for w, h in boxes:  # A4 is 595 × 842 pt
        assert abs(float(w) - 595) < 1 and abs(float(h) - 842) < 1, (w, h)

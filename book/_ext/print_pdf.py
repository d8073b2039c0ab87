"""``make pdf``: print the built HTML book to PDF, one file per page, offline.

Usage: ``python book/_ext/print_pdf.py [HTML_ROOT] [OUT_DIR] [PAGE ...]`` (defaults
``_build/html``, ``_build/pdf``, every chapter of the table of contents). Each page is opened in
the same headless Chromium that the browser tests use (Debian's ``chromium``, or
``$COURSE_CHROMIUM``) through playwright, from a server on 127.0.0.1 (nothing else resolves),
laid out with the book's print CSS (``book/_static/course.css``, ``@media print``), and printed
to A4 with its background colours. Writes ``OUT_DIR/<page>.pdf`` and prints one line per file.

:func:`print_layout` is the same preparation for the tests (``tests/test_print.py``): print media,
a viewport as wide as the printed column, the page's own ``beforeprint`` handlers (equations are
fitted to the column) and its "layout done" signal.
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import sys
import threading
from pathlib import Path
from typing import Any

#: A4 minus the 14-mm side margins of ``@page`` in course.css, in CSS px (96 per inch).
PRINT_WIDTH_PX = round((210 - 2 * 14) / 25.4 * 96)
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"]


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (stdlib signature)
        pass


def find_chromium() -> str:
    """``$COURSE_CHROMIUM``, ``/usr/bin/chromium`` or ``chromium`` on PATH; exits with how to
    install it when there is none."""
    for exe in (os.environ.get("COURSE_CHROMIUM"), "/usr/bin/chromium",
                shutil.which("chromium"), shutil.which("chromium-browser")):
        if exe and Path(exe).exists():
            return exe
    sys.exit("make pdf: Chromium not found: run `make browser` or set $COURSE_CHROMIUM")


def print_layout(page: Any, url: str) -> None:
    """Open ``url`` in ``page`` (a playwright Page) laid out for print as ``make pdf`` prints."""
    page.set_viewport_size({"width": PRINT_WIDTH_PX, "height": 1000})
    page.emulate_media(media="print")
    page.goto(url, wait_until="load")
    page.wait_for_function("() => document.documentElement.dataset.courseLayout === 'done'",
                           timeout=120_000)
    page.evaluate("() => window.dispatchEvent(new Event('beforeprint'))")


def chapters(root: Path) -> list[str]:
    """The pages of the book in reading order (the ``book/*.html`` files of the build)."""
    return sorted(p.relative_to(root).as_posix() for p in (root / "book").glob("*.html"))


def main(argv: list[str]) -> int:
    root = Path(argv[0] if argv else "_build/html").resolve()
    out = Path(argv[1] if len(argv) > 1 else "_build/pdf").resolve()
    if not (root / "index.html").is_file():
        sys.exit(f"make pdf: {root}/index.html is missing: run `make book` first")
    pages = argv[2:] or chapters(root)
    out.mkdir(parents=True, exist_ok=True)
    from playwright.sync_api import sync_playwright

    handler = functools.partial(_Quiet, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=find_chromium(), args=CHROMIUM_ARGS)
            page = browser.new_page()
            for rel in pages:
                print_layout(page, base + rel)
                target = out / (Path(rel).stem + ".pdf")
                page.pdf(path=str(target), format="A4", print_background=True,
                         prefer_css_page_size=True)
                print(f"{target}  {target.stat().st_size / 1e6:.1f} MB")
            browser.close()
    finally:
        server.shutdown()
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

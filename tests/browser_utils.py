"""Drive the built HTML book in headless Chromium (playwright + Debian's ``chromium``).

Shared by the browser tests of every engineer. Typical use in a test module::

    import pytest
    from browser_utils import open_page
    from browser_utils import chromium_browser_fixture, html_server_fixture  # noqa: F401

    pytestmark = pytest.mark.browser

    def test_my_figure(chromium_browser, html_server):
        with open_page(chromium_browser, html_server + "book/07_maml.html") as report:
            report.page.click("text=Step")            # interact; errors keep being recorded
            assert report.page.locator("svg").count() > 0
        report.assert_clean()                          # no external/failed request, JS error, ...

API
- ``CHROMIUM_ARGS``: the command-line flags every test launches Chromium with.
- ``find_chromium() -> str | None``: path of the Chromium binary (``$COURSE_CHROMIUM``,
  ``/usr/bin/chromium``, then ``chromium``/``chromium-browser`` on ``PATH``).
- ``require_chromium() -> str``: that path, or ``pytest.skip`` with the reason (``pytest.fail``
  when ``CI=true``) if Chromium or the playwright package is missing.
- ``require_build(root=HTML_ROOT) -> Path``: the built book, or ``pytest.fail`` telling the user to
  run ``make book``.
- ``built_pages(root=HTML_ROOT) -> list[str]``: every page of the book, as paths relative to
  ``root`` (``_static``, ``_sources`` and ``_images`` are assets, not pages).
- ``serve_html(root=HTML_ROOT)``: context manager serving ``root`` on ``127.0.0.1`` (random free
  port, ``http.server`` in a daemon thread); yields the base URL ending in ``/``.
- ``launch_chromium(playwright, executable=None) -> Browser``.
- ``PHONE``, ``DARK``: ``context_options`` for a 390-px phone at 2× and for an OS in dark mode.
- ``wait_for_figures(page)``: wait until every interactive figure of the page has drawn.
- ``open_page(browser, url, *, wait_for_math=True, timeout_ms=30_000, before_goto=None,
  context_options=None)``:
  context manager that opens ``url`` in a fresh context of ``browser`` (only ``127.0.0.1``
  resolves, so nothing can leave the machine; ``before_goto(page)`` runs first), follows a
  ``<meta http-equiv="refresh">`` redirect, waits for MathJax to finish typesetting, inspects
  the math, yields a :class:`PageReport` (``report.page`` is the live playwright ``Page``) and
  closes the page on exit. Events keep being recorded while you interact.
- ``check_page(browser, url, **kw) -> PageReport``: ``open_page`` without interaction.
- ``PageReport``: ``external_requests``, ``failed_requests``, ``page_errors``,
  ``console_errors``, ``math_total``, ``math_untypeset``, ``math_errors``, ``raw_tex``,
  ``mathjax_version``, ``mathjax_scripts``, ``bytes_loaded``; ``problems() -> list[str]`` and
  ``assert_clean()``.
- ``jupyterlab_server(root, log_path, *, token="", env=None, extra_args=(), timeout_s=300)``:
  context manager running ``jupyter lab`` on a free localhost port serving ``root``; yields the
  base URL once the server prints that URL (the signal that it listens), fails with the log's
  tail if it exits or stays silent for ``timeout_s``; stops the server's process group on exit.
- ``in_browser_thread(fn, timeout_s=720)``: run ``fn(browser)`` with a fresh Chromium in its own
  thread (a session-scoped sync Playwright may already own the test's thread); re-raise its error.
- ``run_all_cells(page, name)``: JupyterLab's Run ▸ Run All Cells on the open notebook ``name``
  (answers a "Select Kernel" dialog with its default; fails on any other dialog).
- Fixtures (session scope; import the ``*_fixture`` objects, request them by the short name):
  ``html_root`` (the build folder, fails if missing), ``html_server`` (base URL),
  ``chromium_browser`` (one shared Browser; skipped/failed as ``require_chromium``).
"""

from __future__ import annotations

import functools
import http.server
import os
import re
import shutil
import signal
import socket
import socketserver
import subprocess
import sys
import threading
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
# The built book; $COURSE_HTML_ROOT points the tests at another build (e.g. a scratch copy).
HTML_ROOT = Path(os.environ.get("COURSE_HTML_ROOT") or REPO / "_build" / "html")
LOCAL_HOST = "127.0.0.1"
ASSET_DIRS = ("_static", "_sources", "_images")

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # Nothing but 127.0.0.1 resolves: a page that tries to reach the internet fails loudly
    # (the attempt is still recorded as an external request) instead of silently working online.
    f"--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE {LOCAL_HOST}",
]


#: ``context_options`` of a phone (390 CSS px wide, 2 device pixels per CSS pixel).
PHONE: dict[str, Any] = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2}
#: ``context_options`` of an OS set to dark mode (the theme's default mode is "auto").
DARK: dict[str, Any] = {"color_scheme": "dark"}


def in_ci() -> bool:
    """True when ``$CI`` is set to a true value (missing tools then fail instead of skipping)."""
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def find_chromium() -> str | None:
    """Path of the Chromium binary, or ``None``."""
    env = os.environ.get("COURSE_CHROMIUM")
    if env:
        return env if Path(env).exists() else None
    if Path("/usr/bin/chromium").exists():
        return "/usr/bin/chromium"
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _missing(reason: str) -> None:
    if in_ci():
        pytest.fail(f"{reason} (CI=true: the browser tests must run here)", pytrace=False)
    pytest.skip(reason)


def require_chromium() -> str:
    """Return the Chromium path; skip (fail under ``CI=true``) when it or playwright is missing."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _missing("the playwright Python package is not installed (pip install -r requirements.txt)")
    path = find_chromium()
    if path is None:
        _missing(
            "Chromium not found: run `make browser` (installs Debian's chromium with apt-get) "
            "or point $COURSE_CHROMIUM at a Chromium binary"
        )
    return path  # type: ignore[return-value]


def require_build(root: Path = HTML_ROOT) -> Path:
    """Return the built book folder, failing with instructions when it does not exist."""
    if not (root / "index.html").is_file():
        pytest.fail(
            f"the HTML book is not built ({root / 'index.html'} is missing): run `make book` first",
            pytrace=False,
        )
    return root


def built_pages(root: Path = HTML_ROOT) -> list[str]:
    """Every HTML page of the build, relative to ``root`` with ``/`` separators, sorted."""
    pages = []
    for p in sorted(root.rglob("*.html")):
        rel = p.relative_to(root)
        if rel.parts[0] in ASSET_DIRS:
            continue
        pages.append(rel.as_posix())
    return pages


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    extensions_map = {
        **http.server.SimpleHTTPRequestHandler.extensions_map,
        ".js": "text/javascript",
        ".mjs": "text/javascript",
        ".css": "text/css",
        ".json": "application/json",
        ".svg": "image/svg+xml",
        ".woff": "font/woff",
        ".woff2": "font/woff2",
        ".ttf": "font/ttf",
        ".ipynb": "application/json",
    }

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (stdlib signature)
        pass


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


@contextmanager
def serve_html(root: Path = HTML_ROOT) -> Iterator[str]:
    """Serve ``root`` on 127.0.0.1 (random free port); yield ``http://127.0.0.1:<port>/``."""
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = _Server((LOCAL_HOST, 0), handler)
    thread = threading.Thread(target=server.serve_forever, name="html-server", daemon=True)
    thread.start()
    try:
        yield f"http://{LOCAL_HOST}:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def launch_chromium(playwright: Any, executable: str | None = None) -> Any:
    """Launch headless Chromium with :data:`CHROMIUM_ARGS` (never downloads a browser)."""
    exe = executable or require_chromium()
    try:
        return playwright.chromium.launch(executable_path=exe, headless=True, args=CHROMIUM_ARGS)
    except Exception as exc:  # a broken install should say so, not skip silently
        pytest.fail(f"could not start Chromium at {exe}: {exc}", pytrace=False)


def is_local(url: str) -> bool:
    """True for URLs that stay on this machine (127.0.0.1, data:, blob:, about:)."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme in {"data", "blob", "about", "chrome-error"}:
        return True
    return parts.hostname == LOCAL_HOST


@dataclass
class PageReport:
    """What happened while a page was open (see :func:`open_page`)."""

    url: str
    page: Any = None
    external_requests: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    math_total: int = 0
    math_untypeset: list[str] = field(default_factory=list)
    math_errors: list[str] = field(default_factory=list)
    raw_tex: list[str] = field(default_factory=list)
    mathjax_version: str | None = None
    mathjax_scripts: list[str] = field(default_factory=list)
    bytes_loaded: int = 0

    def problems(self) -> list[str]:
        """Human-readable list of everything wrong with the page (empty when clean)."""
        out = [f"request leaves 127.0.0.1: {u}" for u in self.external_requests]
        out += [f"failed request: {u}" for u in self.failed_requests]
        out += [f"uncaught JS error: {e}" for e in self.page_errors]
        out += [f"console error: {e}" for e in self.console_errors]
        for s in self.mathjax_scripts:
            if not is_local(s):
                out.append(f"MathJax is not served locally: {s}")
        if self.math_total and not self.mathjax_scripts:
            out.append(f"{self.math_total} math elements but no MathJax script on the page")
        out += [f"untypeset math: {m!r}" for m in self.math_untypeset]
        out += [f"MathJax error: {m!r}" for m in self.math_errors]
        out += [f"raw TeX in the page text: {t!r}" for t in self.raw_tex]
        return out

    def assert_clean(self) -> None:
        problems = self.problems()
        assert not problems, f"{self.url}:\n  " + "\n  ".join(problems)


# Runs in the page: waits for MathJax, then inspects math elements and visible text.
_MATH_PROBE = r"""
async (waitForMath) => {
  const out = {version: null, scripts: [], total: 0, untypeset: [], errors: [], raw: []};
  out.scripts = Array.from(document.querySelectorAll('script[src]'))
      .map(s => s.src).filter(s => /mathjax/i.test(s));
  if (waitForMath && window.MathJax && MathJax.startup && MathJax.startup.promise) {
    await MathJax.startup.promise;
    out.version = MathJax.version || null;
  }
  const els = Array.from(document.querySelectorAll('.math'));
  out.total = els.length;
  for (const el of els) {
    if (!el.querySelector('mjx-container')) out.untypeset.push(el.textContent.trim().slice(0, 80));
  }
  for (const el of document.querySelectorAll('mjx-merror')) {
    out.errors.push((el.getAttribute('data-mjx-error') || el.textContent).slice(0, 80));
  }
  // Code, outputs and search-result excerpts (plain-text page sources) may show TeX verbatim.
  const skip = 'pre, code, script, style, textarea, mjx-container, .highlight, .output, ' +
               '#search-results';
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT, {
    acceptNode(n) {
      const p = n.parentElement;
      return (!p || p.closest(skip)) ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT;
    }
  });
  const tex = /\$\$|\\\(|\\\)|\\\[|\\\]|\\begin\{|\\frac\{|\\mathcal\{/;
  while (walker.nextNode()) {
    const t = walker.currentNode.nodeValue;
    if (tex.test(t)) out.raw.push(t.trim().slice(0, 80));
  }
  return out;
}
"""


def _refresh_target(url: str) -> str | None:
    """Absolute target of a ``<meta http-equiv="refresh">`` page, else ``None``."""
    if not is_local(url) or not url.startswith("http"):
        return None
    with urllib.request.urlopen(url, timeout=10) as resp:  # local server only
        head = resp.read(4096).decode("utf-8", "replace")
    m = re.search(
        r"""<meta[^>]+http-equiv=["']?refresh["']?[^>]*content=["'][^"']*url=([^"'>\s]+)""",
        head,
        re.IGNORECASE,
    )
    return urllib.parse.urljoin(url, m.group(1)) if m else None


@contextmanager
def open_page(
    browser: Any,
    url: str,
    *,
    wait_for_math: bool = True,
    timeout_ms: int = 30_000,
    before_goto: Callable[[Any], None] | None = None,
    context_options: dict[str, Any] | None = None,
) -> Iterator[PageReport]:
    """Open ``url`` in a fresh browser context, record everything, yield a :class:`PageReport`.

    ``before_goto(page)`` runs before navigation (e.g. to set the viewport or route requests);
    ``context_options`` go to ``browser.new_context`` (e.g. ``viewport``, ``color_scheme``,
    ``device_scale_factor``; see :data:`PHONE` and :data:`DARK`).
    """
    report = PageReport(url=url)
    context = browser.new_context(**(context_options or {}))
    context.set_default_timeout(timeout_ms)
    page = context.new_page()
    report.page = page

    def on_request(req: Any) -> None:
        if not is_local(req.url):
            report.external_requests.append(req.url)

    def on_failed(req: Any) -> None:
        if is_local(req.url):  # external ones are already reported above
            report.failed_requests.append(f"{req.url} ({req.failure})")

    def on_response(resp: Any) -> None:
        if resp.status >= 400:
            report.failed_requests.append(f"{resp.url} (HTTP {resp.status})")
        length = resp.headers.get("content-length")
        if length and length.isdigit():
            report.bytes_loaded += int(length)

    def on_console(msg: Any) -> None:
        if msg.type == "error":
            report.console_errors.append(msg.text)

    page.on("request", on_request)
    page.on("requestfailed", on_failed)
    page.on("response", on_response)
    page.on("pageerror", lambda exc: report.page_errors.append(str(exc)))
    page.on("console", on_console)
    try:
        if before_goto is not None:
            before_goto(page)
        target = _refresh_target(url)
        page.goto(url, wait_until="load")
        if target is not None:
            page.wait_for_url(target, wait_until="load")
        probe = page.evaluate(_MATH_PROBE, wait_for_math)
        report.mathjax_version = probe["version"]
        report.mathjax_scripts = probe["scripts"]
        report.math_total = probe["total"]
        report.math_untypeset = probe["untypeset"]
        report.math_errors = probe["errors"]
        report.raw_tex = probe["raw"]
        yield report
    finally:
        context.close()
        report.page = None


def wait_for_figures(page: Any) -> None:
    """Wait until each interactive figure (``[data-cviz]``) is mounted and has drawn once.

    The figures' JavaScript sets ``data-cviz-ready="1"`` when mounted and increments
    ``data-cviz-draws`` after every redraw: tests wait for these signals, never for time.
    """
    page.wait_for_function("""() => Array.from(document.querySelectorAll('[data-cviz]')).every(
        (el) => el.dataset.cvizReady === '1' && +(el.dataset.cvizDraws || 0) > 0)""")


def check_page(browser: Any, url: str, **kwargs: Any) -> PageReport:
    """Open ``url``, inspect it and close it again; see :func:`open_page`."""
    with open_page(browser, url, **kwargs) as report:
        pass
    return report


@pytest.fixture(scope="session", name="html_root")
def html_root_fixture() -> Path:
    """The built book (``_build/html``); fails with 'run make book' when missing."""
    return require_build()


@pytest.fixture(scope="session", name="html_server")
def html_server_fixture(html_root: Path) -> Iterator[str]:
    """Base URL (``http://127.0.0.1:<port>/``) of the built book served for this session."""
    with serve_html(html_root) as base:
        yield base


@pytest.fixture(scope="session", name="chromium_browser")
def chromium_browser_fixture() -> Iterator[Any]:
    """One headless Chromium shared by the session (skips/fails as :func:`require_chromium`)."""
    exe = require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = launch_chromium(pw, exe)
        try:
            yield browser
        finally:
            browser.close()


#: JupyterLab dialogs a test may answer with their default button, by title. "Select Kernel"
#: opens when a notebook's kernel cannot be started as it opens (e.g. the kernel specs arrive
#: late on a loaded machine); its default is the notebook's own kernel.
KNOWN_DIALOGS = ("Select Kernel",)


def answer_kernel_dialog(page: Any) -> None:
    """Accept an open "Select Kernel" dialog; fail, naming it, on any other JupyterLab dialog."""
    dialog = page.locator(".jp-Dialog")
    if dialog.count() == 0:
        return
    title = (dialog.first.locator(".jp-Dialog-header").text_content() or "").strip()
    if title not in KNOWN_DIALOGS:
        raise AssertionError(f"JupyterLab shows a dialog: {dialog.first.inner_text()[:500]!r}")
    dialog.first.locator(".jp-Dialog-button.jp-mod-accept").click(timeout=30_000)
    dialog.first.wait_for(state="detached", timeout=30_000)


def run_all_cells(page: Any, name: str) -> None:
    """JupyterLab: Run ▸ Run All Cells on the open notebook ``name`` (its file name).

    The notebook is made the current widget first (a click on its tab; the status bar then names
    it): before that the menu item is disabled and a click on it does nothing. Exact labels:
    ``text=Run`` would match the first element whose text merely contains "run", and "Run All
    Cells" is also part of "Restart Kernel and Run All Cells…". A "Select Kernel" dialog is
    answered with its default (:func:`answer_kernel_dialog`).
    """
    started = ("() => [...document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) "
               ".jp-CodeCell .jp-InputArea-prompt')]"
               ".some(p => /\\[(\\*|\\d+)\\]/.test(p.textContent))")
    for attempt in range(3):  # a click the app was not ready for starts nothing: try again
        answer_kernel_dialog(page)
        try:
            page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab", has_text=name).first.click(
                timeout=30_000)
            page.locator(".jp-StatusBar-Widget", has_text=name).first.wait_for(timeout=60_000)
            page.locator("li.lm-MenuBar-item", has_text=re.compile(r"^\s*Run\s*$")).click(
                timeout=30_000)
            label = page.locator(".lm-Menu-itemLabel",
                                 has_text=re.compile(r"^\s*Run All Cells\s*$"))
            page.locator(".lm-Menu-item:not(.lm-mod-disabled)", has=label).click(timeout=30_000)
            # the signal: a code cell is queued ([*]) or numbered
            page.wait_for_function(started, timeout=60_000, polling=250)
            return
        except Exception:  # e.g. a dialog took the clicks: answer it and try again
            if attempt == 2:
                raise


def _free_port() -> int:
    """A TCP port on ``127.0.0.1`` that nothing listens on right now."""
    with socket.socket() as s:
        s.bind((LOCAL_HOST, 0))
        return s.getsockname()[1]


@contextmanager
def jupyterlab_server(root: Path, log_path: Path, *, token: str = "",
                      env: dict[str, str] | None = None, extra_args: Sequence[str] = (),
                      timeout_s: float = 300) -> Iterator[str]:
    """Run ``jupyter lab`` serving ``root``; yield ``http://127.0.0.1:<port>/`` once it listens.

    The signal is the server's own line naming its URL (printed after it bound the port), read
    from its output as it comes; the output is also written to ``log_path``. ``timeout_s`` only
    bounds a server that never says so (minutes on a loaded machine).
    """
    port = _free_port()
    cmd = [sys.executable, "-m", "jupyter", "lab", "--no-browser", f"--port={port}",
           "--ServerApp.port_retries=0", f"--ip={LOCAL_HOST}", "--allow-root",
           f"--IdentityProvider.token={token}", "--ServerApp.password=",
           f"--ServerApp.root_dir={root}", "--LabApp.news_url=",
           "--ServerApp.shutdown_no_activity_timeout=600", *extra_args]
    server = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, errors="replace", start_new_session=True)
    listening, said = threading.Event(), threading.Event()

    def pump() -> None:  # copy the output to the log; set ``listening`` at the URL line
        with open(log_path, "w", encoding="utf-8") as log:
            for line in server.stdout:
                log.write(line)
                log.flush()
                if f"{LOCAL_HOST}:{port}/" in line:
                    listening.set()
                    said.set()
        said.set()  # end of output: the server exited

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    try:
        said.wait(timeout_s)
        if not listening.is_set():
            tail = log_path.read_text(encoding="utf-8", errors="replace")[-2000:]
            state = (f"exited with code {server.poll()}" if server.poll() is not None
                     else f"did not report its URL in {timeout_s:.0f} s")
            pytest.fail(f"JupyterLab {state}; its log ends:\n{tail}")
        yield f"http://{LOCAL_HOST}:{port}/"
    finally:
        try:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
        except ProcessLookupError:  # it had exited already
            pass
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=10)
        reader.join(timeout=10)


def in_browser_thread(fn: Callable[[Any], None], timeout_s: float = 720) -> None:
    """Run ``fn(browser)`` with its own Chromium in its own thread; re-raise what it raised.

    Playwright's sync API keeps an event loop in the thread that started it, and another test
    module may hold one in the test's thread for the whole session.
    """
    from playwright.sync_api import sync_playwright

    exe = require_chromium()
    outcome: dict[str, BaseException] = {}

    def drive() -> None:
        try:
            with sync_playwright() as pw:
                browser = launch_chromium(pw, exe)
                try:
                    fn(browser)
                finally:
                    browser.close()
        except BaseException as exc:  # re-raised in the test's thread
            outcome["error"] = exc

    worker = threading.Thread(target=drive, daemon=True)
    worker.start()
    worker.join(timeout=timeout_s)
    assert not worker.is_alive(), f"the browser session did not finish in {timeout_s:.0f} s"
    if "error" in outcome:
        raise outcome["error"]

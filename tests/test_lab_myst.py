"""Chapters in a real JupyterLab (headless Chromium): formatted MyST and the book's numbers.

A JupyterLab server (free localhost port, a token) serves a ``make workspace``-style copy of the
course with the repository's lab settings (``.jupyter/lab/settings``). The test opens the start
page and chapter 1 and checks that opening the chapter does not mark it modified, that its
warning admonition renders and that citations show the HTML book's labels (written into the
copies by ``make workspace``). Then it runs chapter 7 and waits for explicit signals (every code
cell has an execution count, the kernel is idle, the results paragraph has its values from the
kernel) before it compares the numbers of the results paragraph with the built HTML book
(``_build/html/book/07_maml.html``). Set ``COURSE_LAB_SCREENSHOTS=<dir>`` to keep screenshots.
"""

from __future__ import annotations

import html
import json
import os
import re
import urllib.request
from pathlib import Path

import pytest
from browser_utils import in_browser_thread, jupyterlab_server

REPO = Path(__file__).resolve().parents[1]
RESULTS_START = "At $K = 10$, MAML reaches"  # the results paragraph of chapter 7
RAW = re.compile(r"\{(eval|glue[:a-z]*|cite[:a-z]*|doc|numref|ref)\}|:::|```")

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _html_values(page: Path) -> list[str]:
    """Texts of the ``{eval}`` values in the book's results paragraph of chapter 7."""
    text = page.read_text(encoding="utf-8")
    for para in re.findall(r"<p>(.*?)</p>", text, flags=re.S):
        if "MAML reaches" in para:
            values = re.findall(r'<span class="pasted-text course-eval">(.*?)</span>', para)
            return [html.unescape(v) for v in values]
    raise AssertionError(f"no results paragraph in {page}")


def _source_paragraph() -> str:
    nb = json.loads((REPO / "book" / "07_maml.ipynb").read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        src = "".join(cell["source"])
        if cell["cell_type"] == "markdown" and RESULTS_START in src:
            # the paragraph (up to the next blank line), as the HTML book's <p>
            return src[src.index(RESULTS_START):].split("\n\n")[0]
    raise AssertionError("chapter 7 has no results paragraph starting " + RESULTS_START)


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """``(base_url, token, workspace)`` of a JupyterLab on a fresh workspace copy."""
    from course_pkg.book_tools import make_workspace

    tmp = tmp_path_factory.mktemp("lab")
    workspace = tmp / "workspace"
    make_workspace(REPO, workspace)
    token = "course-lab-test"
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(tmp / "cfg"), "PYTHONPATH": str(REPO)}
    for var in ("MPLBACKEND", "COURSE_STATIC_FIGURES"):  # interactive figures, as in make lab
        env.pop(var, None)
    settings = [f"--LabApp.app_settings_dir={REPO / '.jupyter' / 'lab' / 'settings'}",
                f"--LabApp.user_settings_dir={tmp / 'user-settings'}",
                f"--LabApp.workspaces_dir={tmp / 'lab-workspaces'}"]
    with jupyterlab_server(workspace, tmp / "server.log", token=token, env=env,
                           extra_args=settings) as base:
        yield base.rstrip("/"), token, workspace


def _shot(page, name: str) -> None:
    folder = os.environ.get("COURSE_LAB_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=False)


def _open(page, base: str, token: str, path: str) -> None:
    # ?reset: a fresh layout with only this notebook (no tabs restored from the last page)
    page.goto(f"{base}/lab/tree/{path}?reset&token={token}", timeout=300_000)
    page.wait_for_selector(".jp-Notebook .jp-MarkdownCell", timeout=300_000)
    # the course kernel has started and is idle (JupyterLab writes its metadata into the model
    # then: a notebook that lacks it would be marked modified from here on)
    page.wait_for_function(_KERNEL_IDLE, timeout=180_000, polling=300)


def _close_all(base: str, token: str) -> None:
    """Shut down every session through the server's REST API, as closing the tabs would: with
    another notebook's session alive, JupyterLab may ask which kernel a new notebook should use
    (a dialog that then marks the notebook modified)."""
    with urllib.request.urlopen(f"{base}/api/sessions?token={token}", timeout=60) as r:
        sessions = json.load(r)
    for s in sessions:
        req = urllib.request.Request(f"{base}/api/sessions/{s['id']}?token={token}",
                                     method="DELETE")
        urllib.request.urlopen(req, timeout=60).close()


_KERNEL_IDLE = """() => {
  const p = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
  if (!p) return false;
  const name = p.querySelector('.jp-Toolbar-kernelName');
  const ind = p.querySelector('.jp-Notebook-ExecutionIndicator');
  return !!name && name.textContent.includes('Python 3 (course)') && !!ind &&
         ind.getAttribute('data-status') === 'idle';
}"""

_WAIT_RUN = """() => {
  const nb = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook');
  if (!nb) return false;
  const prompts = [...nb.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')];
  const done = prompts.length > 0 && prompts.every(p => /\\[\\d+\\]/.test(p.textContent));
  const idle = document.querySelector(
    '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook-ExecutionIndicator[data-status="idle"]');
  // Run All stops at a cell that raised: the kernel is idle, nothing is queued ([*]) and the
  // cells after it are not numbered
  const ran = prompts.some(p => /\\[\\d+\\]/.test(p.textContent));
  const queued = prompts.some(p => p.textContent.includes('*'));
  return !!idle && (done || (ran && !queued));
}"""

# what the notebook shows when Run All does not finish: prompts, kernel status, open dialogs
_STATE = """() => {
  const nb = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook');
  const prompts = nb ? [...nb.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')]
    .map(p => p.textContent.trim()) : null;
  const ind = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) '
    + '.jp-Notebook-ExecutionIndicator');
  return {prompts, status: ind && ind.getAttribute('data-status'),
          dialogs: [...document.querySelectorAll('.jp-Dialog')]
    .map(d => d.innerText.slice(0, 300))};
}"""

# tracebacks in the outputs (JupyterLab renders an error as stderr text)
_ERRORS = """() => [...document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) ' +
  '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')]
  .map(e => e.innerText).filter(t => /Traceback|Error\\b/.test(t)).map(t => t.slice(-1500))"""

_PARA = """(start) => {
  const cells = [...document.querySelectorAll(
    '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-MarkdownCell .jp-RenderedMarkdown, ' +
    '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-MarkdownCell .myst')];
  const cell = cells.find(c => c.innerText.includes(start));
  if (!cell) return null;
  return {text: cell.innerText, code: [...cell.querySelectorAll('code')].map(c => c.innerText),
          errors: cell.querySelectorAll(
            '[data-mime-type="application/vnd.jupyter.stderr"]').length};
}"""


def test_chapters_render_as_myst_with_the_books_numbers(lab) -> None:
    from browser_utils import require_build, run_all_cells

    base, token, workspace = lab
    expected = _html_values(require_build() / "book" / "07_maml.html")
    n_roles = len(re.findall(r"\{eval\}`", _source_paragraph()))
    assert len(expected) == n_roles >= 10, (expected, n_roles)

    def drive(browser) -> None:
        context = browser.new_context(viewport={"width": 1300, "height": 1000})
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        try:
            # the start page of `make lab`: the introduction opens rendered (overrides.json)
            page.goto(f"{base}/lab/tree/book/intro.md?token={token}", timeout=300_000)
            page.locator(".jp-MarkdownViewer h1").first.wait_for(timeout=300_000)
            text = page.locator(".jp-MarkdownViewer").first.inner_text()
            assert not RAW.search(text), text[:400]
            # citations carry the HTML book's labels (make workspace), never bibliography keys
            assert "[Finn et al., 2017]" in text and "finn2017maml" not in text, text[:600]
            _shot(page, "intro")

            # chapter 1, not run: opening it leaves it unmodified; MyST renders on open
            _open(page, base, token, "book/01_supervised_learning.ipynb")
            page.locator(".jp-Notebook .admonition, .jp-Notebook aside").first.wait_for(
                timeout=60_000)
            warning = page.locator(".jp-Notebook .admonition, .jp-Notebook aside").first
            assert "warning" in (warning.get_attribute("class") or "").lower() or \
                "warning" in warning.inner_text().lower()
            intro = page.locator(".jp-Notebook .jp-MarkdownCell").first.inner_text()
            assert not RAW.search(intro), intro[:400]
            assert "[Finn et al., 2017]" in intro and "finn2017maml" not in intro, intro[:600]
            _shot(page, "ch01_open")
            assert page.locator(".jp-mod-dirty").count() == 0, "opening chapter 1 modified it"

            # chapter 7: run all, wait until every code cell ran and the kernel is idle
            _close_all(base, token)
            _open(page, base, token, "book/07_maml.ipynb")
            assert page.locator(".jp-mod-dirty").count() == 0, "opening chapter 7 modified it"
            run_all_cells(page, "07_maml.ipynb")
            try:
                page.wait_for_function(_WAIT_RUN, timeout=480_000, polling=500)
            except Exception:
                _shot(page, "ch07_timeout")
                raise AssertionError("Run All of chapter 7 did not finish: "
                                     + json.dumps(page.evaluate(_STATE))) from None
            _shot(page, "ch07_after_run")
            failed = page.evaluate(_ERRORS)
            assert not failed, "a cell of chapter 7 raised in JupyterLab:\n" + "\n".join(failed)
            # the results paragraph has its values once it holds no unevaluated expression
            # (jupyterlab-myst shows an expression as <code> until the kernel's value arrives)
            page.wait_for_function(
                "(s) => { const c = [...document.querySelectorAll('.jp-MarkdownCell .myst')]"
                ".find(c => c.innerText.includes(s)); return c && ![...c.querySelectorAll("
                "'code')].some(e => /^f\"|^ch\\d+_/.test(e.innerText)); }",
                arg="MAML reaches", timeout=60_000, polling=500)
            para = page.evaluate(_PARA, "MAML reaches")
            assert para is not None
            page.locator(".jp-MarkdownCell .myst", has_text="MAML reaches").first \
                .scroll_into_view_if_needed()
            _shot(page, "ch07_results")
            text = para["text"]
            assert not RAW.search(text) and "f\"{" not in text, text
            unevaluated = [c for c in para["code"] if c.startswith('f"') or re.match(r"ch\d+_", c)]
            assert para["errors"] == 0 and not unevaluated, para
            pos = 0
            for value in expected:  # the book's values, in the same order
                i = text.find(value, pos)
                assert i >= 0, f"{value!r} (HTML book) missing after position {pos} in: {text}"
                pos = i + len(value)
            assert not errors, errors
        finally:
            context.close()

    in_browser_thread(drive)

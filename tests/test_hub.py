"""A real JupyterHub on 127.0.0.1: two students pull the course through nbgitpuller links.

What runs (all started and stopped here, every wait on an explicit signal, each bounded):

- the student release (``make_release``) as a local git repository, nbgitpuller's source;
- JupyterHub (PyPI, ``make hub``) with its proxy ``configurable-http-proxy`` (npm, in
  ``.cache/hub``), configured by ``hub/jupyterhub_config.py`` (loaded as is) plus this machine's
  overrides: a shared-password authenticator for two students and ``SimpleLocalProcessSpawner``
  (one single-user server per student, each in its own home folder, no system accounts);
- for each student, in parallel, their own headless Chromium: log in through a chapter's
  nbgitpuller link, Run All, edit the first code cell and save; after the instructor publishes
  an update, follow the link again: the edit is kept and the update arrives; then open an
  exercise's link, answer question 1 (Ada) or leave it (Grace), run it and read the check.

Phase timings are printed and written to ``.cache/hub/timings.json`` (no timed assert).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from browser_utils import (
    LOCAL_HOST,
    _free_port,
    _missing,
    answer_kernel_dialog,
    in_browser_thread,
    require_chromium,
    run_all_cells,
)

from course_pkg.classroom.links import nbgitpuller_link
from course_pkg.classroom.release import make_release

pytestmark = [pytest.mark.browser, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[1]
CHP = REPO / ".cache" / "hub" / "node_modules" / ".bin" / "configurable-http-proxy"
PASSWORD = "course-hub-test-password"
STUDENTS = ("ada", "grace")
CHAPTER = "book/06_optimization_based.ipynb"  # the shortest chapter (~9 s on a quiet machine)
EXERCISE = "exercises/ex01_supervised_learning.ipynb"
RELEASE_NAME = "learning-to-learn-student"
TIMINGS = REPO / ".cache" / "hub" / "timings.json"

_CELLS_DONE = """() => {
  const nb = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook');
  if (!nb) return false;
  const prompts = [...nb.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')];
  const idle = document.querySelector(
    '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook-ExecutionIndicator[data-status="idle"]');
  const done = prompts.length > 0 && prompts.every(p => /\\[\\d+\\]/.test(p.textContent));
  const ran = prompts.some(p => /\\[\\d+\\]/.test(p.textContent));
  const queued = prompts.some(p => p.textContent.includes('*'));
  return !!idle && (done || (ran && !queued));   // Run All stops at a cell that raised
}"""

_ERRORS = """() => [...document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) ' +
  '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')]
  .map(e => e.innerText).filter(t => /Traceback|Error\\b/.test(t)).map(t => t.slice(-1500))"""


def _hub_config(tmp: Path, port: int, hub_port: int, api_port: int) -> Path:
    """hub/jupyterhub_config.py, then what differs on this test machine."""
    cfg = tmp / "jupyterhub_test_config.py"
    root = os.geteuid() == 0
    cfg.write_text(f"""
load_subconfig({str(REPO / 'hub' / 'jupyterhub_config.py')!r})
c.JupyterHub.bind_url = "http://{LOCAL_HOST}:{port}"
c.JupyterHub.hub_ip = "{LOCAL_HOST}"
c.JupyterHub.hub_port = {hub_port}
c.ConfigurableHTTPProxy.api_url = "http://{LOCAL_HOST}:{api_port}"
c.ConfigurableHTTPProxy.command = [{str(CHP)!r}]
c.ConfigurableHTTPProxy.pid_file = {str(tmp / 'proxy.pid')!r}
c.JupyterHub.db_url = "sqlite:///{tmp / 'hub.sqlite'}"
c.JupyterHub.cookie_secret_file = {str(tmp / 'cookie_secret')!r}
c.JupyterHub.pid_file = {str(tmp / 'hub.pid')!r}
c.JupyterHub.cleanup_servers = True
c.JupyterHub.authenticator_class = \
    "jupyterhub.authenticators.shared.SharedPasswordAuthenticator"
c.SharedPasswordAuthenticator.user_password = {PASSWORD!r}
c.Authenticator.allowed_users = {set(STUDENTS)!r}
c.Authenticator.allow_all = False
c.Authenticator.admin_users = set()
c.JupyterHub.spawner_class = "simple"
c.SimpleLocalProcessSpawner.home_dir_template = {str(tmp / 'home' / '{username}')!r}
# as a hub image would: course_pkg without a course repository around it, so that the exercise
# finds its public tests next to the pulled copy (learner/exercises/tests)
c.Spawner.environment["COURSE_ROOT"] = {str(tmp / 'home')!r}
c.Spawner.args = c.Spawner.args + {['--allow-root'] if root else []!r}
""")
    return cfg


class Hub:
    """``jupyterhub`` in its own process group; :meth:`start` returns once it says it runs."""

    def __init__(self, cfg: Path, log: Path, url: str):
        self.cfg, self.log, self.url = cfg, log, url
        self.proc: subprocess.Popen | None = None
        self.running = threading.Event()
        self.said = threading.Event()

    def start(self, timeout_s: float = 180) -> None:
        env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "jupyterhub", "-f", str(self.cfg)], cwd=self.cfg.parent,
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            errors="replace", start_new_session=True)

        def pump() -> None:
            with open(self.log, "w", encoding="utf-8") as f:
                for line in self.proc.stdout:
                    f.write(line)
                    f.flush()
                    if "JupyterHub is now running at" in line:
                        self.running.set()
                        self.said.set()
            self.said.set()

        threading.Thread(target=pump, daemon=True).start()
        self.said.wait(timeout_s)
        if not self.running.is_set():
            state = (f"exited with code {self.proc.poll()}" if self.proc.poll() is not None
                     else f"did not say it runs in {timeout_s:.0f} s")
            pytest.fail(f"JupyterHub {state}; its log ends:\n{self.tail()}")

    def tail(self, n: int = 4000) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")[-n:]

    def stop(self) -> None:
        """SIGTERM: the hub stops the single-user servers and the proxy (cleanup_servers);
        whatever of its process tree is still alive after that is killed."""
        if self.proc is None:
            return
        import psutil

        try:
            tree = psutil.Process(self.proc.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            tree = []
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=60)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        _, alive = psutil.wait_procs(tree, timeout=30)
        for p in alive:
            p.kill()


def _require_hub() -> None:
    try:
        import jupyterhub  # noqa: F401
        import nbgitpuller  # noqa: F401
    except ImportError:
        _missing("jupyterhub/nbgitpuller are not installed in .venv: run `make hub`")
    if not CHP.exists():
        _missing(f"configurable-http-proxy is missing ({CHP}): run `make hub` (needs npm)")
    require_chromium()


def _open_link(page, link: str, user: str, name: str) -> None:
    """Follow an nbgitpuller link (logging in when the hub asks) until JupyterLab shows the
    notebook ``name`` with the course kernel idle."""
    page.goto(link, timeout=120_000)
    if page.locator("#login_submit").count():
        page.fill("#username_input", user)
        page.fill("#password_input", PASSWORD)
        page.click("#login_submit")
    # the hub spawns the server, nbgitpuller pulls, then JupyterLab opens the copy
    page.wait_for_url(re.compile(r"/user/[^/]+/lab"), timeout=300_000)
    tab = page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab", has_text=name)
    tab.first.wait_for(timeout=180_000)
    page.wait_for_function(
        """() => { const p = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
                   const i = p && p.querySelector('.jp-Notebook-ExecutionIndicator');
                   const k = p && p.querySelector('.jp-Toolbar-kernelName');
                   return !!i && !!k && k.textContent.includes('Python 3 (course)')
                          && i.getAttribute('data-status') === 'idle'; }""",
        timeout=240_000, polling=300)
    answer_kernel_dialog(page)


def _run_all(page, name: str) -> None:
    run_all_cells(page, name)
    page.wait_for_function(_CELLS_DONE, timeout=300_000, polling=500)


def _save(page) -> None:
    page.keyboard.press("Control+s")
    page.wait_for_function(
        "() => !document.querySelector('.lm-DockPanel-tabBar .lm-TabBar-tab.jp-mod-current"
        ".jp-mod-dirty')", timeout=60_000, polling=200)


def _set_cell(page, contains: str, code: str, prepend: bool) -> None:
    """Put ``code`` before (``prepend``) or in place of the source of the first code cell whose
    text contains ``contains``, through the cell's editor as a learner types it."""
    cell = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell",
                        has_text=contains).first
    editor = cell.locator(".cm-content")
    editor.click()
    page.keyboard.press("Control+Home" if prepend else "Control+a")
    page.keyboard.insert_text(code)
    page.wait_for_function("([c, t]) => [...document.querySelectorAll('.jp-NotebookPanel:not(."
                           "lm-mod-hidden) .jp-CodeCell .cm-content')].some(e => "
                           "e.innerText.includes(t))", arg=[contains, code.splitlines()[0]],
                           timeout=30_000)


def test_two_students_pull_run_edit_and_check(tmp_path: Path) -> None:
    _require_hub()
    t0 = time.perf_counter()
    times: dict[str, float] = {}
    srv = tmp_path / "srv"
    release = make_release(REPO, srv / RELEASE_NAME).dest
    repo_url = f"file://{release}"
    times["release_s"] = time.perf_counter() - t0
    port, hub_port, api_port = _free_port(), _free_port(), _free_port()
    while len({port, hub_port, api_port}) < 3:
        hub_port, api_port = _free_port(), _free_port()
    base = f"http://{LOCAL_HOST}:{port}"
    hub = Hub(_hub_config(tmp_path, port, hub_port, api_port), tmp_path / "hub.log", base)
    chapter_link = nbgitpuller_link(base, repo_url, CHAPTER)
    exercise_link = nbgitpuller_link(base, repo_url, EXERCISE)
    chapter_name, exercise_name = Path(CHAPTER).name, Path(EXERCISE).name
    notes = {u: f"# {u}'s note: the inner loop adapts, the outer loop learns the start" for u in
             STUDENTS}
    solved = json.loads((REPO / "solutions" / Path(EXERCISE).name).read_text())
    answer = next("".join(c["source"]) for c in solved["cells"]
                  if "def loss_grad" in "".join(c["source"]))
    first_pull = {u: threading.Event() for u in STUDENTS}
    published = threading.Event()
    seen: dict[str, dict] = {u: {} for u in STUDENTS}
    student_errors: dict[str, BaseException] = {}

    def student(user: str, browser) -> None:
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.set_default_timeout(120_000)
        s = time.perf_counter()
        _open_link(page, chapter_link, user, chapter_name)
        seen[user]["login_spawn_pull_s"] = time.perf_counter() - s
        s = time.perf_counter()
        _run_all(page, chapter_name)
        seen[user]["run_chapter_s"] = time.perf_counter() - s
        seen[user]["chapter_errors"] = page.evaluate(_ERRORS)
        _set_cell(page, "import", notes[user] + "\n", prepend=True)
        _save(page)
        first_pull[user].set()
        assert published.wait(300), "the instructor's update was not published"
        s = time.perf_counter()
        _open_link(page, chapter_link, user, chapter_name)
        seen[user]["second_pull_s"] = time.perf_counter() - s
        seen[user]["note_shown"] = page.locator(
            ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell .cm-content",
            has_text=notes[user].split(":")[0]).count()
        s = time.perf_counter()
        _open_link(page, exercise_link, user, exercise_name)
        if user == "ada":
            _set_cell(page, "def loss_grad", answer, prepend=False)
        _run_all(page, exercise_name)
        check = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell",
                             has_text='grader.check("q1")').first
        out = check.locator(".jp-OutputArea-output").first
        out.wait_for(timeout=60_000)
        seen[user]["q1_output"] = out.inner_text()
        _save(page)
        seen[user]["exercise_s"] = time.perf_counter() - s
        page.close()

    def drive(user: str) -> None:
        try:
            in_browser_thread(lambda browser: student(user, browser), timeout_s=600)
        except BaseException as exc:  # noqa: BLE001 (re-raised below, in the test's thread)
            student_errors[user] = exc
            first_pull[user].set()

    s = time.perf_counter()
    hub.start()
    times["hub_start_s"] = time.perf_counter() - s
    try:
        threads = [threading.Thread(target=drive, args=(u,), daemon=True) for u in STUDENTS]
        for t in threads:
            t.start()
        for u in STUDENTS:
            assert first_pull[u].wait(600), f"{u} did not finish the first pull"
        # the instructor publishes an update: a new page and an edited start page
        (release / "learner" / "book" / "errata.md").write_text("# Errata\n\nNone yet.\n")
        intro = release / "learner" / "book" / "intro.md"
        intro.write_text(intro.read_text() + "\nUpdated by the instructor.\n")
        subprocess.run(["git", "add", "-A"], cwd=release, check=True)
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@localhost", "commit",
                        "-qm", "errata page"], cwd=release, check=True)
        published.set()
        for t in threads:
            t.join(timeout=600)
            assert not t.is_alive(), "a student's browser session did not finish"
    finally:
        published.set()
        hub.stop()
    times["total_s"] = time.perf_counter() - t0
    for u in STUDENTS:
        times.update({f"{u}_{k}": v for k, v in seen[u].items() if k.endswith("_s")})
    TIMINGS.parent.mkdir(parents=True, exist_ok=True)
    TIMINGS.write_text(json.dumps({k: round(v, 1) for k, v in times.items()}, indent=1))
    print("hub test timings (s):", json.dumps({k: round(v, 1) for k, v in times.items()}))
    if student_errors:
        user, err = next(iter(student_errors.items()))
        raise AssertionError(f"{user}'s session failed: {err!r}\nhub log:\n{hub.tail()}") from err

    for u in STUDENTS:
        clone = tmp_path / "home" / u / RELEASE_NAME
        assert (clone / ".git").is_dir(), f"nbgitpuller did not clone the release for {u}"
        assert seen[u]["chapter_errors"] == [], f"{u}: chapter raised {seen[u]['chapter_errors']}"
        chapter = json.loads((clone / "learner" / CHAPTER).read_text())
        code = ["".join(c["source"]) for c in chapter["cells"] if c["cell_type"] == "code"]
        assert code[0].startswith(notes[u]), f"{u}'s edit was lost by the second pull"
        assert any(c.get("outputs") for c in chapter["cells"] if c["cell_type"] == "code"), \
            f"{u}'s saved chapter has no outputs (did it run?)"
        assert seen[u]["note_shown"] == 1, f"JupyterLab did not show {u}'s edit after the pull"
        assert (clone / "learner" / "book" / "errata.md").is_file(), "the update did not arrive"
        assert "Updated by the instructor." in (clone / "learner" / "book" / "intro.md").read_text()
        other = [o for o in STUDENTS if o != u][0]
        assert notes[other] not in json.dumps(chapter), "one student's edit reached the other"
    assert "hidden test" in seen["ada"]["q1_output"], seen["ada"]["q1_output"]
    assert "passed" in seen["ada"]["q1_output"].lower(), seen["ada"]["q1_output"]
    grace = seen["grace"]["q1_output"]
    assert "hidden test" not in grace and "failed" in grace.lower(), grace

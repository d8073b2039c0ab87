"""The grader as a Gradescope autograder and a PrairieLearn external grader, and container mode.

Each entry point runs in a folder laid out as the platform lays it out (``/autograder/...``,
``/grade/...``), as a separate process like the platform's: a solved notebook gets full marks,
the untouched exercise zero, ``results.json`` has per-question scores and messages, names the
boundary, and holds neither a hidden test's code nor its name. One run of each entry point uses
bubblewrap, the other the container mode (``COURSE_GRADING_BOUNDARY=container``: the kernel as
an unprivileged user of its own with limits, the mode used where bubblewrap cannot run).

Container mode needs the interpreter to be reachable by other users; on the course machines
Python lives under ``/root`` (mode 0700), so those runs add the search bit (``o+x``: enter, not
list) to ``/root`` for their duration and restore the mode afterwards.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from course_pkg.classroom.platforms import build_gradescope_zip, unzip_with_modes
from course_pkg.classroom.release import solution_fingerprints
from course_pkg.grading.container import UID_BASE, container_argv, end_processes, kernel_uid
from course_pkg.grading.sandbox import Limits, prepare_workdir, sandbox_python

REPO = Path(__file__).resolve().parents[1]
EX = "ex01_supervised_learning"
pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not sys.platform.startswith("linux"),
                                reason="the platforms grade as root on Linux")


@contextmanager
def _reachable_python() -> Iterator[None]:
    """Let other users reach the interpreter for the duration (see the module docstring)."""
    closed = [p for p in Path(sys.base_prefix).resolve().parents
              if not p.stat().st_mode & stat.S_IXOTH]
    modes = {p: p.stat().st_mode for p in closed}
    try:
        for p, m in modes.items():
            os.chmod(p, stat.S_IMODE(m) | stat.S_IXOTH)
        yield
    finally:
        for p, m in modes.items():
            os.chmod(p, stat.S_IMODE(m))


@pytest.fixture
def base() -> Iterator[Path]:
    """A platform folder outside pytest's private tmp (which other users could not enter)."""
    d = Path(tempfile.mkdtemp(prefix="course-platform-test-"))
    os.chmod(d, 0o755)
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def hidden() -> dict[str, set[str]]:
    """The hidden tests' names and code lines of EX (what results.json must never show)."""
    fp = solution_fingerprints(REPO)
    names = {s.split("::", 1)[1] for s in fp["scoped"] if s.startswith(f"{EX}::")}
    text = "".join(p.read_text() for p in (REPO / "solutions" / "tests" / EX).glob("*.py"))
    lines = {s for s in fp["tests"] if s in text}
    assert names and lines
    return {"names": names, "lines": lines}


def _run(module_args: list[str], cwd: Path, pythonpath: Path, container: bool) -> None:
    env = {k: v for k, v in os.environ.items()
           if k not in ("COURSE_ROOT", "COURSE_GRADING_BOUNDARY", "COURSE_GRADING_NO_SANDBOX")}
    env["PYTHONPATH"] = str(pythonpath)
    if container:
        env["COURSE_GRADING_BOUNDARY"] = "container"
    res = subprocess.run([sys.executable, "-m", "course_pkg.classroom", *module_args], cwd=cwd,
                         env=env, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]


def _assert_no_hidden(results: dict, hidden: dict[str, set[str]]) -> None:
    text = json.dumps(results)
    for name in hidden["names"]:
        assert name not in text, f"results.json names the hidden test {name}"
    for line in hidden["lines"]:
        assert line not in text, f"results.json shows hidden test code: {line!r}"


def _processes_of(uid: int) -> list[int]:
    import psutil

    return [p.pid for p in psutil.process_iter(["uids"])
            if p.info["uids"] is not None and p.info["uids"].real == uid]


def test_gradescope_zip_has_cpu_torch_and_no_weights(tmp_path: Path) -> None:
    z = build_gradescope_zip(EX, tmp_path / "ag.zip", REPO)
    unzip_with_modes(z, tmp_path / "source")
    src = tmp_path / "source"
    for f in ("setup.sh", "run_autograder"):
        assert os.access(src / f, os.X_OK), f"{f} is not executable in the zip"
    reqs = (src / "requirements.txt").read_text().splitlines()
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in reqs
    assert any(r.startswith("torch==") and r.endswith("+cpu") for r in reqs)
    assert f"--exercise {EX}" in (src / "run_autograder").read_text()
    assert sorted(p.name for p in (src / "tests" / EX).glob("*.py")) == \
        sorted(p.name for p in (REPO / "solutions" / "tests" / EX).glob("*.py"))
    assert not (src / "course_pkg" / "weights").exists()
    assert not (src / "solutions").exists()


def _gradescope(base: Path, notebook: Path, container: bool) -> dict:
    z = build_gradescope_zip(EX, base / "ag.zip", REPO)
    unzip_with_modes(z, base / "source")
    (base / "submission").mkdir()
    shutil.copy(notebook, base / "submission" / f"{EX}.ipynb")
    _run(["gradescope", "--exercise", EX, "--base", str(base)], base / "source",
         base / "source", container)
    mode = (base / "source" / "tests" / EX).stat().st_mode
    assert not mode & (stat.S_IRWXG | stat.S_IRWXO), "the hidden tests were left readable"
    return json.loads((base / "results" / "results.json").read_text())


def test_gradescope_solution_full_marks_in_container_mode(base: Path, hidden) -> None:
    with _reachable_python():
        res = _gradescope(base, REPO / "solutions" / f"{EX}.ipynb", container=True)
    assert res["tests"], res
    full = sum(t["max_score"] for t in res["tests"])
    assert res["score"] == full > 0, res
    assert all(t["score"] == t["max_score"] for t in res["tests"])
    assert all(t["visibility"] == "visible" for t in res["tests"])
    assert "Boundary: container mode" in res["output"], res["output"]
    uid = int(re.search(r"\(uid (\d+)\)", res["output"]).group(1))
    assert uid >= UID_BASE
    assert _processes_of(uid) == [], "container mode left processes of the kernel's user behind"
    _assert_no_hidden(res, hidden)


def test_gradescope_untouched_exercise_scores_zero_with_messages(base: Path, hidden) -> None:
    res = _gradescope(base, REPO / "exercises" / f"{EX}.ipynb", container=False)
    assert res["score"] == 0 and res["tests"], res
    assert all(t["score"] == 0 for t in res["tests"])
    q1 = res["tests"][0]
    assert "public test test_q1_value_on_D: " in q1["output"], q1
    assert "loss_grad" in q1["output"], q1  # the message says what to fix
    assert "hidden test 1" in q1["output"], q1
    assert "Boundary: bubblewrap" in res["output"], res["output"]
    _assert_no_hidden(res, hidden)


def test_gradescope_without_a_notebook_says_what_to_upload(base: Path) -> None:
    (base / "source" / "tests" / EX).mkdir(parents=True)
    (base / "submission").mkdir()
    (base / "submission" / "answers.txt").write_text("no notebook")
    res = subprocess.run([sys.executable, "-m", "course_pkg.classroom", "gradescope",
                          "--exercise", EX, "--base", str(base)], capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 1
    out = json.loads((base / "results" / "results.json").read_text())
    assert out["score"] == 0 and f"upload {EX}.ipynb" in out["output"]


def _prairielearn(base: Path, notebook: Path, container: bool) -> dict:
    (base / "data").mkdir()
    (base / "data" / "data.json").write_text(json.dumps({"params": {"exercise": EX},
                                                         "submitted_answers": {}}))
    (base / "student").mkdir()
    shutil.copy(notebook, base / "student" / f"{EX}.ipynb")
    shutil.copytree(REPO / "solutions" / "tests" / EX, base / "tests" / EX)
    shutil.copytree(REPO / "course_pkg", base / "serverFilesCourse" / "course_pkg",
                    ignore=shutil.ignore_patterns("__pycache__", "weights", "results"))
    _run(["prairielearn", "--base", str(base)], base / "serverFilesCourse",
         base / "serverFilesCourse", container)
    return json.loads((base / "results" / "results.json").read_text())


def test_prairielearn_solution_full_marks(base: Path, hidden) -> None:
    res = _prairielearn(base, REPO / "solutions" / f"{EX}.ipynb", container=False)
    assert res["gradable"] is True and res["score"] == 1.0, res
    assert all(t["points"] == t["max_points"] for t in res["tests"])
    assert "Boundary: bubblewrap" in res["message"]
    _assert_no_hidden(res, hidden)


def test_prairielearn_untouched_exercise_zero_in_container_mode(base: Path, hidden) -> None:
    with _reachable_python():
        res = _prairielearn(base, REPO / "exercises" / f"{EX}.ipynb", container=True)
    assert res["gradable"] is True and res["score"] == 0.0, res
    assert all(t["points"] == 0 for t in res["tests"]) and len(res["tests"]) == 4
    assert "Boundary: container mode" in res["message"]
    _assert_no_hidden(res, hidden)


_ATTACK = r"""
import json, os, resource, signal
out = {"uid": os.getuid(), "as": resource.getrlimit(resource.RLIMIT_AS)[0]}
for what, fn in [("read", lambda: open(HIDDEN).read()),
                 ("write", lambda: open(HIDDEN, "a").write("#")),
                 ("create", lambda: open(os.path.join(os.path.dirname(HIDDEN), "x.py"), "w")),
                 ("list", lambda: os.listdir(os.path.dirname(HIDDEN))),
                 ("signal", lambda: os.kill(GRADER, signal.SIGTERM)),
                 ("environ", lambda: open(f"/proc/{GRADER}/environ").read())]:
    try:
        fn()
        out[what] = "allowed"
    except OSError as err:
        out[what] = type(err).__name__
import subprocess
subprocess.Popen(["sleep", "300"], start_new_session=True, stdin=subprocess.DEVNULL,
                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # outlives the kernel
print(json.dumps(out))
"""


def test_container_mode_kernel_cannot_reach_the_tests_or_the_grader(base: Path) -> None:
    """What the container mode's user may do, tried directly: nothing of the hidden tests (made
    root-only as the entry points make them), nothing to the grader, and it is limited."""
    from course_pkg.grading.container import hide

    tests = base / "tests" / EX
    shutil.copytree(REPO / "solutions" / "tests" / EX, tests)
    hide(base / "tests")
    workdir = prepare_workdir()
    try:
        code = f"HIDDEN = {str(tests / 'q1.py')!r}\nGRADER = {os.getpid()}\n" + _ATTACK
        argv = container_argv(workdir, str(REPO / "course_pkg"), Limits(mem_mb=4096))
        with _reachable_python():
            res = subprocess.run([*argv, sandbox_python(), "-c", code], cwd=workdir,
                                 capture_output=True, text=True, timeout=60)
        assert res.returncode == 0, res.stderr[-2000:]
        out = json.loads(res.stdout.strip().splitlines()[-1])
        left = _processes_of(kernel_uid())
        assert left, "the detached child should still run before the clean-up"
        assert end_processes() == len(left)
        assert _processes_of(kernel_uid()) == []
    finally:
        end_processes()  # whatever is left if an assertion above failed
        shutil.rmtree(workdir, ignore_errors=True)
    assert out["uid"] == kernel_uid() != 0
    assert out["as"] == 4096 * 1024 * 1024
    for what in ("read", "write", "create", "list"):
        assert out[what] == "PermissionError", (what, out)
    assert out["signal"] == "PermissionError" and out["environ"] == "PermissionError", out


@pytest.mark.slow
def test_gradescope_zip_requirements_are_enough_to_grade(base: Path, tmp_path: Path) -> None:
    """The zip's requirements.txt alone (CPU-only torch) grades a solution with full marks: a
    scratch environment as setup.sh makes it (uv instead of pip for speed; PyTorch's CPU wheel
    from the local wheel folder, as tests/test_binder.py explains)."""
    from test_binder import _local_cpu_torch, _tool

    uv = _tool("uv")
    local = _local_cpu_torch()
    if local is None:
        pytest.skip("no local CPU torch wheel")
    z = build_gradescope_zip(EX, base / "ag.zip", REPO)
    unzip_with_modes(z, base / "source")
    reqs = (base / "source" / "requirements.txt").read_text().splitlines()
    assert reqs[0].startswith("--extra-index-url") and reqs[1].endswith("+cpu")
    (tmp_path / "requirements.txt").write_text("\n".join([local[0], *reqs[2:]]) + "\n")
    env_dir = base / "venv"  # outside pytest's tmp: the kernel's user must reach it
    run = subprocess.run([uv, "venv", "-q", "-p", sys.executable, str(env_dir)],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    env = {**os.environ, "VIRTUAL_ENV": str(env_dir), "UV_NO_PROGRESS": "1"}
    run = subprocess.run([uv, "pip", "install", "-q", "-r", str(tmp_path / "requirements.txt")],
                         env=env, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    (base / "submission").mkdir()
    shutil.copy(REPO / "solutions" / f"{EX}.ipynb", base / "submission" / f"{EX}.ipynb")
    clean = {k: v for k, v in os.environ.items()
             if k not in ("COURSE_ROOT", "COURSE_GRADING_BOUNDARY", "VIRTUAL_ENV")}
    res = subprocess.run([str(env_dir / "bin" / "python"), "-c",
                          "import torch; assert torch.version.cuda is None\n"
                          "from course_pkg.classroom.__main__ import main\n"
                          f"raise SystemExit(main(['gradescope', '--exercise', '{EX}', "
                          f"'--base', '{base}']))"],
                         cwd=base / "source", env={**clean, "PYTHONPATH": str(base / "source")},
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    out = json.loads((base / "results" / "results.json").read_text())
    assert out["score"] == sum(t["max_score"] for t in out["tests"]) > 0, out

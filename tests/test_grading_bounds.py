"""The trusted side bounds itself: answers are decoded in linear time and refused by their logical
size before anything compares them, a question's trusted work is stopped by a timer, the grader
caps its own memory, killed graders leave no work folder, and what a learner controls (file
names, messages) reaches neither a spreadsheet formula nor the terminal raw.

Fast unit tests (no kernel), except the sandbox's disk limits (one sandboxed kernel).
"""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from course_pkg.grading import boundary
from course_pkg.grading.agent import TAG
from course_pkg.grading.batch import csv_cell
from course_pkg.grading.boundary import GraderTimeout, RemoteFailure, decode
from course_pkg.grading.grade import trusted_time_bound
from course_pkg.grading.report import GradeReport, QuestionReport, safe_text, write_json
from course_pkg.grading.sandbox import WORKDIR_PREFIX, sandbox_status, sweep_workdirs
from course_pkg.grading.submission import checked_questions, schedule


def _nested_bomb(depth: int) -> dict:
    """The 2.4 kB answer of the issue: ndarray_list nodes whose data fail ``np.array`` (ragged),
    nested ``depth`` times. The old decoder decoded each level twice: 2**depth work."""
    x: object = [1]
    for _ in range(depth):
        x = {TAG: "ndarray_list", "data": [x, [1, 2]], "shape": [2]}
    return x


def test_decoding_is_linear_in_the_answer(monkeypatch):
    calls = [0]
    real = boundary.decode

    def counting(*a, **k):
        calls[0] += 1
        return real(*a, **k)

    monkeypatch.setattr(boundary, "decode", counting)
    depth = 15  # 30 levels: under the depth limit; 2**15 calls for the old decoder
    boundary.decode(_nested_bomb(depth), None)
    # one call per node: depth levels, each a dict, its list, the [1, 2] list and its 2 items
    assert calls[0] <= 8 * depth, calls[0]


def test_shared_references_cannot_multiply_the_work():
    """A DAG answer (each level lists the previous one twice: tiny as a pickle, 2**30 nodes as
    a tree) is cut off by the item budget instead of being walked."""
    x: object = [1.0]
    for _ in range(30):
        x = [x, x]
    buf = io.BytesIO()
    torch.save(x, buf)
    assert len(buf.getvalue()) < 4096
    with pytest.raises(RemoteFailure, match="more than"):
        decode(torch.load(io.BytesIO(buf.getvalue()), weights_only=True), None)


def test_deep_nesting_is_refused_not_a_recursion_error():
    x: object = 0
    for _ in range(5000):
        x = [x]
    with pytest.raises(RemoteFailure, match="nested more than"):
        decode(x, None)


def test_zero_stride_views_are_refused_by_logical_size():
    huge = torch.zeros(3).expand(2**28, 3)  # 12 bytes of storage, 3 GB logical
    buf = io.BytesIO()
    torch.save({TAG: "ok", "value": {"w": huge}}, buf)
    assert len(buf.getvalue()) < 4096
    loaded = torch.load(io.BytesIO(buf.getvalue()), weights_only=True)
    with pytest.raises(RemoteFailure, match="too large to grade"):
        decode(loaded["value"], None)
    # many views that are small one by one still count against one budget
    many = [torch.zeros(1).expand(2**20) for _ in range(40)]  # 40 x 4 MB logical
    with pytest.raises(RemoteFailure, match="too large to grade"):
        decode(many, None)
    ok = decode({"w": torch.zeros(1).expand(4, 3)}, None)["w"]
    assert ok.shape == (4, 3) and ok.stride() == (3, 1)  # materialised, contiguous


@pytest.mark.parametrize("bad", [
    lambda: torch.ones(3).to_sparse(),
    lambda: torch.quantize_per_tensor(torch.ones(2), 0.1, 0, torch.qint8),
    lambda: 2 ** 5000,
    lambda: {TAG: "handle", "id": "0"},
    lambda: {(1, 2): 3},
])
def test_non_plain_answers_are_refused(bad):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = bad()
    with pytest.raises(RemoteFailure):
        decode(value, None)


def test_trusted_work_on_an_answer_is_stopped_by_a_timer():
    with pytest.raises(GraderTimeout):
        with trusted_time_bound(0.2):
            while True:
                pass


def test_grader_caps_its_own_memory():
    code = ("from course_pkg.grading.grade import bound_grader\n"
            "bound_grader(1024, 600)\n"
            "import numpy as np\n"
            "try:\n    np.ones(2**31)\nexcept MemoryError:\n    print('capped')\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert out.stdout.strip() == "capped", out.stderr[-2000:]


def test_grader_check_is_scheduled_from_code_not_text():
    assert checked_questions('# grader.check("q3") later\nx = "grader.check(\'q4\')"') == []
    assert checked_questions('grader.check("q3")') == ["q3"]
    assert checked_questions("%time grader.check('q2')\ngrader.check('q1')") == ["q1"]

    class Q:
        def __init__(self, name):
            self.name = name

    cells = [(1, '# remember grader.check("q2") at the end'), (2, "x = 1"),
             (3, 'grader.check("q1")'), (5, 'grader.check("q2")')]
    assert schedule(cells, [Q("q1"), Q("q2")]) == [(3, "q1"), (5, "q2")]


def test_terminal_control_bytes_are_escaped():
    rep = GradeReport("nb\x1b[2J.ipynb", "ex01", [QuestionReport("q1", 0, 1)], [], 0, 1, 0.1,
                      ["\x07bell \x00nul \x1b]0;title\x07 \u202eevil"])
    text = rep.table()
    assert not any(c in text for c in "\x1b\x07\x00\u202e"), repr(text)
    assert "\\x1b[2J" in text and "\\x07bell" in text
    assert safe_text("a\nb\tc") == "a\nb\tc"


@pytest.mark.parametrize(("value", "shown"), [
    ('=HYPERLINK("http://x","100")', '\'=HYPERLINK("http://x","100")'),
    ("+1+cmd|' /C calc'!A0", "'+1+cmd|' /C calc'!A0"),
    ("-x_ex01", "'-x_ex01"), ("@SUM(A1)", "'@SUM(A1)"), ("\tx", "'\tx"),
    ("-1.5", "-1.5"), ("alice", "alice"), ("a\x1bb", "a\\x1bb"),
])
def test_csv_cells_never_start_a_formula(value, shown):
    assert csv_cell(value) == shown


def test_report_of_a_245_character_notebook_name_is_written(tmp_path):
    rep = GradeReport("x", "ex01", [], [], 0, 0, 0.0)
    out = write_json(rep, tmp_path / ("a" * 245 + ".json"))
    assert out.is_file() and len(out.name) == 250
    assert [p.name for p in tmp_path.iterdir()] == [out.name]  # no temporary file left


def test_work_folders_of_dead_graders_are_swept(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    gone = tmp_path / f"{WORKDIR_PREFIX}{dead.pid}-abc"
    kept = tmp_path / f"{WORKDIR_PREFIX}{os.getppid()}-abc"
    other = tmp_path / "course-grade-all-xyz"
    for d in (gone, kept, other):
        d.mkdir()
        (d / "notebook.ipynb").write_text("{}")
    removed = sweep_workdirs(str(tmp_path))
    assert removed == [str(gone)]
    assert not gone.exists() and kept.exists() and other.exists()


SANDBOX = pytest.mark.skipif(not sandbox_status()[0], reason=f"no sandbox: {sandbox_status()[1]}")


@SANDBOX
@pytest.mark.timeout(300)
def test_sandbox_tmp_and_work_folder_are_bounded():
    from course_pkg.grading.kernel import GradingKernel

    with GradingKernel(mem_mb=6144, sandbox=True, disk_mb=32, interrupt_grace=2.0) as k:
        # files of 48 MB (under the 64 MB file-size limit), 320 MB in all: the tmpfs refuses
        r = k.run("import os\n"
                  "try:\n"
                  "    for i in range(40):\n"
                  "        with open(f'/tmp/big{i}', 'wb') as fh:\n"
                  "            for _ in range(6):\n"
                  "                fh.write(b'x' * 2**23)\n"
                  "except OSError as err:\n"
                  "    print('refused', err.errno)\n"
                  "finally:\n"
                  "    for i in range(40):\n"
                  "        if os.path.exists(f'/tmp/big{i}'):\n"
                  "            os.remove(f'/tmp/big{i}')\n"
                  "print(os.statvfs('/tmp').f_blocks * os.statvfs('/tmp').f_frsize // 2**20)", 60)
        lines = r.stdout.split()
        assert lines[:2] == ["refused", "28"] and int(lines[2]) <= 256, r
        r = k.run("for i in range(100):\n"
                  "    open(f'f{i}', 'wb').write(b'x' * 2**22)\n", 60)
        assert r.status == "dead" and r.ename == "DiskQuotaExceeded" and r.kernel_lost, r
        assert sum(p.stat().st_size for p in Path(k.cwd).glob("f*")) == 0
        assert k.run("print(1 + 1)", 30).stdout.strip() == "2"  # a fresh kernel


@SANDBOX
@pytest.mark.timeout(300)
def test_a_killed_grader_leaves_no_work_folder(tmp_path):
    """SIGTERM: the grader removes its folder itself; SIGKILL: the next grader sweeps it."""
    from course_pkg.grading.masters import course_root, output_paths

    nb = output_paths("ex01_supervised_learning", course_root())["exercise"]
    for sig in (signal.SIGTERM, signal.SIGKILL):
        proc = subprocess.Popen(
            [sys.executable, "-m", "course_pkg.grading", "grade", "--json",
             str(tmp_path / "r.json"), "--", str(nb)],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        mine = f"{WORKDIR_PREFIX}{proc.pid}-"
        tmp = Path("/tmp")
        folder = None
        while folder is None and proc.poll() is None:  # waits for the folder to appear
            folder = next((p for p in tmp.iterdir() if p.name.startswith(mine)), None)
        assert folder is not None, "the grader ended before making its work folder"
        proc.send_signal(sig)
        proc.wait(timeout=120)
        if sig == signal.SIGKILL:
            sweep_workdirs()
        assert not folder.exists(), f"{sig!r} left {folder}"


def test_the_command_line_bounds_only_its_own_process(tmp_path):
    """``main()`` called from Python (a test, a platform entry point) leaves the caller's
    limits alone: only ``python -m course_pkg.grading`` caps itself. A test run that inherited
    an 8 GB address-space cap could no longer start Chromium."""
    import resource

    from course_pkg.grading.__main__ import main

    before = resource.getrlimit(resource.RLIMIT_AS)
    nb = tmp_path / "ex01_supervised_learning.ipynb"
    nb.write_text('{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}\n')
    main(["grade", str(nb), "--json", str(tmp_path / "r.json"), "--quiet", "--insecure"])
    assert resource.getrlimit(resource.RLIMIT_AS) == before

"""The grader is robust: broken notebooks derived from exercise 1's solution lose only the broken
question, grading always ends, the memory cap reports clearly, and folders grade into one CSV.

Every broken notebook is built at test time from the committed solved twin
``solutions/ex01_supervised_learning.ipynb`` (questions q1..q4 worth 3, 3, 5, 3 points).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from course_pkg.grading import GradingError, GradingKernel, grade_notebook
from course_pkg.grading.__main__ import main as cli
from course_pkg.grading.grade import identify_exercise, is_otter_cell
from course_pkg.grading.masters import MasterError, course_root, output_paths, validate_master

NAME = "ex01_supervised_learning"
ROOT = course_root()
PATHS = output_paths(NAME, ROOT)
FULL = {"q1": 3.0, "q2": 3.0, "q3": 5.0, "q4": 3.0}
#: per-cell limit for the notebooks with infinite loops (generous: the import cell loads torch on
#: a loaded machine); the other notebooks use the default limit.
LOOP_TIMEOUT = 20.0

pytestmark = pytest.mark.skipif(not PATHS["solution"].is_file(), reason="exercise 1 not generated")


# -- building broken notebooks ----------------------------------------------------------------
def _solution() -> dict:
    return json.loads(PATHS["solution"].read_text())


def _src(cell: dict) -> str:
    s = cell["source"]
    return "".join(s) if isinstance(s, list) else s


def _find(nb: dict, needle: str) -> int:
    hits = [i for i, c in enumerate(nb["cells"]) if c["cell_type"] == "code" and needle in _src(c)]
    assert len(hits) == 1, f"{needle!r} found in {len(hits)} cells"
    return hits[0]


def _edit(nb: dict, needle: str, fn) -> None:
    i = _find(nb, needle)
    nb["cells"][i]["source"] = fn(_src(nb["cells"][i]))


def _write(nb: dict, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(nb, indent=1))
    return path


def _scores(report) -> dict[str, float]:
    return {q.name: q.score for q in report.questions}


def _expect(report, **zeroed_or_partial) -> None:
    expected = {**FULL, **zeroed_or_partial}
    assert _scores(report) == pytest.approx(expected), report.table()
    assert report.max == pytest.approx(sum(FULL.values()))


# -- the kernel sandbox on its own ------------------------------------------------------------
@pytest.mark.timeout(300)
def test_kernel_survives_timeouts_errors_and_death():
    with GradingKernel(mem_mb=6144, interrupt_grace=2.0) as k:
        assert k.run("x = 41\nprint(x + 1)", 30).stdout.strip() == "42"
        r = k.run("while True:\n    pass", 2)
        assert r.status == "timeout" and not r.kernel_lost  # interrupted, namespace kept
        assert k.run("print(x)", 30).stdout.strip() == "41"
        r = k.run("def f(:\n    pass", 30)
        assert r.status == "error" and r.ename == "SyntaxError"
        deaf = "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True: pass"
        r = k.run(deaf, 2)
        assert r.status == "timeout" and r.kernel_lost  # deaf to SIGINT: killed and replaced
        assert k.run("print('x' in globals())", 30).stdout.strip() == "False"
        r = k.run("import os\nos._exit(3)", 30)
        assert r.status == "dead" and r.kernel_lost
        r = k.run("import numpy as np\na = np.empty(2**31)", 30)  # 16 GiB of address space
        assert r.status == "error" and r.memory, r
        r = k.run("input()", 30)
        assert r.status == "error"  # no stdin: never blocks
        assert k.run("print('alive')", 30).stdout.strip() == "alive"
    assert k.restarts == 2


# -- broken notebooks: each loses only what is broken -------------------------------------------
@pytest.mark.slow
@pytest.mark.timeout(600)
def test_infinite_loops_cost_only_their_question(tmp_path):
    nb = _solution()
    # q1: the answer cell never finishes (interruptible), so loss_grad is never defined
    _edit(nb, "def loss_grad(", lambda s: "while True:\n    pass\n\n" + s)
    # q2: the function hangs only when the tests call it, and ignores SIGINT (kernel is killed)
    _edit(nb, "def sgd_step(", lambda s: s.replace(
        "    return float(w + 2.0", "    import signal\n    signal.signal(signal.SIGINT, "
        "signal.SIG_IGN)\n    while True:\n        pass\n    return float(w + 2.0"))
    report = grade_notebook(_write(nb, tmp_path / f"{NAME}.ipynb"), timeout_per_cell=LOOP_TIMEOUT,
                            interrupt_grace=2.0)
    _expect(report, q1=0.0, q2=0.0)
    # the looping cell, and the ungraded autograd demo cell that needs loss_grad
    assert [c.status for c in report.cells] == ["timeout", "error"]
    assert "NameError" in report.cells[1].message
    q2 = report.questions[1]
    assert q2.error and "did not finish" in q2.error


def test_syntax_error_costs_only_its_question(tmp_path):
    nb = _solution()
    _edit(nb, "def adapt(", lambda s: s.replace("def adapt(theta, x_s, y_s, alpha, k):",
                                                "def adapt(theta, x_s, y_s, alpha, k)"))
    report = grade_notebook(_write(nb, tmp_path / f"{NAME}.ipynb"))
    _expect(report, q3=0.0)
    assert len(report.cells) == 1 and "SyntaxError" in report.cells[0].message


def test_exceptions_cost_only_what_they_break(tmp_path):
    nb = _solution()
    # q1: raises whenever called
    _edit(nb, "def loss_grad(", lambda s: s.replace(
        "    return float(-2.0", "    raise ZeroDivisionError('bug')\n    return float(-2.0"))
    # q4: the cell raises after defining max_stable_alpha, so alpha_max_both is never set:
    # the two tests that only need max_stable_alpha still pass (1 + 1 of 3 points)
    _edit(nb, "def max_stable_alpha(", lambda s: s.replace(
        "\nalpha_max_both = min(", "\nraise RuntimeError('oops')\nalpha_max_both = min("))
    report = grade_notebook(_write(nb, tmp_path / f"{NAME}.ipynb"))
    _expect(report, q1=0.0, q4=2.0)
    # the q4 cell, and the ungraded autograd demo cell that calls loss_grad
    assert sorted(c.message.split(":")[0] for c in report.cells) == [
        "RuntimeError", "ZeroDivisionError"]


def test_deleted_cells(tmp_path):
    nb = _solution()
    del nb["cells"][_find(nb, "def sgd_step(")]  # q2's answer
    nb["cells"] = [  # every check cell and the otter init cell
        c for c in nb["cells"]
        if not (c["cell_type"] == "code" and ("grader." in _src(c) or "otter" in _src(c)))
    ]
    report = grade_notebook(_write(nb, tmp_path / f"{NAME}.ipynb"))
    _expect(report, q2=0.0)
    assert report.cells == []


def test_edited_checks_and_tampered_tests_do_not_help(tmp_path):
    nb = _solution()
    # q1 gamed: a constant that passes the first public test only (0.5 of its 1 public point)
    _edit(nb, "def loss_grad(", lambda s: s.replace(
        "    return float(-2.0 * np.sum(x * (y - w * x)))", "    return 2.0"))
    # q2 hard-coded to the worked example: passes both public tests, fails the hidden ones
    _edit(nb, "def sgd_step(", lambda s: s.replace("    return float(w + 2.0 * alpha",
                                                   "    return 0.8 if alpha == 0.1 else w\n"
                                                   "    return float(w + 2.0 * alpha"))
    for c in nb["cells"]:
        if c["cell_type"] == "code" and _src(c).startswith("grader.check("):
            c["source"] = 'print("All test cases passed!")'
    nb["cells"].append({"cell_type": "code", "metadata": {}, "outputs": [],
                        "execution_count": None, "source": (
                            "class _G:\n    def check(self, q):\n        return 'passed'\n"
                            "grader = _G()\n")})
    # a tampered copy of the public tests next to the notebook: empty, so always "passing"
    fake = tmp_path / "tests" / NAME
    fake.mkdir(parents=True)
    for q in FULL:
        (fake / f"{q}.py").write_text(f'OK_FORMAT = False\nname = "{q}"\npoints = 99\n')
    report = grade_notebook(_write(nb, tmp_path / f"{NAME}.ipynb"))
    _expect(report, q1=0.5, q2=1.0)
    q2 = report.questions[1]
    assert [t.passed for t in q2.tests if not t.hidden] == [True, True]
    assert not any(t.passed for t in q2.tests if t.hidden)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_public_checks_pass_for_a_hard_coded_answer():
    """What ``grader.check("q2")`` runs (exercises/tests) cannot tell the hard-coded answer
    apart; only the hidden tests of the full grade can."""
    from otter.nbmeta_config import NBMetadataConfig
    from otter.test_files import create_test_file

    def sgd_step(w, x, y, alpha):
        return 0.8 if alpha == 0.1 else w

    public = create_test_file(str(PATHS["public_tests"] / "q2.py"), NBMetadataConfig())
    public.run({"sgd_step": sgd_step})
    assert public.passed_all
    full = create_test_file(str(PATHS["tests"] / "q2.py"), NBMetadataConfig())
    full.run({"sgd_step": sgd_step})
    assert not full.passed_all and full.score < full.possible


@pytest.mark.timeout(600)
def test_memory_cap_and_kernel_death_via_cli(tmp_path, capsys):
    nb = _solution()
    _edit(nb, "def loss_grad(", lambda s: "_big = np.empty(2**31)  # 16 GiB\n" + s)
    _edit(nb, "def max_stable_alpha(", lambda s: "import os\nos._exit(3)\n" + s)
    path = _write(nb, tmp_path / "submission_ex01.ipynb")  # exercise found from the metadata
    out = tmp_path / "report.json"
    assert cli(["grade", str(path), "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "total" in printed and "memory" in printed and "--mem-mb" in printed
    data = json.loads(out.read_text())
    assert data["exercise"] == NAME
    assert {q["name"]: q["score"] for q in data["questions"]} == {**FULL, "q1": 0.0, "q4": 0.0}
    assert data["total"] == 8.0 and data["max"] == 14.0
    # q1's cell (memory), q4's cell (dead) and the autograd demo cell that needs loss_grad
    assert sorted(c["status"] for c in data["cells"]) == ["dead", "error", "memory"]
    assert any("Memory cap exceeded" in m for m in data["messages"])


def test_unreadable_notebook_scores_zero(tmp_path):
    path = tmp_path / f"{NAME}_alice.ipynb"
    path.write_text("{ this is not json")
    report = grade_notebook(path)
    assert report.exercise == NAME and report.total == 0 and report.max == 14
    assert "could not be read" in report.messages[0]


# -- a folder of submissions ------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.timeout(600)
def test_grade_all_writes_one_csv(tmp_path):
    subs = tmp_path / "subs"
    _write(_solution(), subs / "alice" / f"{NAME}.ipynb")
    (subs / "bob_ex01.ipynb").write_bytes(PATHS["exercise"].read_bytes())
    _write({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5},
           subs / "carol" / "notes.ipynb")
    out = tmp_path / "grades.csv"
    from course_pkg.grading.sandbox import sandbox_status

    insecure = [] if sandbox_status()[0] else ["--insecure"]  # graded either way
    assert cli(["grade-all", str(subs), "--csv", str(out), "--json-dir",
                str(tmp_path / "json"), "--jobs", "2", *insecure]) == 0
    rows = list(csv.DictReader(out.open()))
    assert list(rows[0]) == ["student", "file", "exercise", "q1", "q2", "q3", "q4", "total",
                             "max", "percent", "status"]
    by = {r["student"]: r for r in rows}
    assert set(by) == {f"alice/{NAME}", "bob_ex01", "carol/notes"}
    assert by[f"alice/{NAME}"]["total"] == "14" and by[f"alice/{NAME}"]["percent"] == "100.0"
    assert by[f"alice/{NAME}"]["status"] in ("ok", "partial run: NOT sandboxed")
    assert by["bob_ex01"]["total"] == "0" and by["bob_ex01"]["q3"] == "0"
    # the autograd demo cell copes with `...`; without the sandbox the status says so
    assert by["bob_ex01"]["status"] in ("ok", "partial run: NOT sandboxed")
    assert by["carol/notes"]["status"].startswith("not graded")
    assert (tmp_path / "json" / "alice" / f"{NAME}.json").is_file()


# -- small pieces -----------------------------------------------------------------------------
def test_otter_cells_are_recognised():
    assert is_otter_cell('grader.check("q1")')
    assert is_otter_cell('from course_pkg.grading import notebook_grader\n'
                         'grader = notebook_grader("ex01_supervised_learning")')
    assert is_otter_cell('# Initialize Otter\nimport otter\ngrader = otter.Notebook("a.ipynb")')
    assert is_otter_cell("grader.check_all()")
    assert not is_otter_cell('grader.check("q1")\nx = 1')
    assert not is_otter_cell("import otter, os")
    assert not is_otter_cell("")


def test_identify_exercise_from_the_file_name_never_the_metadata(tmp_path):
    meta = {"metadata": {"otter": {"assignment_name": NAME}}}
    with pytest.raises(GradingError, match="cannot tell which exercise"):
        identify_exercise(Path("whatever.ipynb"), ROOT, nb=meta)
    notes: list[str] = []
    assert identify_exercise(Path("alice_ex07_maml.ipynb"), ROOT, nb=meta,
                             messages=notes) == "ex07_maml"
    assert notes and "mismatch" in notes[0] and NAME in notes[0], notes
    assert identify_exercise(Path(f"{NAME}.ipynb"), ROOT, nb={"metadata": {"otter": "a"}}) == NAME
    assert identify_exercise(Path(f"alice_{NAME}.ipynb"), ROOT) == NAME
    assert identify_exercise(Path("ex01-bob.ipynb"), ROOT) == NAME
    assert identify_exercise(Path("whatever.ipynb"), ROOT, exercise="ex07_maml") == "ex07_maml"
    with pytest.raises(GradingError, match="cannot tell which exercise"):
        identify_exercise(Path("ex010_bob.ipynb"), ROOT)
    with pytest.raises(GradingError, match="several exercises"):
        identify_exercise(Path("ex01_ex07_bob.ipynb"), ROOT)


def test_bad_master_is_refused_with_a_clear_message(tmp_path):
    nb = json.loads((ROOT / "solutions" / "masters" / f"{NAME}.ipynb").read_text())
    nb["cells"][0]["source"] = "# ASSIGNMENT CONFIG\nname: other\ninit_cell: true\n"
    bad = tmp_path / "ex99_bad.ipynb"
    bad.write_text(json.dumps(nb))
    with pytest.raises(MasterError) as err:
        validate_master(bad)
    msg = str(err.value)
    assert "'name' must be 'ex99_bad'" in msg and "init_cell" in msg
    assert 'notebook_grader("ex99_bad")' in msg


# -- rules of questions, read from the source by the trusted grader -----------------------------
@pytest.mark.parametrize(("key", "cells", "broken"), [
    (("ex01_supervised_learning", "q1"),
     ["import numpy as np\ndef loss_grad(w, x, y):\n"
      "    return float(-2 * np.sum(x * (y - w * x)))"],
     False),
    (("ex01_supervised_learning", "q1"),
     ["import torch\ndef _g(w, x, y):\n    w = torch.tensor(w, requires_grad=True)\n"
      "    l = ((torch.tensor(y) - w * torch.tensor(x)) ** 2).sum()\n    l.backward()\n"
      "    return w.grad.item()\n", "def loss_grad(w, x, y):\n    return _g(w, x, y)"], True),
    (("ex07_maml", "q2"),
     ["from course_pkg.algorithms import maml as m\nmg = m.meta_gradient",
      "def maml_meta_gradient(model, params, batch, steps, lr):\n"
      "    return mg(model, params, batch, steps, lr)"], True),
    (("ex07_maml", "q2"),
     ["def maml_meta_gradient(model, params, batch, steps, lr):\n"
      "    m = __import__('course_pkg.algorithms.maml', fromlist=['x'])\n"
      "    f = getattr(m, 'meta_' + 'gradient')\n"
      "    return f(model, params, batch, steps, lr)"], True),
    (("ex09_reptile", "q3"),
     ["import torch\ndef reptile_delta_batched(model, params, batch, steps, lr):\n"
      "    T = batch.num_tasks\n    out = [adapt_one(batch.x_support[i]) for i in range(T)]\n"
      "    return torch.vmap(lambda x: x)(out)"], True),
    (("ex09_reptile", "q3"),
     ["import torch\ndef reptile_delta_batched(model, params, batch, steps, lr):\n"
      "    theta = {k: v.detach() for k, v in params.items()}\n"
      "    def adapt(x, y):\n        phi = dict(theta)\n        for _ in range(steps):\n"
      "            phi = {k: v - lr for k, v in phi.items()}\n        return phi\n"
      "    phis = torch.vmap(adapt)(batch.x_support, batch.y_support)\n"
      "    return {k: (phis[k] - theta[k]).mean(0) for k in theta}"], False),
    (("ex10_imaml", "q2"),
     ["from torch.func import hessian as h\ndef hvp(f, x, v):\n    return h(f)(x) @ v"], True),
    (("ex10_imaml", "q2"),
     ["import torch\ndef hvp(f, x, v):\n    return x", "exec('hvp = lambda f, x, v: 0')"], True),
    (("ex10_imaml", "q2"), ["%run elsewhere.py\ndef hvp(f, x, v):\n    return x"], True),
    (("ex10_imaml", "q2"),
     ["import torch\ndef hvp(f, x, v):\n"
      "    return torch.func.grad(lambda z: torch.func.grad(f)(z) @ v)(x)"], False),
])
def test_question_rules_are_read_from_the_source(key, cells, broken):
    from course_pkg.grading.rules import RULES, check_rule

    why = check_rule(RULES[key], cells)
    assert (why is not None) == broken, why


# -- the Gradescope autograder ------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_autograder_zip_grades_solution_and_exercise_with_otter_run(tmp_path):
    import shutil
    import subprocess
    import sys

    from course_pkg.grading.autograder import build_autograder

    zip_path = build_autograder(NAME, tmp_path / "ag.zip")
    scores = {}
    for kind in ("solution", "exercise"):
        out = tmp_path / kind
        out.mkdir()
        sub = out / f"{NAME}.ipynb"
        shutil.copyfile(PATHS[kind], sub)
        otter = Path(sys.executable).parent / "otter"
        subprocess.run([str(otter), "run", "-a", str(zip_path), "-o", str(out), str(sub)],
                       check=True, capture_output=True, timeout=1100, cwd=out)
        results = json.loads((out / "results.json").read_text())
        scores[kind] = {t["name"]: t.get("score") for t in results["tests"] if t.get("score")
                        is not None}
    assert scores["solution"] == pytest.approx(FULL)
    assert sum(scores["exercise"].values()) < sum(FULL.values())


def test_answers_cross_the_boundary_as_plain_data(tmp_path):
    """What the kernel's agent encodes, the grader decodes with weights_only into equal values;
    objects become handles; a link or an oversized answer is refused."""
    import numpy as np
    import torch

    from course_pkg.grading import agent, boundary

    value = {"t": torch.ones(2, requires_grad=True) * 2, "a": np.arange(3.0), "n": np.float32(1.5),
             "e": ..., "tup": (1, "x", None), "s": {3}, "f": len}
    path = tmp_path / "resp.pt"
    torch.save({agent.TAG: "ok", "value": agent.encode(value)}, path)
    got = boundary.decode(boundary._read_response(path)["value"], session=None)
    assert torch.equal(got["t"], torch.full((2,), 2.0)) and not got["t"].requires_grad
    assert isinstance(got["a"], np.ndarray) and got["a"].tolist() == [0.0, 1.0, 2.0]
    assert got["n"] == np.float32(1.5) and got["e"] is Ellipsis
    assert got["tup"] == (1, "x", None) and got["s"] == {3}
    assert isinstance(got["f"], boundary.Remote)
    (tmp_path / "link.pt").symlink_to(path)
    with pytest.raises(boundary.RemoteFailure):
        boundary._read_response(tmp_path / "link.pt")
    evil = tmp_path / "evil.pt"
    import pickle

    evil.write_bytes(pickle.dumps(Path, protocol=2))  # an arbitrary object: refused
    with pytest.raises(boundary.RemoteFailure):
        boundary._read_response(evil)


def test_without_the_sandbox_grade_warns_and_grade_all_refuses(tmp_path, monkeypatch):
    from course_pkg.grading import batch, sandbox

    path = tmp_path / f"{NAME}.ipynb"
    path.write_text("{ not json")
    report = grade_notebook(path, sandbox=False)
    assert any(m.startswith("NOT TAMPER-PROOF") for m in report.messages)
    monkeypatch.setattr(sandbox, "sandbox_status", lambda: (False, "no bwrap in this test"))
    with pytest.raises(RuntimeError, match="refusing.*--insecure"):
        batch.grade_folder(tmp_path, tmp_path / "grades.csv")
    with pytest.raises(GradingError, match="sandbox does not work"):
        import course_pkg.grading.grade as g

        monkeypatch.setattr(g, "sandbox_status", lambda: (False, "no bwrap in this test"))
        grade_notebook(path, sandbox=True)


def test_the_grade_does_not_depend_on_the_callers_thread_count():
    """The references are computed with one thread, as in the kernel: with two threads in the
    grader, exercise 12's solution lost 4 of 14 points (its returns differed in the last digits
    and the goals drawn after them differed). The caller's thread count comes back."""
    import torch


    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        report = grade_notebook(output_paths("ex12_meta_rl", ROOT)["solution"])
        assert report.total == pytest.approx(report.max), report.table()
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)

"""Grading cannot be gamed: adversarial submissions of exercise 1 earn at most what their honest
part earns, leave the repository byte-identical, leave no process behind, and ``grade-all``
writes one CSV row for every entry of a mixed folder (good, broken, malicious, special files).

Every attack is a cell inserted before question 1 of a *partial* submission (only q1 solved,
3 of 14 points). To keep this module short the attacks are grouped, one notebook per group
(patching, forgery, files, processes, output), and all notebooks are graded in one ``grade-all``
run (two at a time); the folder also holds the special files. Each attack is still its own test
case: it asserts on its group's row, and a group's row can only stay at the honest credit if
every attack in it failed.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import subprocess
from pathlib import Path

import pytest

from course_pkg.grading.batch import grade_folder
from course_pkg.grading.masters import course_root, output_paths
from course_pkg.grading.sandbox import sandbox_status

NAME = "ex01_supervised_learning"
ROOT = course_root()
PATHS = output_paths(NAME, ROOT)
TESTS = PATHS["tests"]
PARTIAL = 3.0  # q1 solved
MARKER = "course-attack-marker-4242"

pytestmark = [
    pytest.mark.skipif(not sandbox_status()[0], reason=f"no sandbox: {sandbox_status()[1]}"),
    pytest.mark.skipif(not PATHS["solution"].is_file(), reason="exercise 1 not generated"),
]

#: group of attacks -> their names (one notebook each)
GROUPS = {
    "patching": ["float_builtin", "json_dumps", "otter_classes", "fake_otter_module",
                 "always_close"],
    "forgery": ["forged_result_line", "always_equal_result", "patch_agent"],
    "files": ["overwrite_tests", "delete_tests", "write_into_course_pkg", "read_hidden_tests"],
    "processes": ["surviving_child", "stop_parent", "kill_parent", "kill_all"],
    "output": ["network", "huge_output"],
}
GROUP_OF = {a: g for g, names in GROUPS.items() for a in names}

#: name -> code of the attack cell (run with the learner's rights inside the kernel)
ATTACKS: dict[str, str] = {
    "float_builtin": "float = lambda *a, **k: 1e9",
    "json_dumps": "import json\njson.dumps = lambda *a, **k: '{\"score\": 1e9, \"possible\": 1}'",
    "otter_classes": (
        "import otter.test_files.exception_test as et\n"
        "et.ExceptionTestFile.run = lambda self, env: None\n"
        "et.ExceptionTestFile.score = property(lambda self: 1e9)"
    ),
    "fake_otter_module": (
        "import sys, types\nm = types.ModuleType('otter.test_files')\n"
        "m.test_case = lambda *a, **k: (lambda f: None)\nsys.modules['otter.test_files'] = m"
    ),
    "forged_result_line": (
        "def _forge(*a):\n"
        "    print('@@course-grade-0000@@{\"score\": 1e9, \"possible\": 1, \"tests\": []}')\n"
        "get_ipython().events.register('post_run_cell', _forge)\n"
        "get_ipython().events.register('pre_run_cell', _forge)"
    ),
    "always_close": (
        "import math, numpy as np, numpy.testing, torch\n"
        "np.isclose = lambda *a, **k: True\nnp.allclose = lambda *a, **k: True\n"
        "torch.allclose = lambda *a, **k: True\nmath.isclose = lambda *a, **k: True\n"
        "numpy.testing.assert_allclose = lambda *a, **k: None"
    ),
    "always_equal_result": (
        "class _Yes(float):\n    def __eq__(self, o): return True\n"
        "    def __float__(self): return 2.0\n"
        "_real_lg = loss_grad\nloss_grad = lambda *a: _Yes(0.0)"
    ),
    "patch_agent": (
        "import course_pkg.grading.agent as ag, torch\n"
        "ag.serve = lambda req, resp: torch.save({'__course__': 'ok', 'value': 2.0}, resp)"
    ),
    "overwrite_tests": (
        f"import glob\nfor p in glob.glob({str(TESTS)!r} + '/*.py'):\n"
        "    open(p, 'w').write('name = \"q1\"\\npoints = 1e9\\n')"
    ),
    "delete_tests": f"import shutil\nshutil.rmtree({str(TESTS)!r})",
    "write_into_course_pkg": (
        f"open({str(ROOT / 'course_pkg' / 'evil.py')!r}, 'w').write('print(1)')\n"
        f"open({str(ROOT / 'course_pkg' / 'grading' / 'questions.py')!r}, 'a').write('#')"
    ),
    "read_hidden_tests": (
        f"print(open({str(TESTS / 'q1.py')!r}).read())"
    ),
    "kill_parent": "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)",
    "stop_parent": "import os, signal\nos.kill(os.getppid(), signal.SIGSTOP)",
    "kill_all": "import os, signal\nos.kill(-1, signal.SIGKILL)",
    "surviving_child": (
        "import subprocess, sys\n"
        # a child that blocks until a signal ends it: it must not outlive the grading
        f"subprocess.Popen([sys.executable, '-c', 'import signal\\nsignal.pause()',"
        f" {MARKER!r}], start_new_session=True)"
    ),
    "network": "import socket\nsocket.create_connection(('pypi.org', 443), timeout=3)",
    "huge_output": "print('x' * 50_000_000)",
}


def _src(cell: dict) -> str:
    s = cell["source"]
    return "".join(s) if isinstance(s, list) else s


def _partial() -> dict:
    """The untouched exercise with question 1 solved (from the solved twin)."""
    nb = json.loads(PATHS["exercise"].read_text())
    sol = json.loads(PATHS["solution"].read_text())
    solved = next(_src(c) for c in sol["cells"] if "def loss_grad" in _src(c))
    for c in nb["cells"]:
        if c["cell_type"] == "code" and "def loss_grad" in _src(c):
            c["source"] = solved
    return nb


def _with_cells(nb: dict, codes: list[str]) -> dict:
    nb = json.loads(json.dumps(nb))
    pos = next(i for i, c in enumerate(nb["cells"]) if "def loss_grad" in _src(c))
    for n, code in enumerate(codes):
        nb["cells"].insert(pos + n, {"cell_type": "code", "execution_count": None,
                                     "metadata": {}, "outputs": [], "source": code,
                                     "id": f"attack{n}"})
    return nb


#: every answer of exercise 1 as a one-line wrapper around the course's reference
DELEGATE = {
    "def loss_grad": ("def loss_grad(w, x, y):\n    from course_pkg.algorithms import neuron\n"
                      "    return float(neuron.loss_grad(w, x, y))"),
    "def sgd_step": ("def sgd_step(w, x, y, alpha):\n    from course_pkg.algorithms import neuron\n"
                     "    return float(neuron.gradient_step(w, x, y, alpha))"),
    "def max_stable_alpha": ("import operator\nfrom course_pkg.algorithms import neuron\n"
                             "_bound = operator.attrgetter('stable_lr_bound')(neuron)\n"
                             "def max_stable_alpha(x_s):\n    return float(_bound(x_s))"),
}
#: a hostile agent answering every call with a 3 GB zero-stride view, then a nested bomb
HOSTILE_AGENT = (
    "import course_pkg.grading.agent as ag, torch\n"
    "def _bomb(depth):\n    x = [1]\n    for _ in range(depth):\n"
    "        x = {'__course__': 'ndarray_list', 'data': [x, [1, 2]], 'shape': [2]}\n    return x\n"
    "_n = [0]\n"
    "def _serve(req, resp):\n    _n[0] += 1\n"
    "    value = torch.zeros(3).expand(2**28, 3) if _n[0] % 2 else _bomb(30)\n"
    "    torch.save({'__course__': 'ok', 'value': value}, resp)\n"
    "ag.serve = _serve"
)


def _replace_cells(nb: dict, replacements: dict[str, str]) -> dict:
    nb = json.loads(json.dumps(nb))
    for needle, code in replacements.items():
        cell = next(c for c in nb["cells"] if c["cell_type"] == "code" and needle in _src(c))
        cell["source"] = code
    return nb


def _tree_hash(root: Path) -> str:
    h = hashlib.sha256()
    for top in ("course_pkg", "solutions", "exercises", "tests", "book"):
        for p in sorted((root / top).rglob("*")):
            if "__pycache__" in p.parts or ".ipynb_checkpoints" in p.parts:
                continue
            if p.is_file() and not p.is_symlink():
                h.update(str(p.relative_to(root)).encode())
                h.update(p.read_bytes())
    return h.hexdigest()


def _survivors() -> list[str]:
    out = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True).stdout
    return [ln for ln in out.splitlines() if MARKER in ln and "ps -eo" not in ln]


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Grade the whole mixed folder once; returns (rows by student, json reports, hashes)."""
    folder = tmp_path_factory.mktemp("subs")
    partial = _partial()
    (folder / f"partial_{NAME}.ipynb").write_text(json.dumps(partial))
    for group, names in GROUPS.items():
        nb = _with_cells(partial, [ATTACKS[a] for a in names])
        (folder / f"attack_{group}_{NAME}.ipynb").write_text(json.dumps(nb))
    (folder / f"broken_json_{NAME}.ipynb").write_text("{not json")
    meta = json.loads(json.dumps(partial))
    meta["metadata"]["otter"] = "a string"
    (folder / f"meta_string_{NAME}.ipynb").write_text(json.dumps(meta))
    (folder / "unknown_exercise.ipynb").write_text(json.dumps({"cells": [], "metadata": {}}))
    os.mkfifo(folder / f"fifo_{NAME}.ipynb")
    os.symlink("/dev/zero", folder / f"zero_{NAME}.ipynb")
    (folder / f"folder_{NAME}.ipynb").mkdir()
    with open(folder / f"huge_{NAME}.ipynb", "wb") as fh:
        fh.truncate(64 * 1024 * 1024)  # sparse: over the size cap without using the disk
    # issue 26's attacks
    untouched = json.loads(PATHS["exercise"].read_text())
    (folder / f"delegate_{NAME}.ipynb").write_text(json.dumps(_replace_cells(untouched, DELEGATE)))
    hostile = _with_cells(partial, [HOSTILE_AGENT])
    (folder / f"hostile_agent_{NAME}.ipynb").write_text(json.dumps(hostile))
    solution = json.loads(PATHS["solution"].read_text())
    commented = _with_cells(solution, ['# remember: grader.check("q3") and grader.check("q4")\n'
                                       'note = "grader.check(\'q2\')"'])
    (folder / f"comment_{NAME}.ipynb").write_text(json.dumps(commented))
    (folder / "alice_ex07_maml.ipynb").write_text(json.dumps(solution))  # metadata says ex01
    for odd in ('=HYPERLINK("x","100")', "-dash", "l" * 200):
        (folder / f"{odd}_{NAME}.ipynb").write_text(json.dumps(partial))
    before = _tree_hash(ROOT)
    out = folder.parent / "grades.csv"
    cwd = os.getcwd()
    os.chdir(folder)  # DIR=. : entries are "-dash_...ipynb", not "./-dash_...ipynb"
    try:
        rows = grade_folder(".", out, json_dir=folder.parent / "json", jobs=2,
                            progress=False, timeout_per_cell=60.0, total_timeout=600.0)
    finally:
        os.chdir(cwd)
    # no process of a submission outlives grade_folder (test_no_learner_process_survives checks the
    # process table), so nothing can change the course after this point
    after = _tree_hash(ROOT)
    with out.open() as fh:
        table = {r["student"].removeprefix("'"): r for r in csv.DictReader(fh)}
    with out.open() as fh:
        raw = fh.read()
    reports = {}
    for p in (folder.parent / "json").glob("*.json"):
        reports[p.stem] = json.loads(p.read_text())
    return {"rows": rows, "table": table, "reports": reports, "before": before, "raw": raw,
            "after": after, "entries": sorted(p.name for p in folder.iterdir())}


def test_partial_submission_earns_question_1_only(graded):
    row = graded["table"][f"partial_{NAME}"]
    assert float(row["total"]) == PARTIAL, row
    assert row["status"] == "ok", row


def test_every_attack_is_in_a_group():
    assert sorted(GROUP_OF) == sorted(ATTACKS)


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_attack_earns_no_more_than_the_honest_part(graded, attack):
    row = graded["table"][f"attack_{GROUP_OF[attack]}_{NAME}"]
    assert row["total"] != "", f"{attack}: not graded: {row['status']}"
    assert float(row["total"]) <= PARTIAL, f"{attack}: {row}"


def test_hidden_tests_never_reach_the_report(graded):
    hidden_src = (TESTS / "q1.py").read_text()
    secret_line = next(ln.strip() for ln in hidden_src.splitlines() if "default_rng(2)" in ln)
    for name, rep in graded["reports"].items():
        text = json.dumps(rep)
        assert secret_line not in text, f"hidden test source leaked into {name}"
        assert "Traceback" not in text, name


def test_repository_is_byte_identical_after_grading(graded):
    assert graded["before"] == graded["after"]
    assert not (ROOT / "course_pkg" / "evil.py").exists()


def test_no_learner_process_survives(graded):
    assert _survivors() == []


def test_grade_all_writes_one_row_per_entry(graded):
    table = graded["table"]
    assert sorted(f"{s}.ipynb" for s in table) == graded["entries"]
    status = {s: r["status"] for s, r in table.items()}
    assert status[f"fifo_{NAME}"].startswith("not graded: not a regular file")
    assert status[f"zero_{NAME}"].startswith("not graded: a symbolic link")
    assert status[f"folder_{NAME}"].startswith("not graded: a folder")
    assert status[f"huge_{NAME}"].startswith("not graded: larger than")
    assert status["unknown_exercise"].startswith("not graded: cannot tell which exercise")
    assert status[f"broken_json_{NAME}"] == "unreadable notebook"
    assert float(table[f"meta_string_{NAME}"]["total"]) == PARTIAL


def test_attack_cells_are_reported(graded):
    rep = graded["reports"][f"attack_processes_{NAME}"]
    assert rep["sandboxed"] is True
    assert any(c["status"] in ("dead", "error") for c in rep["cells"]), rep["cells"]


# -- issue 26 ---------------------------------------------------------------------------------
def test_delegating_to_the_course_reference_earns_nothing(graded):
    """The wrappers are right (they pass the tests in this process, where the reference is
    available), yet the sandboxed notebook earns nothing: the reference is stubbed there."""
    from course_pkg.grading.questions import load_question

    ns: dict = {}
    exec("import numpy as np\n" + "\n".join(DELEGATE.values()), ns)
    ran = 0
    for q in ("q1", "q2", "q4"):
        for case in load_question(TESTS / f"{q}.py").cases:
            if all(p in ns for p in case.params):
                case.func(**{p: ns[p] for p in case.params})  # passes: the wrapper is right
                ran += 1
    assert ran >= 6
    row = graded["table"][f"delegate_{NAME}"]
    assert float(row["total"]) == 0.0, row
    rep = graded["reports"][f"delegate_{NAME}"]
    msgs = " ".join(t["message"] for q in rep["questions"] for t in q["tests"])
    assert "not available while grading" in msgs, msgs[:1000]


def test_hostile_answers_are_refused_quickly(graded):
    """Zero-stride views and nested bombs from a patched agent: refused, graded, no credit."""
    row = graded["table"][f"hostile_agent_{NAME}"]
    assert row["total"] != "", row["status"]
    assert float(row["total"]) <= PARTIAL, row
    rep = graded["reports"][f"hostile_agent_{NAME}"]
    msgs = " ".join(t["message"] for q in rep["questions"] for t in q["tests"])
    assert "too large to grade" in msgs or "nested more than" in msgs, msgs[:1000]


def test_a_comment_naming_a_check_costs_nothing(graded):
    row = graded["table"][f"comment_{NAME}"]
    assert float(row["total"]) == 14.0, row


def test_the_file_name_decides_the_exercise_and_a_mismatch_is_reported(graded):
    row = graded["table"]["alice_ex07_maml"]
    assert row["exercise"] == "ex07_maml" and float(row["percent"]) < 100.0, row
    assert "exercise mismatch" in row["status"], row


def test_odd_file_names_are_graded_and_cannot_inject_formulas(graded):
    table = graded["table"]
    for odd in ('=HYPERLINK("x","100")', "-dash", "l" * 200):
        row = table[f"{odd}_{NAME}"]
        assert float(row["total"]) == PARTIAL, row
    for line in graded["raw"].splitlines():
        for cell in next(csv.reader([line])):
            assert not cell.startswith(("=", "+", "@")), line
            assert not cell.startswith("-") or cell.replace(".", "", 1).lstrip("-").isdigit(), line


@pytest.mark.timeout(600)
def test_a_reference_later_questions_may_use_is_hidden_while_its_question_is_graded(tmp_path):
    """ex07: q1 asks for the inner loop, q2 and q3 may call course_pkg's inner_adapt. A q1 that
    delegates to it (through an alias taken before grading) earns nothing for q1 and keeps q2
    and q3; a notebook that disarms the grader's agent loses q1 as well (source check)."""
    from course_pkg.grading import grade_notebook

    sol = json.loads(output_paths("ex07_maml", ROOT)["solution"].read_text())
    delegate = ("from course_pkg.algorithms import core as _c\n_alias = _c.inner_adapt\n"
                "def inner_loop(model, params, x, y, steps, lr, create_graph=True):\n"
                "    return _alias(model, params, x, y, steps, lr)\n")
    disarm = "import course_pkg.grading.agent as _ag\n_ag.hide = lambda names, msgs: names\n"
    scores = {}
    for label, code in (("delegate", delegate), ("disarm", disarm + delegate)):
        nb = json.loads(json.dumps(sol))
        cell = next(c for c in nb["cells"] if c["cell_type"] == "code"
                    and "def inner_loop" in _src(c))
        cell["source"] = code
        path = tmp_path / f"{label}_ex07_maml.ipynb"
        path.write_text(json.dumps(nb))
        rep = grade_notebook(path, total_timeout=600)
        scores[label] = {q.name: q.score for q in rep.questions}
        if label == "delegate":
            q1 = rep.questions[0]
            assert all("not available while grading" in t.message for t in q1.tests), q1
        else:
            assert not rep.questions[0].rules[0].kept, rep.questions[0]
    assert scores["delegate"] == {"q1": 0.0, "q2": 3.0, "q3": 2.0}, scores
    assert scores["disarm"]["q1"] == 0.0, scores

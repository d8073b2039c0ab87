"""Generic checks of every exercise generated from solutions/masters/*.ipynb.

For each master: the committed student notebook, solved twin and test files are exactly what
``assign`` regenerates (byte for byte); the solved twin scores 100 %; the untouched student
notebook grades without crashing and scores below 100 %; ``grader.check`` works inside the
notebook against the public tests. New masters are picked up automatically.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from course_pkg.grading import assign, grade_notebook, list_masters, validate_master
from course_pkg.grading.masters import course_root, output_paths

ROOT = course_root()
MASTERS = list_masters(ROOT)

pytestmark = pytest.mark.skipif(not MASTERS, reason="no master notebooks in solutions/masters/")


def _files_under(d: Path) -> dict[str, bytes]:
    files = sorted([*d.glob("*.py"), *d.glob("*.json")]) if d.is_dir() else []
    return {p.name: p.read_bytes() for p in files}


@pytest.mark.parametrize("name", MASTERS)
def test_master_follows_conventions(name):
    validate_master(ROOT / "solutions" / "masters" / f"{name}.ipynb")


@pytest.mark.parametrize("name", MASTERS)
def test_committed_exercise_is_not_stale(name, tmp_path):
    """Regenerate into a temporary folder and compare bytes with the committed files."""
    assign(name, root=ROOT, out_root=tmp_path)
    fresh, committed = output_paths(name, tmp_path), output_paths(name, ROOT)
    stale = []
    for kind in ("exercise", "solution"):
        if not committed[kind].is_file():
            stale.append(f"{committed[kind]} is missing")
        elif committed[kind].read_bytes() != fresh[kind].read_bytes():
            stale.append(f"{committed[kind]} differs from its master")
    for kind in ("public_tests", "tests"):
        a, b = _files_under(committed[kind]), _files_under(fresh[kind])
        if a != b:
            stale.append(f"{committed[kind]}/ differs from its master ({sorted(a)} vs {sorted(b)})")
    assert not stale, "run `make exercises` and commit the result:\n" + "\n".join(stale)


@pytest.mark.parametrize("name", MASTERS)
def test_generated_notebooks_have_no_outputs_and_hidden_tests_stay_hidden(name):
    paths = output_paths(name, ROOT)
    for kind in ("exercise", "solution"):
        nb = json.loads(paths[kind].read_text())
        for cell in nb["cells"]:
            if cell["cell_type"] == "code":
                assert cell["outputs"] == [] and cell["execution_count"] is None
        assert nb["metadata"]["kernelspec"]["name"] == "python3"
        assert nb["metadata"]["otter"]["assignment_name"] == name
    public = "".join(p.read_text() for p in paths["public_tests"].glob("*.py"))
    full = "".join(p.read_text() for p in paths["tests"].glob("*.py"))
    assert "hidden=True" not in public, "hidden tests leaked into exercises/tests/"
    assert "hidden=True" in full, "every exercise needs hidden tests for the full grade"
    assert sorted(p.name for p in paths["public_tests"].glob("*.py")) == sorted(
        p.name for p in paths["tests"].glob("*.py")
    )


@pytest.mark.parametrize("name", MASTERS)
def test_solution_scores_full_marks(name):
    report = grade_notebook(output_paths(name, ROOT)["solution"])
    assert report.exercise == name
    assert report.cells == [], f"cells failed in the solution: {report.cells}"
    assert report.max > 0
    assert report.total == pytest.approx(report.max), report.table()


@pytest.mark.parametrize("name", MASTERS)
def test_untouched_exercise_grades_below_full_marks(name):
    report = grade_notebook(output_paths(name, ROOT)["exercise"])
    assert report.exercise == name
    assert report.total < report.max, report.table()
    for q in report.questions:  # every question's tests ran (no timeout or crash)
        assert q.error is None, report.table()
        assert q.tests, report.table()
    # `make grade` prints the table, then one line per failing test: its message, never its code
    table = report.table()
    failing = [(q.name, t) for q in report.questions for t in q.tests if not t.passed]
    assert failing and "Failing tests:" in table, table
    listed = table.split("Failing tests:")[1].splitlines()[1:len(failing) + 1]
    for (qname, t), line in zip(failing, listed):
        assert line.startswith(f"  {qname} {t.name} ("), line
        assert t.message.strip() and t.message in line, line
        assert "Traceback" not in line and "def " not in line, line


@pytest.mark.parametrize("name", MASTERS)
def test_grader_check_works_in_a_copy_anywhere(name, tmp_path):
    """The solved twin, copied alone into an unrelated folder (like ``workspace/``), finds its
    public tests through course_pkg and passes every ``grader.check`` cell, each of which says
    how many hidden tests remain."""
    import nbformat
    from nbclient import NotebookClient

    paths = output_paths(name, ROOT)
    copy = tmp_path / "workspace" / f"{name}.ipynb"
    copy.parent.mkdir()
    shutil.copyfile(paths["solution"], copy)
    nb = nbformat.read(copy, as_version=4)
    NotebookClient(nb, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(copy.parent)}}).execute()
    checks = [c for c in nb.cells if c.cell_type == "code" and "grader.check(" in c.source]
    assert checks, "the exercise has no grader.check cells"
    sources = [c.source for c in checks]
    assert len(sources) == len(set(sources)), "a grader.check cell appears twice"
    hidden = json.loads((paths["public_tests"] / "hidden_counts.json").read_text())
    for cell in checks:
        text = json.dumps(cell.outputs)
        assert "All test cases passed" in text, f"{cell.source}: {text[:500]}"
        q = cell.source.split('"')[1]
        if hidden.get(q):
            assert "hidden test" in text, f"{cell.source}: {text[:500]}"


def test_ex07_public_check_catches_a_missing_create_graph():
    """The central idea of ex07 q1 is checked publicly: an inner loop without create_graph=True
    fails ``grader.check("q1")``."""
    import torch

    from course_pkg.algorithms.core import loss_at
    from course_pkg.grading.questions import load_question

    def inner_loop(model, params, x, y, steps, lr, create_graph=True):
        phi = dict(params)
        for _ in range(steps):
            grads = torch.autograd.grad(loss_at(model, phi, x, y), list(phi.values()))
            phi = {k: v - lr * g for (k, v), g in zip(phi.items(), grads)}  # no create_graph
        return phi

    q = load_question(output_paths("ex07_maml", ROOT)["public_tests"] / "q1.py")
    results = {}
    for case in q.cases:
        try:
            case.func(inner_loop)
            results[case.name] = "passed"
        except AssertionError as err:
            results[case.name] = str(err)
    assert any("create_graph=True" in r for r in results.values()), results

"""Feedback that teaches, on exercise 7 untouched (as a new learner first sees it).

``grader.check`` in the notebook and ``make grade`` both recognise the unimplemented stub and
point to the chapter section; neither shows grader internals (test source, "Error at line",
tracebacks) or emoji; ``make grade`` reports rules apart from tests.
"""

from __future__ import annotations

import json
import shutil

import pytest

from course_pkg.grading import grade_notebook
from course_pkg.grading.masters import course_root, output_paths

ROOT = course_root()
EX = output_paths("ex07_maml", ROOT)
STUB = "`inner_loop` still contains `...`: implement it (see chapter 7, section 'The algorithm')"
INTERNALS = ("Error at line", "Traceback", "in_kernel(", "grads_through", "File \"")


def _plain_text(text: str) -> bool:
    """No emoji or pictographs (they render as empty boxes without an emoji font)."""
    return not any(0x1F000 <= ord(c) <= 0x1FAFF or 0x2600 <= ord(c) <= 0x27BF for c in text)


@pytest.mark.timeout(600)
def test_grader_check_on_a_stub_says_what_to_do(tmp_path):
    import nbformat
    from nbclient import NotebookClient

    copy = tmp_path / "ex07_maml.ipynb"
    shutil.copyfile(EX["exercise"], copy)
    nb = nbformat.read(copy, as_version=4)
    NotebookClient(nb, timeout=300, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    q1 = next(c for c in nb.cells if c.cell_type == "code" and 'grader.check("q1")' in c.source)
    text = json.dumps(q1.outputs, ensure_ascii=False)
    assert STUB in text, text[:2000]
    assert not any(s in text for s in INTERNALS), text[:2000]
    assert _plain_text(text), text[:2000]


@pytest.mark.timeout(600)
def test_make_grade_on_a_stub_says_what_to_do_and_lists_rules_apart():
    report = grade_notebook(EX["exercise"], total_timeout=600)
    table = report.table()
    q1 = next(q for q in report.questions if q.name == "q1")
    assert all(t.message == STUB for t in q1.tests), table
    q2 = next(q for q in report.questions if q.name == "q2")
    assert q2.score == 0 and not any(t.passed for t in q2.tests), table  # no rule among tests
    assert q2.rules and q2.rules[0].rule.startswith("do not call"), q2
    assert "maml_meta_gradient` still contains `...`" in table
    assert "Rules (a broken rule scores its question 0):" in table
    assert not any(s in table for s in INTERNALS), table
    assert _plain_text(table)

"""Rules cannot be bypassed by the tricks a hostile learner tries first: files the notebook
writes and imports, ``%%file`` and shell lines, attribute names in strings (``getattr``,
``operator.attrgetter``/``methodcaller``, ``functools.reduce``), a mention instead of a call, and
definitions kept by a cell that failed after defining them. (Loops hidden in helpers are caught by
behaviour: ex09 q3's hidden test counts the model's calls; see tests/test_grading_wrong_answers.py.)
"""

from __future__ import annotations

import pytest

from course_pkg.grading.kernel import CellResult
from course_pkg.grading.rules import RULES, check_rule, dynamic_code

EX01 = RULES[("ex01_supervised_learning", "q1")]
EX09 = RULES[("ex09_reptile", "q3")]
AUTOGRAD = ("    w = torch.tensor(float(w), requires_grad=True)\n"
            "    l = ((torch.as_tensor(y) - w * torch.as_tensor(x)) ** 2).sum()\n")


@pytest.mark.parametrize(("cells", "why"), [
    (["%%file helper.py\nimport torch\ndef g(w, x, y):\n    return 0.0",
      "from helper import g\ndef loss_grad(w, x, y):\n    return g(w, x, y)"], "magic"),
    (["open('helper2.py', 'w').write('def g(w, x, y): return 0.0')",
      "import helper2\ndef loss_grad(w, x, y):\n    return helper2.g(w, x, y)"], "written by"),
    (["!echo 'def g(*a): return 0' > helper3.py",
      "def loss_grad(w, x, y):\n    return 0.0"], "magic"),
    (["import torch\ndef loss_grad(w, x, y):\n" + AUTOGRAD +
      "    getattr(l, 'backward')()\n    return float(getattr(w, 'grad'))"], "backward"),
    (["import torch, functools\ndef loss_grad(w, x, y):\n" + AUTOGRAD +
      "    f = functools.reduce(getattr, ['autograd', 'grad'], torch)\n"
      "    return float(f(l, w)[0])"], "autograd"),
    (["import torch, operator\ndef loss_grad(w, x, y):\n" + AUTOGRAD +
      "    operator.methodcaller('backward')(l)\n"
      "    return float(operator.attrgetter('grad')(w))"], "backward"),
])
def test_rule_bypasses_are_refused(cells, why):
    got = check_rule(EX01, cells)
    assert got is not None and why in got, got


def test_a_docstring_naming_the_forbidden_thing_is_fine():
    cells = ["import numpy as np\ndef loss_grad(w, x, y):\n"
             "    \"\"\"Closed form, no autograd, no .backward().\"\"\"\n"
             "    return float(-2 * np.sum(x * (y - w * x)))"]
    assert check_rule(EX01, cells) is None


def test_a_mention_of_vmap_is_not_a_call():
    body = ("    theta = {k: v.detach() for k, v in params.items()}\n"
            "    return {k: v * 0 for k, v in theta.items()}\n")
    mention = ["import torch\n_unused = torch.vmap\n"
               "def reptile_delta_batched(model, params, batch, steps, lr):\n"
               "    f = torch.vmap\n" + body]
    why = check_rule(EX09, mention)
    assert why is not None and "a mention is not a call" in why, why
    called = ["import torch\ndef reptile_delta_batched(model, params, batch, steps, lr):\n"
              "    out = torch.vmap(lambda x: x)(batch.x_support)\n" + body]
    assert check_rule(EX09, called) is None


def test_dynamic_code_that_could_restore_a_hidden_reference_is_named():
    assert dynamic_code(["x = 1", "import numpy as np"]) is None
    for cell in ("import importlib\nimportlib.reload(m)", "import runpy",
                 "f = g.__code__", "exec('x = 1')", "%run other.py",
                 "import types\ntypes.FunctionType",
                 "import course_pkg.grading.agent as ag\nag.hide = lambda n, m: n",
                 "from course_pkg.grading import agent",
                 "import course_pkg\ncourse_pkg.grading.agent.hide = print",
                 "import course_pkg\ng = getattr(course_pkg, 'grad' + 'ing')",
                 "import gc\ngc.get_objects()", "import sys\nsys._getframe(1)"):
        assert dynamic_code(["x = 1", cell]) is not None, cell


def test_rules_read_cells_that_failed_after_defining_things():
    """A cell that defines loss_grad with autograd and then raises keeps its definition in the
    kernel: the rule reads it (the grader's runner counts it as executed)."""
    from course_pkg.grading.grade import _Runner

    class Kernel:
        restarts_pending = False

        def run(self, source, timeout):
            if "raise" in source:
                return CellResult("error", 0.0, "RuntimeError", "on purpose")
            return CellResult("ok", 0.0)

    bad = ("import torch\ndef loss_grad(w, x, y):\n" + AUTOGRAD +
           "    l.backward()\n    return float(w.grad)\nraise RuntimeError('on purpose')")
    cells = [(1, "import numpy as np"), (2, bad), (3, 'grader.check("q1")')]
    runner = _Runner(Kernel(), cells, 10.0, float("inf"), None)
    runner.run_until(3)
    assert bad not in runner.ran() and bad in runner.executed()
    assert check_rule(EX01, runner.executed()) is not None

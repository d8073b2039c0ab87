"""Feedback that tells a learner what to do next, computed on the trusted side.

A failing test's raw message ("TypeError: 'NoneType' object is not iterable") says what broke in
the test, not what to do. :func:`explain_failures` rewrites it from what the grader knows:

- a graded function that still contains the exercise's ``...`` placeholder is an unimplemented
  stub: "`inner_loop` still contains `...`: implement it (see chapter 7, section 'The
  algorithm')";
- a function that returned ``None`` is named as such;
- an error raised while the test called the learner's code is said to be *their* code's error;
- every failing test names the chapter section to read (:data:`SECTIONS`).

Symbols are plain text (no emoji) so that they render in every terminal and font.
"""

from __future__ import annotations

import ast
import re
from dataclasses import replace

from .questions import CaseResult, Question
from .submission import parse_cell

#: (exercise, question) -> (chapter number, the ``##`` heading of the section to read); a test
#: checks that every heading exists in its chapter (book/NN_*.ipynb)
SECTIONS: dict[tuple[str, str], tuple[int, str]] = {
    ("ex01_supervised_learning", "q1"): (1, "Supervised learning with one neuron"),
    ("ex01_supervised_learning", "q2"): (1, "Supervised learning with one neuron"),
    ("ex01_supervised_learning", "q3"): (1, "Several inner steps"),
    ("ex01_supervised_learning", "q4"): (1, "Supervised learning with one neuron"),
    ("ex02_multitask_transfer", "q1"): (2, "Multi-task learning with hard parameter sharing"),
    ("ex02_multitask_transfer", "q2"): (2, "Transfer learning by fine-tuning"),
    ("ex02_multitask_transfer", "q3"): (2, "Transfer learning by fine-tuning"),
    ("ex02_multitask_transfer", "q4"): (2, "Transfer learning by fine-tuning"),
    ("ex02_multitask_transfer", "q5"): (2, "From transfer learning to meta-learning"),
    ("ex03_meta_learning_problem", "q1"): (3, "Meta-training, meta-testing, support and query"),
    ("ex03_meta_learning_problem", "q2"): (3, "$N$-way $K$-shot classification episodes"),
    ("ex03_meta_learning_problem", "q3"): (3, "The meta-learning objective"),
    ("ex03_meta_learning_problem", "q4"): (3, "The meta-learning objective"),
    ("ex04_black_box", "q1"): (4, "Few-shot classification as sequence learning"),
    ("ex04_black_box", "q2"): (4, "Few-shot classification as sequence learning"),
    ("ex04_black_box", "q3"): (4, "Outputting all parameters does not scale"),
    ("ex05_metric_based", "q1"): (5, "Prototypical networks"),
    ("ex05_metric_based", "q2"): (5, "Matching networks"),
    ("ex05_metric_based", "q3"): (5, "Prototypical networks"),
    ("ex06_optimization_based", "q1"): (6, "One step on each task"),
    ("ex06_optimization_based", "q2"): (6, "Learning an initialisation"),
    ("ex07_maml", "q1"): (7, "The algorithm"),
    ("ex07_maml", "q2"): (7, "Where the second-order terms come from"),
    ("ex07_maml", "q3"): (7, "The sinusoid experiment"),
    ("ex08_fomaml", "q1"): (8, "Dropping the Jacobian of the inner loop"),
    ("ex08_fomaml", "q2"): (8, "A quadratic where everything is known"),
    ("ex08_fomaml", "q3"): (8, "A quadratic where everything is known"),
    ("ex08_fomaml", "q4"): (8, "A quadratic where everything is known"),
    ("ex09_reptile", "q1"): (9, "The algorithm"),
    ("ex09_reptile", "q2"): (9, "The algorithm"),
    ("ex09_reptile", "q3"): (9, "Reptile on sinusoids"),
    ("ex09_reptile", "q4"): (9, "Why it works: the Taylor expansion"),
    ("ex10_imaml", "q1"): (10, "Conjugate gradient with Hessian-vector products"),
    ("ex10_imaml", "q2"): (10, "Conjugate gradient with Hessian-vector products"),
    ("ex10_imaml", "q3"): (10, "The implicit function theorem"),
    ("ex10_imaml", "q4"): (10, "The role of λ"),
    ("ex11_comparison", "q1"): (11, "Four methods on one landscape"),
    ("ex11_comparison", "q2"): (11, "Four methods on one landscape"),
    ("ex11_comparison", "q3"): (11, "Four methods on one landscape"),
    ("ex11_comparison", "q4"): (11, "Four methods on one landscape"),
    ("ex11_comparison", "q5"): (11, "Four methods on one landscape"),
    ("ex12_meta_rl", "q1"): (12, "Policy gradients, returns and baselines"),
    ("ex12_meta_rl", "q2"): (12, "MAML with policy gradients"),
    ("ex12_meta_rl", "q3"): (12, "Adapting to held-out goals"),
    ("ex12_meta_rl", "q4"): (12, "RL²: the learning algorithm in the activations"),
}

_NONE_ERROR = re.compile(r"NoneType|None\b")


def section_hint(exercise: str, question: str) -> str:
    """``"see chapter 7, section 'The algorithm'"``, or ``""`` when none is known."""
    where = SECTIONS.get((exercise, question))
    if where is None:
        return ""
    return f"see chapter {where[0]}, section '{where[1]}'"


def _is_placeholder(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and node.value is Ellipsis


def stubs(names: list[str], cells: list[str]) -> list[str]:
    """Which of ``names`` are, in their last definition in ``cells``, still the exercise's
    placeholder: a function with a ``...`` statement, or ``name = ...``."""
    last: dict[str, ast.AST] = {}
    for src in cells:
        tree = parse_cell(src)
        if tree is None:
            continue
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name in names:
                last[node.name] = node
            elif isinstance(node, ast.Assign):
                for t in node.targets:
                    if isinstance(t, ast.Name) and t.id in names:
                        last[t.id] = node
    out = []
    for name in names:
        node = last.get(name)
        if node is None:
            continue
        if isinstance(node, ast.Assign):
            if _is_placeholder(node.value):
                out.append(name)
        elif any(isinstance(s, ast.Expr) and _is_placeholder(s.value) for s in ast.walk(node)):
            out.append(name)
    return out


def defined(names: list[str], cells: list[str]) -> set[str]:
    """Which of ``names`` the cells define (def, class, assignment or import)."""
    out: set[str] = set()
    for src in cells:
        tree = parse_cell(src)
        if tree is None:
            continue
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                out.add(node.name)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                out.add(node.id)
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                out |= {(a.asname or a.name).split(".")[0] for a in node.names}
    return out & set(names)


def explain_failures(exercise: str, question: Question, results: list[CaseResult],
                     cells: list[str], returned_none: set[str] | frozenset = frozenset()
                     ) -> list[CaseResult]:
    """``results`` with each failing test's message rewritten to say what to do next."""
    names = [n for n in question.names if n != "env"]
    stub = stubs(names, cells)
    missing = [n for n in names if n not in defined(names, cells)]
    return explain(exercise, question.name, results, stub, missing, returned_none)


def explain(exercise: str, qname: str, results: list[CaseResult], stub: list[str],
            missing: list[str], returned_none: set[str] | frozenset = frozenset()
            ) -> list[CaseResult]:
    """The rewriting of :func:`explain_failures`, from what is known about the answer: which
    functions are still stubs, which are missing, which returned ``None``."""
    hint = section_hint(exercise, qname)
    tail = f" ({hint})" if hint else ""
    out = []
    for r in results:
        if r.passed:
            out.append(r)
            continue
        if stub:
            what = ", ".join(f"`{n}`" for n in stub)
            msg = (f"{what} still contain{'s' if len(stub) == 1 else ''} `...`: implement "
                   f"{'it' if len(stub) == 1 else 'them'}{tail}")
        elif missing:
            what = ", ".join(f"`{n}`" for n in missing)
            msg = (f"{what} is not defined when question {qname} is graded: define it "
                   f"in a cell above its grader.check cell, and make sure that cell runs{tail}")
        elif returned_none and _NONE_ERROR.search(r.message):
            what = ", ".join(f"`{n}`" for n in sorted(returned_none))
            msg = f"{what} returned None: it must return a value (is a `return` missing?){tail}"
        elif r.message.startswith(("the notebook's kernel", "your code", "not run")):
            msg = r.message + tail
        elif r.message.startswith("calling your code raised"):
            msg = f"{r.message}: fix it in your notebook{tail}"
        else:
            msg = r.message + (f"; {hint}" if hint else "")
        out.append(replace(r, message=msg[:900]))
    return out


__all__ = ["SECTIONS", "defined", "explain", "explain_failures", "section_hint", "stubs"]

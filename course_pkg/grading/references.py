"""The course's reference implementations are unreachable while the question that asks for them
is graded, so that an answer cannot delegate to them (``return course_pkg...inner_adapt(...)``).

Two mechanisms, chosen per reference (:func:`plan`):

- **by construction** (:func:`stub_tree`): a reference that no question of the exercise may use
  is absent from the sandbox for the whole notebook: its module file is replaced (a read-only
  bind mount) by a copy in which that function only raises ``NotImplementedError("... is not
  available while grading ...")``, and the module's ``__pycache__`` is hidden, so neither import,
  alias, ``getattr``, ``functools``/``operator`` tricks, ``%%file`` modules nor reading the
  package's files can reach the original code;
- **while the question is graded** (in the kernel): a reference that a *later* question's text
  lets the learner use (ex07 q2 may call ``inner_adapt``, the reference of q1) stays importable,
  and the grader's agent swaps the function's code for the same stub while the question that asks
  for it is graded (every alias of the function object sees the stub). A notebook could undo that
  only with dynamic code (``__code__``, ``importlib``, ``exec``, ``runpy``...), which the question's
  rule refuses (a source check, see :mod:`course_pkg.grading.rules`).
"""

from __future__ import annotations

import ast
import os
from pathlib import Path

#: (exercise, question) -> course_pkg functions that implement what the question asks for
REFERENCES: dict[tuple[str, str], tuple[str, ...]] = {
    ("ex01_supervised_learning", "q1"): ("algorithms.neuron.loss_grad",
                                         "algorithms.neuron.autograd_loss_grad"),
    ("ex01_supervised_learning", "q2"): ("algorithms.neuron.gradient_step",
                                         "algorithms.core.sgd_step"),
    ("ex01_supervised_learning", "q3"): (
        "algorithms.neuron.adapt", "algorithms.neuron.adaptation_derivative",
        "algorithms.neuron.task_meta_gradient", "algorithms.neuron.meta_gradient",
        "algorithms.neuron.meta_update", "algorithms.neuron.autograd_adapt",
        "algorithms.neuron.autograd_adaptation_derivative",
        "algorithms.neuron.autograd_task_meta_gradient", "algorithms.neuron.autograd_meta_gradient",
        "algorithms.neuron.autograd_meta_update", "algorithms.neuron.general_adapt",
        "algorithms.neuron.general_meta_gradient", "algorithms.neuron.general_task_meta_gradient",
        "algorithms.neuron.general_meta_update"),
    ("ex01_supervised_learning", "q4"): ("algorithms.neuron.stable_lr_bound",),
    ("ex02_multitask_transfer", "q2"): ("algorithms.finetune.layerwise_lrs",),
    ("ex02_multitask_transfer", "q3"): ("algorithms.finetune.new_head",),
    ("ex02_multitask_transfer", "q4"): ("algorithms.finetune.finetune_task",),
    ("ex03_meta_learning_problem", "q1"): ("algorithms.problem.split_support_query",),
    ("ex03_meta_learning_problem", "q3"): ("algorithms.problem.meta_objective",),
    ("ex04_black_box", "q1"): ("algorithms.blackbox.label_offset_inputs",),
    ("ex04_black_box", "q3"): ("algorithms.blackbox.hypernetwork_parameter_count",),
    ("ex05_metric_based", "q1"): ("algorithms.metric.prototypical_loss",
                                  "algorithms.metric.prototypical_logits"),
    ("ex05_metric_based", "q2"): ("algorithms.metric.matching_attention",
                                  "algorithms.metric.matching_log_probs"),
    ("ex07_maml", "q1"): ("algorithms.core.inner_adapt", "algorithms.core.batched_inner_adapt"),
    ("ex07_maml", "q2"): ("algorithms.maml.meta_gradient", "algorithms.maml.maml_loss",
                          "algorithms.maml._maml_objective"),
    ("ex06_optimization_based", "q2"): ("viz.landscapes.accumulated_landscapes",),
    ("ex07_maml", "q3"): ("experiments.curves.adaptation_curve",
                          "algorithms.evaluation.evaluate_adaptation"),
    ("ex08_fomaml", "q1"): ("algorithms.maml.meta_gradient", "algorithms.maml.maml_loss",
                            "algorithms.maml._maml_objective"),
    ("ex09_reptile", "q1"): ("algorithms.reptile.reptile_update",
                             "algorithms.reptile.reptile_step"),
    ("ex09_reptile", "q2"): ("algorithms.reptile.reptile_adapt",
                             "algorithms.reptile.reptile_meta_gradient"),
    ("ex09_reptile", "q3"): ("algorithms.core.batched_inner_adapt",),
    ("ex09_reptile", "q4"): ("algorithms.maml.pretrained_gradient",),
    ("ex10_imaml", "q1"): ("algorithms.imaml.conjugate_gradient",),
    ("ex10_imaml", "q2"): ("algorithms.imaml.hessian_vector_product",),
    ("ex10_imaml", "q3"): ("algorithms.imaml.implicit_meta_gradient",
                           "algorithms.imaml.imaml_meta_gradient"),
    ("ex11_comparison", "q1"): ("algorithms.maml.meta_gradient",),
    ("ex11_comparison", "q2"): ("algorithms.maml.meta_gradient",),
    ("ex11_comparison", "q3"): ("algorithms.reptile.reptile_meta_gradient",),
    ("ex11_comparison", "q4"): ("algorithms.imaml.imaml_meta_gradient",),
    ("ex11_comparison", "q5"): ("algorithms.reptile.taylor_predictions",
                                "algorithms.reptile.taylor_terms",
                                "algorithms.reptile.two_batch_directions"),
    ("ex12_meta_rl", "q1"): ("rl.returns.discounted_returns",),
    ("ex12_meta_rl", "q2"): ("rl.maml.adapt_step",),
    ("ex12_meta_rl", "q3"): ("rl.maml.adapted_rollout",),
    ("ex12_meta_rl", "q4"): ("rl.bandits.play_ucb1",),
}

#: exercise -> references a later question's text lets the learner use (so they are hidden only
#: while the question that asks for them is graded)
USED_LATER: dict[str, frozenset[str]] = {
    "ex03_meta_learning_problem": frozenset({"algorithms.problem.meta_objective"}),
    "ex07_maml": frozenset({"algorithms.core.inner_adapt"}),
    "ex10_imaml": frozenset({"algorithms.imaml.conjugate_gradient"}),
    "ex12_meta_rl": frozenset({"rl.returns.discounted_returns", "rl.maml.adapt_step"}),
}

PACKAGE = "course_pkg"


def qualified(name: str) -> str:
    return f"{PACKAGE}.{name}"


def plan(exercise: str) -> tuple[dict[str, set[str]], dict[str, tuple[str, ...]]]:
    """``(absent, per_question)``: module file (relative to course_pkg) -> functions stubbed for
    the whole notebook (by construction); question -> qualified functions stubbed in the kernel
    while that question is graded."""
    later = USED_LATER.get(exercise, frozenset())
    absent: dict[str, set[str]] = {}
    per_question: dict[str, tuple[str, ...]] = {}
    for (ex, q), names in REFERENCES.items():
        if ex != exercise:
            continue
        for n in names:
            if n in later:
                per_question[q] = (*per_question.get(q, ()), qualified(n))
            else:
                module, func = n.rsplit(".", 1)
                absent.setdefault(module.replace(".", "/") + ".py", set()).add(func)
    return absent, per_question


def how(exercise: str, question: str) -> str | None:
    """``"construction"``, ``"while graded"`` (both when mixed) or ``None`` (no reference)."""
    names = REFERENCES.get((exercise, question), ())
    if not names:
        return None
    later = USED_LATER.get(exercise, frozenset())
    kinds = sorted({"while graded" if n in later else "construction" for n in names})
    return " + ".join(kinds)


def stub_message(qualname: str) -> str:
    return (f"{qualname} is not available while grading: the exercise asks you to write it "
            "yourself")


def stub_source(source: str, functions: set[str], module: str) -> str:
    """``source`` with the body of each top-level function in ``functions`` replaced by a
    ``raise NotImplementedError`` (signature, decorators and everything else unchanged).

    Raises:
        ValueError: when one of ``functions`` is not a top-level ``def`` of ``source``.
    """
    tree = ast.parse(source)
    lines = source.splitlines(keepends=True)
    found = {n.name: n for n in tree.body if isinstance(n, (ast.FunctionDef,
                                                             ast.AsyncFunctionDef))}
    missing = sorted(functions - set(found))
    if missing:
        raise ValueError(f"{module} has no top-level function {missing}")
    for node in sorted((found[f] for f in functions), key=lambda n: -n.lineno):
        first = node.body[0]
        indent = " " * first.col_offset
        msg = stub_message(f"{PACKAGE}.{module}.{node.name}")
        lines[first.lineno - 1: node.end_lineno] = [
            f"{indent}raise NotImplementedError({msg!r})\n"]
    return "".join(lines)


def stub_tree(course_pkg_dir: str | Path, absent: dict[str, set[str]], out: str | Path
              ) -> list[tuple[str, str]]:
    """Write the stubbed copies of the files in ``absent`` under ``out``; returns
    ``(stub file, path relative to course_pkg)`` pairs to bind over the originals."""
    out = Path(out)
    pairs = []
    for rel, funcs in sorted(absent.items()):
        src = Path(course_pkg_dir) / rel
        module = rel.removesuffix(".py").replace("/", ".")
        try:
            text = stub_source(src.read_text(encoding="utf-8"), funcs, module)
        except (OSError, ValueError, SyntaxError):
            # the package moved a function: grading goes on without this stub
            # (tests/test_grading_exercise_text.py fails until REFERENCES is updated)
            continue
        dst = out / rel.replace("/", "__")
        dst.write_text(text, encoding="utf-8")
        os.chmod(dst, 0o644)
        pairs.append((str(dst), rel))
    return pairs


__all__ = ["REFERENCES", "USED_LATER", "how", "plan", "stub_source", "stub_tree"]

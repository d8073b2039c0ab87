"""Chapter 11's meta-training curves: short sinusoid runs of every method, stored with the package.

Each method trains ``iterations`` meta-iterations with its sinusoid checkpoint's configuration
(:func:`course_pkg.experiments.sinusoid.sinusoid_config`, ``meta_batch_size`` tasks per
iteration) through
:func:`course_pkg.algorithms.training.meta_train`; its ``callback`` measures, every ``every``
iterations, the query error of ``held_out_tasks`` held-out tasks after ``test_steps`` steps of the
method's own adaptation procedure. The curves are stored as the checkpoint
``course_pkg/weights/sinusoid_short_runs.{pt,json}`` (no tensors; the curves are in the JSON's
``metrics``) and loaded when the configuration matches, computed otherwise::

    python -m course_pkg.train curves        # recompute and store (about 2 CPU-minutes)
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from typing import Any, NamedTuple

import torch

from course_pkg.algorithms.evaluation import evaluate_adaptation, evaluate_proximal_adaptation
from course_pkg.algorithms.training import meta_train
from course_pkg.checkpoints import load_or_train, save_checkpoint
from course_pkg.experiments.methods import short_run_methods
from course_pkg.experiments.sinusoid import sinusoid_config, sinusoid_model
from course_pkg.tasks import SinusoidTasks
from course_pkg.utils import get_device, progress

NAME = "sinusoid_short_runs"
METHODS = tuple(short_run_methods())
DEFAULTS = {"iterations": 300, "every": 50, "meta_batch_size": 10, "held_out_tasks": 100,
            "held_out_query": 50, "held_out_seed": 777, "test_steps": 10, "inner_lr": 0.01,
            "init_seed": 0, "k_support": 10}


class ShortRuns(NamedTuple):
    """``curves[method] = [(iteration, query MSE), ...]``; ``loaded``: read from the store."""

    curves: dict[str, list[tuple[int, float]]]
    config: dict[str, Any]
    loaded: bool


def adaptation_curve(method: str, model: torch.nn.Module, params: dict[str, torch.Tensor],
                     tasks: Any, inner_steps: int, inner_lr: float = 0.01) -> torch.Tensor:
    """``(T, inner_steps + 1)`` query losses after 0..inner_steps steps of ``method``'s own
    adaptation (iMAML: its proximal solver with its checkpoint's settings; the others: SGD with
    ``inner_lr``)."""
    if method == "imaml":
        o = sinusoid_config("imaml", 10)
        return evaluate_proximal_adaptation(model, params, tasks, inner_steps, o.inner_lr,
                                            o.options["imaml_lambda"]).cpu()
    return evaluate_adaptation(model, params, tasks, inner_steps, inner_lr).cpu()


def _method_config(method: str, run: dict[str, Any]):
    """``method``'s sinusoid MetaConfig with the short-run budget and no periodic evaluation."""
    cfg = sinusoid_config(method, run["k_support"], meta_batch_size=run["meta_batch_size"])
    return replace(cfg, iterations=run["iterations"], eval_every=0)


def short_runs_config(methods: tuple[str, ...] = METHODS, **overrides: Any) -> dict[str, Any]:
    """The stored configuration (the cache key): run settings plus every method's MetaConfig."""
    run = {**DEFAULTS, **overrides}
    unknown = set(overrides) - set(DEFAULTS)
    if unknown:
        raise KeyError(f"unknown short-run settings {sorted(unknown)}; known: {sorted(DEFAULTS)}")
    configs = {m: _method_config(m, run).to_dict() for m in methods}
    return {"experiment": "sinusoid_short_runs", "model": "MLP(1, (40, 40), 1)", "run": run,
            "methods": list(methods), "configs": configs}


def _compute(cfg: dict[str, Any], device: torch.device, show_progress: bool):
    run = cfg["run"]
    held_out = SinusoidTasks().sample(run["held_out_tasks"], run["k_support"],
                                      run["held_out_query"], generator=run["held_out_seed"],
                                      device=device)
    curves: dict[str, list[list[float]]] = {}
    methods = progress(cfg["methods"], desc="short runs") if show_progress else cfg["methods"]
    for m in methods:
        config = _method_config(m, run)
        torch.manual_seed(run["init_seed"])
        model = sinusoid_model().to(device)
        init = {k: v.detach() for k, v in model.named_parameters()}

        def measure(p: dict[str, torch.Tensor], model=model, m=m) -> float:
            losses = adaptation_curve(m, model, p, held_out, run["test_steps"], run["inner_lr"])
            return losses[:, -1].mean().item()

        curve = [[0, measure(init)]]

        def every(it: int, meta: dict[str, torch.Tensor], history: dict, curve=curve,
                  measure=measure) -> None:
            if (it + 1) % run["every"] == 0:
                curve.append([it + 1, measure({k: v.detach() for k, v in meta.items()})])

        meta_train(model, SinusoidTasks(), config, params=init, device=device, progress=False,
                   callback=every)
        curves[m] = curve
    return {}, {"curves": curves}


def short_runs(methods: tuple[str, ...] = METHODS, device: str | torch.device | None = None,
               show_progress: bool = True, recompute: bool = False, directory: str | None = None,
               **overrides: Any) -> ShortRuns:
    """Load the stored short-run curves when their configuration matches; compute otherwise.

    ``overrides`` change the run settings (:data:`DEFAULTS`), e.g. ``iterations=100``; any change
    recomputes. ``recompute`` forces it and stores the result.
    """
    dev = get_device(device)
    cfg = short_runs_config(tuple(methods), **overrides)

    def compute(c: dict[str, Any]):
        return _compute(c, dev, show_progress)

    if recompute:
        state, metrics = compute(cfg)
        save_checkpoint(NAME, state, cfg, metrics, directory)
        meta = {"metrics": metrics, "loaded": False}
    else:
        _, meta = load_or_train(NAME, cfg, compute, directory)
    curves = {m: [(int(i), float(v)) for i, v in c] for m, c in meta["metrics"]["curves"].items()}
    return ShortRuns(curves, cfg, bool(meta["loaded"]))


HELP = "chapter 11's short meta-training curves of every method (a few CPU-minutes)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    """No flags of its own (``--iterations`` sets the meta-iterations per method)."""


def run(args: argparse.Namespace) -> list[str]:
    """Recompute and store the curves."""
    over = {} if args.iterations is None else {"iterations": args.iterations}
    runs = short_runs(device=args.device, show_progress=not args.quiet, recompute=True,
                      directory=args.out, **over)
    for m, c in runs.curves.items():
        print(f"{NAME} {m}: query MSE after {runs.config['run']['test_steps']} steps at "
              f"iteration {c[-1][0]} = {c[-1][1]:.3f}")
    return [NAME]


run_all = run

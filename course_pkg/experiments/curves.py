"""Chapter 11's meta-training curves: short sinusoid runs of every method, stored with the package.

Each method trains ``iterations`` meta-iterations with its sinusoid checkpoint's configuration
(``course_pkg.train.sinusoid_config``, ``meta_batch_size`` tasks per iteration) through
:func:`course_pkg.algorithms.maml.meta_train`; its ``callback`` measures, every ``every``
iterations, the query error of ``held_out_tasks`` held-out tasks after ``eval_steps`` steps of the
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

from course_pkg.algorithms import imaml
from course_pkg.algorithms.maml import evaluate_adaptation, meta_train
from course_pkg.checkpoints import load_or_train, save_checkpoint
from course_pkg.tasks import SinusoidTasks
from course_pkg.train import register_experiment, sinusoid_config, sinusoid_model
from course_pkg.utils import get_device, progress

NAME = "sinusoid_short_runs"
METHODS = ("maml", "fomaml", "reptile", "imaml")
DEFAULTS = {"iterations": 300, "every": 50, "meta_batch_size": 10, "held_out_tasks": 100,
            "held_out_query": 50, "held_out_seed": 777, "eval_steps": 10, "eval_lr": 0.01,
            "init_seed": 0, "k_shot": 10}


class ShortRuns(NamedTuple):
    """``curves[method] = [(iteration, query MSE), ...]``; ``loaded``: read from the store."""

    curves: dict[str, list[tuple[int, float]]]
    config: dict[str, Any]
    loaded: bool


def adaptation_curve(method: str, model: torch.nn.Module, params: dict[str, torch.Tensor],
                     tasks: Any, steps: int, lr: float = 0.01) -> torch.Tensor:
    """``(T, steps + 1)`` query losses after 0..steps steps of ``method``'s own adaptation
    (iMAML: its proximal solver with its checkpoint's settings; the others: SGD with ``lr``)."""
    if method == "imaml":
        o = sinusoid_config("imaml", 10)
        return imaml.evaluate_proximal_adaptation(model, params, tasks, steps, o.inner_lr,
                                                  o.options["lam"]).cpu()
    return evaluate_adaptation(model, params, tasks, steps, lr).cpu()


def short_runs_config(methods: tuple[str, ...] = METHODS, **overrides: Any) -> dict[str, Any]:
    """The stored configuration (the cache key): run settings plus every method's MetaConfig."""
    run = {**DEFAULTS, **overrides}
    unknown = set(overrides) - set(DEFAULTS)
    if unknown:
        raise KeyError(f"unknown short-run settings {sorted(unknown)}; known: {sorted(DEFAULTS)}")
    configs = {m: replace(sinusoid_config(m, run["k_shot"], meta_batch_size=run["meta_batch_size"]),
                          iterations=run["iterations"], eval_every=0).to_dict() for m in methods}
    return {"experiment": "sinusoid_short_runs", "model": "MLP(1, (40, 40), 1)", "run": run,
            "methods": list(methods), "configs": configs}


def _compute(cfg: dict[str, Any], device: torch.device, show_progress: bool):
    run = cfg["run"]
    held_out = SinusoidTasks().sample(run["held_out_tasks"], run["k_shot"], run["held_out_query"],
                                      generator=run["held_out_seed"], device=device)
    curves: dict[str, list[list[float]]] = {}
    methods = progress(cfg["methods"], desc="short runs") if show_progress else cfg["methods"]
    for m in methods:
        config = replace(sinusoid_config(m, run["k_shot"], meta_batch_size=run["meta_batch_size"]),
                         iterations=run["iterations"], eval_every=0)
        torch.manual_seed(run["init_seed"])
        model = sinusoid_model().to(device)
        init = {k: v.detach() for k, v in model.named_parameters()}

        def measure(p: dict[str, torch.Tensor], model=model, m=m) -> float:
            losses = adaptation_curve(m, model, p, held_out, run["eval_steps"], run["eval_lr"])
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


def _args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--iterations", type=int, default=None, help="meta-iterations per method")


def _run(args: argparse.Namespace) -> list[str]:
    over = {} if args.iterations is None else {"iterations": args.iterations}
    runs = short_runs(device=args.device, show_progress=not args.quiet, recompute=True,
                      directory=args.weights_dir, **over)
    for m, c in runs.curves.items():
        print(f"{NAME} {m}: query MSE after {runs.config['run']['eval_steps']} steps at "
              f"iteration {c[-1][0]} = {c[-1][1]:.3f}")
    return [NAME]


register_experiment("curves", "chapter 11's short meta-training curves of every method",
                    _args, _run)

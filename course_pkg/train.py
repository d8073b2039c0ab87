"""Train the checkpoints the chapters load: ``python -m course_pkg.train <experiment> …``.

Examples::

    python -m course_pkg.train sinusoid --algo maml --k 10          # CPU default, seconds
    python -m course_pkg.train sinusoid --algo pretrained
    python -m course_pkg.train sinusoid --algo maml --scale paper   # 70k iterations (GPU)
    python -m course_pkg.train all                                  # every registered checkpoint
    python -m course_pkg.train list

``--scale paper`` (or ``COURSE_SCALE=paper``) switches to the paper's settings; everything else
is unchanged code, on whatever device :func:`course_pkg.utils.get_device` picks (``--device``).
Each run writes ``course_pkg/weights/<name>.pt`` + ``<name>.json`` (config and metrics) through
:mod:`course_pkg.checkpoints`; chapters call the same ``load_or_train`` so they load a committed
checkpoint when the config matches and train otherwise.

Adding an experiment
--------------------
Call :func:`register_experiment` at import time of a module under ``course_pkg.algorithms`` (all
of them are imported by the command line before it dispatches) or of a module listed in
``EXPERIMENT_MODULES``::

    register_experiment("omniglot", "MAML on Omniglot", add_arguments=..., run=..., run_all=...)

``run(args) -> list[str]`` trains what the flags ask for and returns the checkpoint names it
wrote; ``run_all(args)`` retrains every checkpoint the chapters load (``make weights``).
A new meta-learning algorithm registered with
:func:`course_pkg.algorithms.maml.register_algorithm` is automatically available as
``sinusoid --algo <name>``; :func:`register_sinusoid_defaults` sets its hyper-parameters and
which shot counts ``all`` trains.
"""

from __future__ import annotations

import argparse
import importlib
import math
import os
import pkgutil
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import torch
from torch import nn

from course_pkg.algorithms.maml import (
    MetaConfig,
    evaluate_adaptation,
    meta_train,
    registered_algorithms,
    split_meta_params,
)
from course_pkg.checkpoints import load_or_train
from course_pkg.models import MLP
from course_pkg.tasks import SinusoidTasks
from course_pkg.utils import get_device, seed_everything

SCALE_ENV = "COURSE_SCALE"
#: Modules outside ``course_pkg.algorithms`` that register experiments when imported: the
#: few-shot table (chapters 4-5) and meta-RL (chapter 12).
EXPERIMENT_MODULES: list[str] = ["course_pkg.experiments.fewshot", "course_pkg.rl.experiment",
                                  "course_pkg.experiments.curves"]


# --------------------------------------------------------------------------- registry
@dataclass
class Experiment:
    """A named family of checkpoints with its command-line arguments."""

    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], list[str]]
    run_all: Callable[[argparse.Namespace], list[str]]


EXPERIMENTS: dict[str, Experiment] = {}


def register_experiment(
    name: str,
    help: str,
    add_arguments: Callable[[argparse.ArgumentParser], None],
    run: Callable[[argparse.Namespace], list[str]],
    run_all: Callable[[argparse.Namespace], list[str]] | None = None,
    overwrite: bool = False,
) -> None:
    """Make ``python -m course_pkg.train <name>`` (and ``all``) run this experiment.

    ``add_arguments(parser)`` adds its flags (``--scale`` and ``--device`` exist already);
    ``run_all`` defaults to ``run`` with the default flags.
    """
    if name in EXPERIMENTS and not overwrite:
        raise ValueError(f"experiment {name!r} is already registered")
    if name in ("all", "list"):
        raise ValueError(f"{name!r} is reserved")
    EXPERIMENTS[name] = Experiment(name, help, add_arguments, run, run_all or run)


def resolve_scale(scale: str | None = None) -> str:
    """``scale`` argument, else ``$COURSE_SCALE``, else ``"cpu"``; must be cpu or paper."""
    s = scale or os.environ.get(SCALE_ENV) or "cpu"
    if s not in ("cpu", "paper"):
        raise ValueError(f"scale must be 'cpu' or 'paper' (argument or ${SCALE_ENV}), got {s!r}")
    return s


# --------------------------------------------------------------------------- sinusoid
SINUSOID_HIDDEN = (40, 40)
# Shared by every algorithm; "paper" is Finn et al. (2017): 70k iterations, 25 tasks, α=0.01,
# Adam 1e-3. The CPU default keeps everything but the number of iterations.
SINUSOID_SCALES: dict[str, dict[str, Any]] = {
    "cpu": {"iterations": 4000},
    "paper": {"iterations": 70000},
}
SINUSOID_BASE: dict[str, Any] = {
    "meta_batch_size": 25,
    "inner_steps": 1,
    "inner_lr": 0.01,
    "meta_lr": 1e-3,
    "optimizer": "adam",
    "seed": 0,
}
# Per-algorithm overrides and the shot counts `train all` produces (what the chapters load).
SINUSOID_ALGOS: dict[str, dict[str, Any]] = {
    "maml": {"overrides": {}, "shots": (5, 10)},
    "fomaml": {"overrides": {}, "shots": (10,)},
    "metasgd": {"overrides": {}, "shots": (10,)},
    "pretrained": {"overrides": {"inner_steps": 0}, "shots": (10,)},
}


def register_sinusoid_defaults(
    algo: str, overrides: dict[str, Any] | None = None, shots: Sequence[int] = (10,),
    cpu_iterations: int | None = None,
) -> None:
    """Hyper-parameters of ``algo`` on the sinusoid family (``MetaConfig`` fields overriding
    :data:`SINUSOID_BASE`) and the shot counts ``train all`` trains. ``cpu_iterations`` overrides
    the CPU-scale iteration count for this algorithm (the paper scale keeps 70k)."""
    o = dict(overrides or {})
    if cpu_iterations is not None:
        o["_cpu_iterations"] = cpu_iterations
    SINUSOID_ALGOS[algo] = {"overrides": o, "shots": tuple(shots)}


def sinusoid_checkpoint_name(algo: str, k_shot: int) -> str:
    """``sinusoid_<algo>_k<K>``; the pretrained baseline ignores K: ``sinusoid_pretrained``."""
    return "sinusoid_pretrained" if algo == "pretrained" else f"sinusoid_{algo}_k{k_shot}"


def sinusoid_config(
    algo: str, k_shot: int = 10, scale: str | None = None, **overrides: Any
) -> MetaConfig:
    """The :class:`MetaConfig` of a sinusoid checkpoint (K support = K query = ``k_shot``)."""
    scale = resolve_scale(scale)
    if algo not in registered_algorithms():
        raise KeyError(f"unknown algorithm {algo!r}; registered: {registered_algorithms()}")
    algo_over = dict(SINUSOID_ALGOS.get(algo, {"overrides": {}})["overrides"])
    cpu_it = algo_over.pop("_cpu_iterations", None)
    fields = {**SINUSOID_BASE, **SINUSOID_SCALES[scale], **algo_over}
    if scale == "cpu" and cpu_it is not None:
        fields["iterations"] = cpu_it
    if algo == "pretrained":
        k_shot = 10  # one baseline, trained on 10 + 10 points per task, evaluated at any K
    fields.update(k_support=k_shot, k_query=k_shot, algorithm=algo)
    fields.update(overrides)
    return MetaConfig(**fields)


def sinusoid_model() -> nn.Module:
    """The 1-40-40-1 ReLU network of Finn et al. (2017)."""
    return MLP(1, SINUSOID_HIDDEN, 1)


def sinusoid_checkpoint(
    algo: str, k_shot: int = 10, scale: str | None = None, **overrides: Any
) -> tuple[str, dict[str, Any]]:
    """``(name, config dict)`` under which :func:`load_sinusoid` stores this checkpoint."""
    config = sinusoid_config(algo, k_shot, scale, **overrides)
    cfg = {"experiment": "sinusoid", "model": "MLP(1, (40, 40), 1)", **config.to_dict()}
    return sinusoid_checkpoint_name(algo, config.k_support), cfg


class TrainedModel(NamedTuple):
    """A loaded (or freshly trained) checkpoint."""

    model: nn.Module
    params: dict[str, torch.Tensor]
    inner_lr: float | dict[str, torch.Tensor]  # α, or Meta-SGD's learned per-parameter rates
    meta: dict[str, Any]  # {"config", "metrics", "loaded"}


def _train_sinusoid_fn(config: MetaConfig, device: torch.device, progress: bool):
    def train_fn(cfg_dict: dict[str, Any]):
        seed_everything(config.seed)
        model = sinusoid_model()
        meta_params, history = meta_train(model, SinusoidTasks(), config, device=device,
                                          progress=progress)
        params, lrs = split_meta_params(meta_params)
        held_out = SinusoidTasks().sample(200, config.k_support, 100, generator=12345,
                                          device=device)
        curve = evaluate_adaptation(model, params, held_out, 10,
                                    lrs if lrs is not None else config.inner_lr).mean(0)
        losses = history["loss"]
        window = max(1, len(losses) // 50)
        curve_train = [sum(losses[i:i + window]) / len(losses[i:i + window])
                       for i in range(0, len(losses), window)]
        tail = losses[max(0, len(losses) - 100):]
        metrics = {
            "final_train_loss_mean_last_100": round(sum(tail) / max(len(tail), 1), 6),
            "train_loss_window": window,
            "train_loss_curve": [round(v, 5) for v in curve_train],
            # None where adaptation diverged (Meta-SGD's rates are trained for its k steps only)
            "heldout_query_mse_after_steps": [round(v, 6) if math.isfinite(v) else None
                                              for v in curve.tolist()],
            "heldout_tasks": 200,
        }
        return meta_params, metrics

    return train_fn


def load_sinusoid(
    algo: str = "maml",
    k_shot: int = 10,
    scale: str | None = None,
    device: str | torch.device | None = None,
    progress: bool = True,
    retrain: bool = False,
    directory: str | None = None,
    **overrides: Any,
) -> TrainedModel:
    """Load the committed sinusoid checkpoint for ``algo``/``k_shot`` if its config matches
    (``scale`` and ``overrides`` included), else train it (and save it). ``retrain`` forces
    training; ``directory`` replaces ``course_pkg/weights``."""
    dev = get_device(device)
    config = sinusoid_config(algo, k_shot, scale, **overrides)
    name, cfg = sinusoid_checkpoint(algo, k_shot, scale, **overrides)
    train_fn = _train_sinusoid_fn(config, dev, progress)
    if retrain:
        from course_pkg.checkpoints import save_checkpoint
        state, metrics = train_fn(cfg)
        save_checkpoint(name, state, cfg, metrics, directory)
        meta = {"config": cfg, "metrics": metrics, "loaded": False}
    else:
        state, meta = load_or_train(name, cfg, train_fn, directory, map_location=dev)
    model = sinusoid_model().to(dev)
    meta_params = {k: v.to(dev) for k, v in state.items()}
    params, lrs = split_meta_params(meta_params)
    model.load_state_dict(params)
    return TrainedModel(model, params, lrs if lrs is not None else config.inner_lr, meta)


SINUSOID_SHOWN = {"pretrained": ("pretrained", 10), "maml": ("maml", 10),
                  "maml_k5": ("maml", 5), "fomaml": ("fomaml", 10)}


def load_sinusoid_models(
    device: str | torch.device | None = None, scale: str | None = None, progress: bool = False
) -> dict[str, tuple[dict[str, torch.Tensor], dict[str, Any]]]:
    """The sinusoid checkpoints the chapters show, as ``{name: (params, meta)}``.

    Names (:data:`SINUSOID_SHOWN`): ``"pretrained"``, ``"maml"`` (K = 10), ``"maml_k5"``,
    ``"fomaml"`` (K = 10). ``params`` is the state dict of ``MLP(1, (40, 40), 1)``
    (:func:`sinusoid_model`); ``meta = {"config", "metrics", "loaded"}`` with the adaptation step
    size in ``meta["config"]["inner_lr"]`` (0.01). Loaded from ``course_pkg/weights``, trained
    when missing or out of date.
    """
    out = {}
    for label, (algo, k) in SINUSOID_SHOWN.items():
        tm = load_sinusoid(algo, k, scale=scale, device=device, progress=progress)
        out[label] = (tm.params, tm.meta)
    return out


def _sinusoid_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--algo", default="maml",
                   help="registered algorithm: maml, fomaml, metasgd, pretrained, …")
    p.add_argument("--k", type=int, nargs="+", default=[10], help="shots K (support = query)")
    p.add_argument("--iterations", type=int, default=None, help="override the iteration count")
    p.add_argument("--inner-steps", type=int, default=None)
    p.add_argument("--seed", type=int, default=None)


def _sinusoid_run(args: argparse.Namespace) -> list[str]:
    over = {}
    if args.iterations is not None:
        over["iterations"] = args.iterations
    if args.inner_steps is not None:
        over["inner_steps"] = args.inner_steps
    if args.seed is not None:
        over["seed"] = args.seed
    names = []
    for k in args.k:
        tm = load_sinusoid(args.algo, k, args.scale, args.device, progress=not args.quiet,
                           retrain=True, directory=args.weights_dir, **over)
        name = sinusoid_checkpoint_name(args.algo, k)
        curve = tm.meta["metrics"]["heldout_query_mse_after_steps"]
        shown = " / ".join("diverged" if curve[s] is None else f"{curve[s]:.3f}"
                           for s in (0, 1, 10))
        print(f"{name}: held-out query MSE after 0/1/10 steps = {shown}")
        names.append(name)
    return names


def _sinusoid_run_all(args: argparse.Namespace) -> list[str]:
    names = []
    for algo, spec in SINUSOID_ALGOS.items():
        if algo not in registered_algorithms():
            continue
        sub = argparse.Namespace(**{**vars(args), "algo": algo, "k": list(spec["shots"]),
                                    "iterations": None, "inner_steps": None, "seed": None})
        names += _sinusoid_run(sub)
    return names


register_experiment("sinusoid", "sinusoid regression (Finn et al., 2017): MAML & co.",
                    _sinusoid_args, _sinusoid_run, _sinusoid_run_all)


# --------------------------------------------------------------------------- command line
def discover_experiments() -> None:
    """Import every ``course_pkg.algorithms`` module and ``EXPERIMENT_MODULES`` so that their
    :func:`register_experiment` / ``register_algorithm`` calls run."""
    import course_pkg.algorithms as algos

    for info in pkgutil.iter_modules(algos.__path__):
        importlib.import_module(f"course_pkg.algorithms.{info.name}")
    for mod in EXPERIMENT_MODULES:
        importlib.import_module(mod)


def main(argv: Sequence[str] | None = None) -> int:
    discover_experiments()
    parser = argparse.ArgumentParser(prog="python -m course_pkg.train", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--scale", choices=("cpu", "paper"), default=None,
                        help=f"cpu (default) or paper; also ${SCALE_ENV}")
    common.add_argument("--device", default=None, help="cpu, cuda, mps (default: get_device())")
    common.add_argument("--quiet", action="store_true", help="no progress bar")
    common.add_argument("--weights-dir", default=None,
                        help="write checkpoints here instead of course_pkg/weights")
    common.add_argument("--threads", type=int, default=None,
                        help="torch CPU threads (tiny models often run fastest with 1)")
    sub = parser.add_subparsers(dest="experiment", required=True)
    sub.add_parser("list", help="list the registered experiments")
    sub.add_parser("all", parents=[common], help="retrain every registered checkpoint")
    for exp in EXPERIMENTS.values():
        exp.add_arguments(sub.add_parser(exp.name, parents=[common], help=exp.help))
    args = parser.parse_args(argv)
    if args.experiment == "list":
        for exp in EXPERIMENTS.values():
            print(f"{exp.name:12s} {exp.help}")
        return 0
    args.scale = resolve_scale(args.scale)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    if args.experiment == "all":
        written = []
        for exp in EXPERIMENTS.values():
            written += exp.run_all(args)
    else:
        written = EXPERIMENTS[args.experiment].run(args)
    print("wrote:", ", ".join(written))
    return 0


if __name__ == "__main__":
    # Run main() from the importable module so experiments registered by other modules (which
    # import course_pkg.train) land in the same registry.
    from course_pkg.train import main as _main

    sys.exit(_main())

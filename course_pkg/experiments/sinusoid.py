"""Sinusoid regression runs (Finn et al., 2017): MAML, FOMAML, Meta-SGD, Reptile, iMAML and the
pretrained baseline on the 1-40-40-1 network.

``python -m course_pkg.train sinusoid --method maml --k-support 10`` trains one checkpoint
``sinusoid_<method>_k<K>`` (``sinusoid_pretrained`` for the baseline); chapters call
:func:`load_sinusoid`, which loads the committed checkpoint when its stored config equals the
requested one and trains otherwise. Every setting that changes the checkpoint or its metrics is
in that config: the :class:`~course_pkg.algorithms.training.MetaConfig` fields, the model and the
held-out evaluation (:data:`HELDOUT`).
"""

from __future__ import annotations

import argparse
import math
from typing import Any

import torch
from torch import nn

from course_pkg.algorithms.core import split_meta_params
from course_pkg.algorithms.evaluation import evaluate_adaptation
from course_pkg.algorithms.training import MetaConfig, meta_train, registered_algorithms
from course_pkg.checkpoints import load_or_train, save_checkpoint
from course_pkg.experiments.common import Loaded, resolve_scale
from course_pkg.experiments.methods import METHODS, sinusoid_methods
from course_pkg.models import MLP
from course_pkg.tasks import SinusoidTasks
from course_pkg.utils import get_device, seed_everything, smooth_curve

HELP = "sinusoid regression (Finn et al., 2017): MAML & co."
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
# Per-method overrides of SINUSOID_BASE and the shot counts `train all` produces live in each
# method's spec (``MethodSpec.sinusoid`` in :mod:`course_pkg.experiments.methods`):
#
# - Reptile: 10 inner steps on support + query; Adam on the pseudo-gradient θ − φ̄ stands in
#   for the paper's annealed ε.
# - iMAML: a proximal inner loop of 20 GD steps, λ = 10 (about 1/(α·10): as strong a pull to θ
#   as 10 plain SGD steps exert), 5 CG steps, and backtracking in the inner loop (without it
#   meta-training drives θ to curvatures above 2/α − λ, where the inner loop diverges; ch. 10).
#: The held-out evaluation stored in every sinusoid checkpoint's metrics: ``tasks`` tasks with
#: ``k_query`` query points each, drawn with ``seed``, query MSE after 0…``inner_steps`` steps.
HELDOUT: dict[str, int] = {"num_tasks": 200, "k_query": 100, "seed": 12345, "test_steps": 10}


def sinusoid_checkpoint_name(method: str, k_support: int) -> str:
    """``sinusoid_<method>_k<K>``; the pretrained baseline ignores K: ``sinusoid_pretrained``."""
    return "sinusoid_pretrained" if method == "pretrained" else f"sinusoid_{method}_k{k_support}"


def sinusoid_config(
    method: str, k_support: int = 10, scale: str | None = None, **overrides: Any
) -> MetaConfig:
    """The :class:`MetaConfig` of a sinusoid checkpoint (K support = K query = ``k_support``)."""
    scale = resolve_scale(scale)
    if method not in registered_algorithms():
        raise KeyError(f"unknown algorithm {method!r}; registered: {registered_algorithms()}")
    sin = METHODS[method].sinusoid if method in METHODS else None
    algo_over = dict((sin or {"overrides": {}})["overrides"])
    fields = {**SINUSOID_BASE, **SINUSOID_SCALES[scale], **algo_over}
    if method == "pretrained":
        k_support = 10  # one baseline, trained on 10 + 10 points per task, evaluated at any K
    fields.update(k_support=k_support, k_query=k_support, method=method)
    fields.update(overrides)
    return MetaConfig(**fields)


def sinusoid_model() -> nn.Module:
    """The 1-40-40-1 ReLU network of Finn et al. (2017)."""
    return MLP(1, SINUSOID_HIDDEN, 1)


def sinusoid_checkpoint(
    method: str, k_support: int = 10, scale: str | None = None, **overrides: Any
) -> tuple[str, dict[str, Any]]:
    """``(name, config dict)`` under which :func:`load_sinusoid` stores this checkpoint."""
    config = sinusoid_config(method, k_support, scale, **overrides)
    cfg = {"experiment": "sinusoid", "model": "MLP(1, (40, 40), 1)", **config.to_dict(),
           "heldout": dict(HELDOUT)}
    return sinusoid_checkpoint_name(method, config.k_support), cfg


def _train_sinusoid_fn(config: MetaConfig, device: torch.device, progress: bool):
    def train_fn(cfg_dict: dict[str, Any]):
        seed_everything(config.seed)
        model = sinusoid_model()
        meta_params, history = meta_train(model, SinusoidTasks(), config, device=device,
                                          progress=progress)
        params, lrs = split_meta_params(meta_params)
        h = cfg_dict["heldout"]
        held_out = SinusoidTasks().sample(h["num_tasks"], config.k_support, h["k_query"],
                                          generator=h["seed"], device=device)
        curve = evaluate_adaptation(model, params, held_out, h["test_steps"],
                                    lrs if lrs is not None else config.inner_lr).mean(0)
        losses = history["loss"]
        window, curve_train = smooth_curve(losses)
        tail = losses[max(0, len(losses) - 100):]
        metrics = {
            "final_train_loss_mean_last_100": round(sum(tail) / max(len(tail), 1), 6),
            "train_loss_window": window,
            "train_loss_curve": [round(v, 5) for v in curve_train],
            # None where adaptation diverged (Meta-SGD's rates are trained for its k steps only)
            "heldout_query_mse_after_steps": [round(v, 6) if math.isfinite(v) else None
                                              for v in curve.tolist()],
            "heldout_tasks": h["num_tasks"],
        }
        return meta_params, metrics

    return train_fn


def load_sinusoid(
    method: str = "maml",
    k_support: int = 10,
    scale: str | None = None,
    device: str | torch.device | None = None,
    progress: bool = True,
    retrain: bool = False,
    directory: str | None = None,
    **overrides: Any,
) -> Loaded:
    """Load the committed sinusoid checkpoint for ``method``/``k_support`` if its config matches
    (``scale`` and ``overrides`` included), else train it (and save it). ``retrain`` forces
    training; ``directory`` replaces ``course_pkg/weights``."""
    dev = get_device(device)
    config = sinusoid_config(method, k_support, scale, **overrides)
    name, cfg = sinusoid_checkpoint(method, k_support, scale, **overrides)
    train_fn = _train_sinusoid_fn(config, dev, progress)
    if retrain:
        state, metrics = train_fn(cfg)
        save_checkpoint(name, state, cfg, metrics, directory)
        meta = {"config": cfg, "metrics": metrics, "loaded": False}
    else:
        state, meta = load_or_train(name, cfg, train_fn, directory, map_location=dev)
    model = sinusoid_model().to(dev)
    meta_params = {k: v.to(dev) for k, v in state.items()}
    params, lrs = split_meta_params(meta_params)
    model.load_state_dict(params)
    return Loaded(model, params, meta["config"], meta,
                  lrs if lrs is not None else config.inner_lr)


#: The checkpoints chapter 7's explorer shows (each spec's ``sinusoid["shown"]`` shot counts):
#: figure key (``<method>`` at K = 10, ``<method>_k<K>`` otherwise) → (method, K).
SINUSOID_SHOWN = {(m if k == 10 else f"{m}_k{k}"): (m, k) for m in sinusoid_methods()
                  for k in METHODS[m].sinusoid.get("shown", ())}


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
    for label, (method, k) in SINUSOID_SHOWN.items():
        tm = load_sinusoid(method, k, scale=scale, device=device, progress=progress)
        out[label] = (tm.params, tm.meta)
    return out


def explorer_models(device: str | torch.device | None = "cpu") -> dict[str, dict[str, Any]]:
    """The committed ``"pretrained"`` and ``"maml"`` (K = 10) checkpoints in the form
    :func:`course_pkg.viz.sinusoid_explorer` takes: ``{name: {"state", "inner_lr", "trained"}}``
    (trained when missing)."""
    out = {}
    for name in ("pretrained", "maml"):
        params, meta = _shown(name, device)
        out[name] = {"state": {k: v.detach().cpu() for k, v in params.items()},
                     "inner_lr": float(meta["config"]["inner_lr"]), "trained": True}
    return out


def _shown(label: str, device) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    method, k = SINUSOID_SHOWN[label]
    tm = load_sinusoid(method, k, device=device, progress=False)
    return tm.params, tm.meta


# --------------------------------------------------------------------------- command line
def add_arguments(p: argparse.ArgumentParser) -> None:
    """``--method``, ``--k-support`` (one or more K; K query = K support), ``--inner-steps``,
    ``--seed``."""
    p.add_argument("--method", default="maml", choices=registered_algorithms(),
                   help="the meta-learning algorithm (default maml)")
    p.add_argument("--k-support", type=int, nargs="+", default=[10],
                   help="support points per task K (query points = K); several train several")
    p.add_argument("--inner-steps", type=int, default=None, help="override inner_steps")
    p.add_argument("--seed", type=int, default=None, help="override the seed")


def run(args: argparse.Namespace) -> list[str]:
    """Train the checkpoints the flags ask for; print their held-out curve; return the names."""
    over = {key: getattr(args, key) for key in ("iterations", "inner_steps", "seed")
            if getattr(args, key, None) is not None}
    names = []
    for k in args.k_support:
        tm = load_sinusoid(args.method, k, args.scale, args.device, progress=not args.quiet,
                           retrain=True, directory=args.out, **over)
        name = sinusoid_checkpoint_name(args.method, k)
        curve = tm.meta["metrics"]["heldout_query_mse_after_steps"]
        shown = " / ".join("diverged" if curve[s] is None else f"{curve[s]:.3f}"
                           for s in (0, 1, 10))
        print(f"{name}: held-out query MSE after 0/1/10 steps = {shown}")
        names.append(name)
    return names


def run_all(args: argparse.Namespace) -> list[str]:
    """Every sinusoid checkpoint the chapters load (each spec's ``sinusoid["shots"]``)."""
    names = []
    for method in sinusoid_methods():
        shots = METHODS[method].sinusoid["shots"]
        sub = argparse.Namespace(**{**vars(args), "method": method, "k_support": list(shots),
                                    "inner_steps": None, "seed": None})
        names += run(sub)
    return names

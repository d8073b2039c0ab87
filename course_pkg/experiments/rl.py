"""Meta-RL runs (chapter 12): configurations, checkpoints and their command line.

Every model the chapter shows is trained by one command and stored (small) in
``course_pkg/weights/rl_*.{pt,json}``::

    python -m course_pkg.train rl --names maml-nav        # MAML-PG, second order (~1–2 min CPU)
    python -m course_pkg.train rl --names maml-nav-fo     # first-order MAML-PG
    python -m course_pkg.train rl --names maml-nav-lr     # with the likelihood-ratio term
    python -m course_pkg.train rl --names pretrained-nav  # multi-task policy, no adaptation
    python -m course_pkg.train rl --names rl2-bandit      # RL² GRU on 5-armed bandits (~2 min)
    python -m course_pkg.train rl                         # all of the above
    python -m course_pkg.train rl --evaluate              # print the chapter's tables

``--scale paper`` (or ``COURSE_SCALE=paper``) selects the larger settings of Finn et al. (2017)
/ Duan et al. (2016) for a GPU or a long CPU run; they are stored under ``rl_*_paper``.
"""

from __future__ import annotations

import argparse
import copy
import json
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from course_pkg.checkpoints import load_checkpoint, load_or_train, save_checkpoint
from course_pkg.experiments.common import Loaded, resolve_scale
from course_pkg.experiments.methods import METHODS
from course_pkg.rl.evaluation import bandit_comparison, navigation_adaptation
from course_pkg.utils import get_device
from course_pkg.utils.config import Config

HELP = "meta-RL: MAML-PG on 2-D navigation, multi-task baseline, RL² on bandits"

_NAV = {
    "seed": 0,
    "iterations": 300,
    "meta_batch_size": 20,
    "k_traj": 20,
    "outer_traj": 20,
    "inner_lr": 0.1,
    "meta_lr": 0.003,
    "hidden": [32, 32],
    "init_std": 1.0,
    "gamma": 0.99,
    "gae_lambda": 1.0,
    "first_order": False,
    "exploration_term": False,
}

_RL2 = {
    "seed": 0,
    "iterations": 400,
    "meta_batch_size": 128,
    "n_arms": 5,
    "horizon": 100,
    "hidden": 64,
    "meta_lr": 0.01,
    "gamma": 0.8,
    "gae_lambda": 0.5,
    "value_coef": 0.05,
    "entropy_coef": 0.01,
    "entropy_final": 0.0,
    "grad_clip": 10.0,
}

CONFIGS: dict[str, dict[str, Any]] = {
    "maml-nav": {"method": "maml", **_NAV},
    "maml-nav-fo": {"method": "maml", **_NAV, "first_order": True},
    "maml-nav-lr": {"method": "maml", **_NAV, "exploration_term": True},
    "pretrained-nav": {"method": "pretrained", **_NAV},
    "rl2-bandit": {"method": "rl2", **_RL2},
}

@dataclass(frozen=True, eq=False)
class RLConfig(Config):
    """One meta-RL run (a :class:`~course_pkg.utils.config.Config`). MAML-PG on navigation uses
    ``k_traj``/``outer_traj`` (trajectories per task for the inner and outer step), ``inner_lr``,
    ``init_std``, ``first_order`` and ``exploration_term``; RL² on bandits uses ``n_arms``,
    ``horizon``, the loss weights and ``grad_clip``. ``hidden`` is the MLP's widths (a list)
    or the GRU's size (an int)."""

    method: str | None = None
    seed: int | None = None
    iterations: int | None = None
    meta_batch_size: int | None = None
    hidden: list | int | None = None
    meta_lr: float | None = None
    gamma: float | None = None
    gae_lambda: float | None = None
    # MAML-PG (navigation)
    k_traj: int | None = None
    outer_traj: int | None = None
    inner_lr: float | None = None
    init_std: float | None = None
    first_order: bool | None = None
    exploration_term: bool | None = None
    # RL² (bandits)
    n_arms: int | None = None
    horizon: int | None = None
    value_coef: float | None = None
    entropy_coef: float | None = None
    entropy_final: float | None = None
    grad_clip: float | None = None

    REQUIRED = ("method",)


def config_for(name: str, scale: str | None = None, **overrides: Any) -> RLConfig:
    """The training configuration of experiment ``name`` (one of :data:`CONFIGS`), with
    ``overrides`` (e.g. ``iterations=20``) applied."""
    if name not in CONFIGS:
        raise ValueError(f"unknown experiment {name!r}; choose one of {sorted(CONFIGS)}")
    cfg = copy.deepcopy(CONFIGS[name])
    if resolve_scale(scale) == "paper":
        cfg.update(copy.deepcopy(dict(METHODS[cfg["method"]].rl["paper"])))
    unknown = set(overrides) - set(cfg)
    if unknown:
        raise KeyError(f"{name} has no settings {sorted(unknown)}; it has {sorted(cfg)}")
    cfg.update(overrides)
    return RLConfig.from_dict(cfg)


def checkpoint_name(name: str, scale: str | None = None) -> str:
    """``rl_<name>`` with dashes as underscores, plus ``_paper`` at paper scale."""
    base = "rl_" + name.replace("-", "_")
    return base + ("_paper" if resolve_scale(scale) == "paper" else "")


def build_model(config: dict[str, Any]) -> nn.Module:
    """An untrained model of the method ``config`` names (seeded)."""
    return METHODS[config["method"]].rl["policy"](config)


def _train_fn(device: str | torch.device | None, progress: bool):
    def train(config: dict[str, Any]):
        return METHODS[config["method"]].rl["trainer"](config, device=device, progress=progress)

    return train


def load_model(
    name: str,
    scale: str | None = None,
    device: str | torch.device | None = None,
    progress: bool = True,
    train_if_missing: bool = True,
) -> Loaded:
    """The trained model of experiment ``name``: loaded from ``course_pkg/weights`` when the
    stored config matches, trained (and saved) otherwise. Returns a
    :class:`~course_pkg.experiments.common.Loaded` (``meta = {"config", "metrics", "loaded"}``);
    the model is on ``device`` in eval mode."""
    cfg = config_for(name, scale)
    ckpt = checkpoint_name(name, scale)
    if train_if_missing:
        state, meta = load_or_train(ckpt, cfg, _train_fn(device, progress))
    else:
        found = load_checkpoint(ckpt, cfg)
        if found is None:
            raise FileNotFoundError(
                f"no checkpoint {ckpt!r} with the current config in course_pkg/weights; create it "
                f"with `python -m course_pkg.train rl --names {name}`"
            )
        state, meta = found
        meta["loaded"] = True
    model = build_model(cfg)
    model.load_state_dict(state)
    model = model.to(get_device(device)).eval()
    return Loaded(model, {k: v.detach() for k, v in model.named_parameters()}, meta["config"],
                  meta)


def train(
    name: str,
    scale: str | None = None,
    device: str | torch.device | None = None,
    progress: bool = True,
    directory: str | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    """Train experiment ``name`` from scratch and overwrite its checkpoint (in ``directory``,
    default ``course_pkg/weights``); ``overrides`` change (and are stored in) its config.
    Returns the metrics."""
    cfg = config_for(name, scale, **overrides)
    state, metrics = _train_fn(device, progress)(cfg)
    save_checkpoint(checkpoint_name(name, scale), state, cfg, metrics, directory)
    return metrics


def evaluate(scale: str | None = None, device: str | torch.device | None = None) -> dict:
    """Print (and return) the chapter's two tables from the committed checkpoints."""
    kw = {"scale": scale, "device": device, "train_if_missing": False}
    nav = {
        "MAML (2nd order)": load_model("maml-nav", **kw).model,
        "MAML (1st order)": load_model("maml-nav-fo", **kw).model,
        "MAML + LR term": load_model("maml-nav-lr", **kw).model,
        "multi-task pretrained": load_model("pretrained-nav", **kw).model,
        "random init": build_model(config_for("maml-nav", scale)),
    }
    nav["random init"].to(nav["MAML (2nd order)"].log_std.device)
    inner_lr = config_for("maml-nav", scale)["inner_lr"]
    res = navigation_adaptation(nav, inner_lr=inner_lr)
    report: dict = {"navigation": {}, "bandits": {}}
    print("Return on 100 held-out goals (mean ± 95 % CI) after j adaptation steps")
    for name, r in res.items():
        cells = "  ".join(f"{m:7.1f} ± {c:4.1f}" for m, c in zip(r["mean"], r["ci"]))
        print(f"  {name:24s} {cells}")
        report["navigation"][name] = {"mean": r["mean"], "ci": r["ci"]}
    rl2 = load_model("rl2-bandit", **kw).model
    band = bandit_comparison(rl2)
    print("5-armed Bernoulli bandits, 100 pulls, 1000 held-out tasks: total reward")
    for name, r in band.items():
        print(f"  {name:20s} {r['mean']:6.2f} ± {r['ci']:4.2f}   regret {r['regret']:6.2f}")
        report["bandits"][name] = {"mean": r["mean"], "ci": r["ci"], "regret": r["regret"]}
    return report


# --------------------------------------------------------------------------- command line
def add_arguments(p: argparse.ArgumentParser) -> None:
    """``--names`` (which checkpoints), ``--evaluate [--json FILE]`` (print the tables)."""
    p.add_argument("--names", nargs="+", choices=list(CONFIGS), default=list(CONFIGS),
                   help="which meta-RL checkpoints to train (default: all)")
    p.add_argument("--evaluate", action="store_true",
                   help="print the chapter's tables from the checkpoints instead of training")
    p.add_argument("--json", default=None, help="with --evaluate: also write the numbers here")


def run(args: argparse.Namespace) -> list[str]:
    """Train ``--names`` (or evaluate); return the checkpoint names written."""
    if getattr(args, "evaluate", False):
        report = evaluate(args.scale, args.device)
        if args.json:
            with open(args.json, "w") as f:
                json.dump(report, f, indent=2)
        return []
    over = {} if args.iterations is None else {"iterations": args.iterations}
    written = []
    for name in getattr(args, "names", None) or list(CONFIGS):
        metrics = train(name, args.scale, args.device, progress=not args.quiet,
                        directory=args.out, **over)
        print(f"{checkpoint_name(name, args.scale)}: trained in {metrics['train_seconds']} s")
        written.append(checkpoint_name(name, args.scale))
    return written


def run_all(args: argparse.Namespace) -> list[str]:
    """Every meta-RL checkpoint the chapter loads."""
    return run(argparse.Namespace(**{**vars(args), "names": list(CONFIGS), "evaluate": False}))

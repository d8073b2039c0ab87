"""Configurations, checkpoints and the command line of the meta-RL experiments.

Every model the chapter shows is trained by one command and stored (small) in
``course_pkg/weights/rl_*.{pt,json}``::

    python -m course_pkg.rl train maml-nav          # MAML-PG, second order   (~1–2 min CPU)
    python -m course_pkg.rl train maml-nav-fo       # first-order MAML-PG
    python -m course_pkg.rl train maml-nav-lr       # with the likelihood-ratio term
    python -m course_pkg.rl train pretrained-nav    # multi-task policy, no adaptation in training
    python -m course_pkg.rl train rl2-bandit        # RL² GRU on 5-armed bandits (~2 min CPU)
    python -m course_pkg.rl train all               # all of the above
    python -m course_pkg.rl evaluate                # print the chapter's tables

``--scale paper`` (or ``COURSE_SCALE=paper``) selects the larger settings of Finn et al. (2017)
/ Duan et al. (2016) for a GPU or a long CPU run; they are stored under ``rl_*_paper``.
"""

from __future__ import annotations

import copy
import os
from typing import Any

import torch
from torch import nn

from course_pkg.checkpoints import load_checkpoint, load_or_train, save_checkpoint

_NAV = {
    "seed": 0,
    "iterations": 300,
    "meta_batch": 20,
    "k_traj": 20,
    "outer_traj": 20,
    "inner_lr": 0.1,
    "outer_lr": 0.003,
    "hidden": [32, 32],
    "init_std": 1.0,
    "gamma": 0.99,
    "lam": 1.0,
    "first_order": False,
    "exploration_term": False,
}

_RL2 = {
    "seed": 0,
    "iterations": 400,
    "batch": 128,
    "arms": 5,
    "horizon": 100,
    "hidden": 64,
    "lr": 0.01,
    "gamma": 0.8,
    "lam": 0.5,
    "value_coef": 0.05,
    "entropy_coef": 0.01,
    "entropy_final": 0.0,
    "grad_clip": 10.0,
}

CONFIGS: dict[str, dict[str, Any]] = {
    "maml-nav": {"kind": "maml", **_NAV},
    "maml-nav-fo": {"kind": "maml", **_NAV, "first_order": True},
    "maml-nav-lr": {"kind": "maml", **_NAV, "exploration_term": True},
    "pretrained-nav": {"kind": "pretrained", **_NAV},
    "rl2-bandit": {"kind": "rl2", **_RL2},
}

# Larger settings (the papers' network sizes and batch sizes), selected by scale="paper".
PAPER: dict[str, dict[str, Any]] = {
    "maml": {"iterations": 500, "meta_batch": 40, "hidden": [100, 100]},
    "pretrained": {"iterations": 500, "meta_batch": 40, "hidden": [100, 100]},
    "rl2": {"iterations": 3000, "batch": 256, "hidden": 128},
}


def get_scale(scale: str | None = None) -> str:
    """``"cpu"`` (default) or ``"paper"``: the argument, else ``$COURSE_SCALE``."""
    s = (scale or os.environ.get("COURSE_SCALE") or "cpu").lower()
    if s not in ("cpu", "paper"):
        raise ValueError(f"scale must be 'cpu' or 'paper', got {s!r}")
    return s


def config_for(name: str, scale: str | None = None) -> dict[str, Any]:
    """The training configuration of experiment ``name`` (one of :data:`CONFIGS`)."""
    if name not in CONFIGS:
        raise ValueError(f"unknown experiment {name!r}; choose one of {sorted(CONFIGS)}")
    cfg = copy.deepcopy(CONFIGS[name])
    if get_scale(scale) == "paper":
        cfg.update(copy.deepcopy(PAPER[cfg["kind"]]))
    return cfg


def checkpoint_name(name: str, scale: str | None = None) -> str:
    """``rl_<name>`` with dashes as underscores, plus ``_paper`` at paper scale."""
    base = "rl_" + name.replace("-", "_")
    return base + ("_paper" if get_scale(scale) == "paper" else "")


def build_model(config: dict[str, Any]) -> nn.Module:
    """An untrained model of the kind ``config`` describes (seeded)."""
    from course_pkg.rl.maml import make_policy
    from course_pkg.rl.rl2 import make_rl2_policy

    return make_rl2_policy(config) if config["kind"] == "rl2" else make_policy(config)


def _train_fn(device: str | torch.device | None, progress: bool):
    from course_pkg.rl.maml import train_maml_nav, train_pretrained_nav
    from course_pkg.rl.rl2 import train_rl2_bandit

    fns = {"maml": train_maml_nav, "pretrained": train_pretrained_nav, "rl2": train_rl2_bandit}

    def train(config: dict[str, Any]):
        return fns[config["kind"]](config, device=device, progress=progress)

    return train


def load_model(
    name: str,
    scale: str | None = None,
    device: str | torch.device | None = None,
    progress: bool = True,
    train_if_missing: bool = True,
) -> tuple[nn.Module, dict[str, Any]]:
    """The trained model of experiment ``name``: loaded from ``course_pkg/weights`` when the
    stored config matches, trained (and saved) otherwise. Returns ``(model, meta)`` with
    ``meta = {"config", "metrics", "loaded"}``; the model is on ``device`` in eval mode."""
    from course_pkg.utils import get_device

    cfg = config_for(name, scale)
    ckpt = checkpoint_name(name, scale)
    if train_if_missing:
        state, meta = load_or_train(ckpt, cfg, _train_fn(device, progress))
    else:
        found = load_checkpoint(ckpt, cfg)
        if found is None:
            raise FileNotFoundError(
                f"no checkpoint {ckpt!r} with the current config in course_pkg/weights; create it "
                f"with `python -m course_pkg.rl train {name}`"
            )
        state, meta = found
        meta["loaded"] = True
    model = build_model(cfg)
    model.load_state_dict(state)
    return model.to(get_device(device)).eval(), meta


def train(
    name: str,
    scale: str | None = None,
    device: str | torch.device | None = None,
    progress: bool = True,
    directory: str | None = None,
) -> dict[str, Any]:
    """Train experiment ``name`` from scratch and overwrite its checkpoint (in ``directory``,
    default ``course_pkg/weights``); returns the metrics."""
    cfg = config_for(name, scale)
    state, metrics = _train_fn(device, progress)(cfg)
    save_checkpoint(checkpoint_name(name, scale), state, cfg, metrics, directory)
    return metrics

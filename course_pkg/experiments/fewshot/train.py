"""Train, load and score few-shot models through their method's spec.

:func:`train_model` trains the model of a config (:mod:`.config`): with a ``budget`` entry under
the equal-budget protocol (:class:`~course_pkg.experiments.budget.BudgetRun`: CPU budget,
validation at budget marks, resumable snapshots; ``schedule`` replays a stored run exactly),
otherwise for a fixed number of ``iterations`` (chapter 4's sinusoid regressors, smoke runs).
:func:`load_model` loads a committed checkpoint when its config matches and trains otherwise;
:func:`method_accuracy` scores a method on episodes with its test-time adaptation.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from course_pkg.algorithms import blackbox as bb
from course_pkg.algorithms import training as mm
from course_pkg.checkpoints import load_checkpoint, load_or_train, save_checkpoint
from course_pkg.experiments.budget import BudgetRun, load_snapshot, runs_dir
from course_pkg.experiments.common import Loaded
from course_pkg.experiments.fewshot.config import (
    EVAL,
    REGRESSORS,
    SETTINGS,
    FewShotConfig,
    checkpoint_name,
    model_key,
    owner,
    resolve_scale,
    training_way,
)
from course_pkg.experiments.fewshot.sweep import BUDGET_DIR, method_config
from course_pkg.experiments.methods import meta_config
from course_pkg.experiments.validation import validation_episodes
from course_pkg.models import Conv4
from course_pkg.models import params as model_params
from course_pkg.tasks import TaskBatch
from course_pkg.utils import get_device, smooth_curve


# ----------------------------------------------------------------------------- models
def build_model(cfg: Mapping[str, Any]) -> nn.Module:
    """An untrained model for ``cfg``, initial weights from its seed."""
    if cfg["method"] in REGRESSORS:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(cfg["seed"])
            if cfg["mode"] == "context":
                return bb.BlackBoxRegressor("context", cfg["encoder_width"],
                                            context_dim=cfg["context_dim"],
                                            decoder_hidden=tuple(cfg["decoder_hidden"]))
            return bb.BlackBoxRegressor("params", cfg["encoder_width"],
                                        target_hidden=tuple(cfg["target_hidden"]))
    s, _ = owner(cfg["method"])
    if s.fewshot is None or s.fewshot.build is None:
        raise KeyError(f"{cfg['method']!r} builds no model")
    return s.fewshot.build(cfg)


def _parts(cfg: Mapping[str, Any], model: nn.Module):
    """``(sampler, meta_grad_fn, accuracy_fn, MetaConfig factory)`` of ``cfg``'s method."""
    s, _ = owner(cfg["method"])
    fs = s.fewshot
    return (fs.sampler(cfg), fs.meta_grad(model, cfg), fs.accuracy(model, cfg),
            fs.meta_config or meta_config)


def _loss_summary(history: Mapping[str, list]) -> dict[str, Any]:
    window, curve = smooth_curve(history["loss"])
    return {"train_loss_window": window, "train_loss_curve": [round(v, 4) for v in curve],
            "threads": torch.get_num_threads()}


def _train_budgeted(cfg: Mapping[str, Any], dev: torch.device, progress: bool,
                    schedule: Sequence[int] | None, snapshot: bool, name: str | None,
                    recorded_cpu: Sequence[float] | None = None):
    model = build_model(cfg).to(dev)
    sampler, grad_fn, acc_fn, make_config = _parts(cfg, model)
    mcfg = make_config(cfg, 10**9)
    val = validation_episodes(cfg["budget"]["validation"], dev)
    name = name or checkpoint_name(cfg["method"], cfg.get("n_way", 5))
    extra = {"name": name, "config": cfg.to_dict(), "schedule": None if schedule is None
             else list(schedule), "recorded_cpu": None if recorded_cpu is None
             else list(recorded_cpu)}
    snap = runs_dir() / f"{name}.snapshot.pt" if snapshot else None
    run = BudgetRun(cfg["budget"], lambda p: acc_fn(p, val), schedule, snap, extra, progress,
                    recorded_cpu)
    found = load_snapshot(snap, extra) if snap is not None else None
    init = model_params(model, detach=True)
    resume = None
    if found is None:
        run.start(init)
    else:
        run.load_state_dict(found["run"])
        resume = found["trainer"]
        if progress:
            print(f"  [{name}] resumed at iteration {resume['iteration']} "
                  f"({run.cpu_used:.0f} CPU-s)", flush=True)
    t0 = time.perf_counter()
    _, hist = mm.meta_train(model, sampler, mcfg, meta_grad_fn=grad_fn, params=init,
                            device=dev, progress=False, callback=run, resume=resume)
    metrics = {**run.summary(), **_loss_summary(hist),
               "episodes": run.curve[-1][0] * mcfg.meta_batch_size,
               "wall_seconds_last_session": round(time.perf_counter() - t0, 1),
               "loadavg_at_end": round(os.getloadavg()[0], 2)}
    if cfg["method"] == "pretrained":
        metrics["episodes"] = 0
        metrics["images"] = run.curve[-1][0] * cfg["batch_size"]
    if snap is not None and snap.exists():
        snap.unlink()
    return run.best_params, metrics


def train_model(cfg: FewShotConfig | Mapping[str, Any], device: str | torch.device | None = None,
                progress: bool = False, schedule: Sequence[int] | None = None,
                snapshot: bool = True, name: str | None = None,
                recorded_cpu: Sequence[float] | None = None
                ) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Train the model of ``cfg``; returns ``(state, metrics)``.

    With ``cfg["budget"]``: the equal-budget protocol (``schedule`` replays the iteration
    counts of a stored run, ``recorded_cpu`` its CPU times, kept as the record; ``snapshot``
    writes and resumes ``runs_dir()/<name>.snapshot.pt``).
    Otherwise a fixed number of ``cfg["iterations"]`` without validation (chapter 4's
    regressors; a smoke run of any model). ``metrics`` hold the training time, the loss curve
    and (with a budget) the validation curve.
    """
    dev = get_device(device)
    cfg = FewShotConfig.from_dict(cfg)
    if "budget" in cfg:
        return _train_budgeted(cfg, dev, progress, schedule, snapshot, name, recorded_cpu)
    if "iterations" not in cfg:
        raise ValueError(f"{cfg['method']}: a config needs a budget or iterations")
    method = cfg["method"]
    t0 = time.perf_counter()
    model = build_model(cfg).to(dev)
    if method in REGRESSORS:
        params, hist = bb.train_regressor(
            model, cfg["iterations"], cfg["meta_batch_size"], cfg["k_support"], cfg["k_query"],
            cfg["meta_lr"], cfg["seed"], device=dev, progress=progress)
    else:
        sampler, grad_fn, _, make_config = _parts(cfg, model)
        params, hist = mm.meta_train(model, sampler, make_config(cfg, cfg["iterations"]),
                                     meta_grad_fn=grad_fn, params=model_params(model, detach=True),
                                     device=dev, progress=progress)
    return params, {"train_seconds": round(time.perf_counter() - t0, 1),
                    "iterations": len(hist["loss"]), **_loss_summary(hist)}


def load_model(method: str, n_way: int = 5, scale: str | None = None,
               device: str | torch.device | None = None, retrain: bool = False,
               progress: bool = False, directory: str | Path | None = None,
               config: Mapping[str, Any] | None = None,
               train_if_missing: bool = True) -> Loaded:
    """The trained model ``method`` uses for ``n_way``-way episodes (for ``finetune``, the
    pre-trained Conv4), loaded from ``directory`` (default: ``course_pkg/weights/budget`` for
    the equal-budget models, ``course_pkg/weights`` for chapter 4's regressors) when its config
    (default :func:`~.sweep.method_config`) matches, trained (and saved) otherwise or with
    ``retrain``; with ``train_if_missing=False`` a missing or stale checkpoint raises
    ``FileNotFoundError`` instead."""
    dev = get_device(device)
    cfg = (FewShotConfig.from_dict(config) if config is not None
           else method_config(method, n_way, scale,
                              out=Path(directory) if directory is not None else BUDGET_DIR))
    if directory is None and "budget" in cfg:
        directory = BUDGET_DIR
    name = checkpoint_name(method, n_way, scale)
    if not retrain and not train_if_missing and load_checkpoint(name, cfg, directory) is None:
        raise FileNotFoundError(f"no checkpoint {name} with this config in "
                                f"{directory or 'course_pkg/weights'}; create it with "
                                "`python -m course_pkg.train fewshot`")
    if retrain:
        state, metrics = train_model(cfg, dev, progress, name=name)
        save_checkpoint(name, state, cfg, metrics, directory)
        meta = {"config": cfg, "metrics": metrics, "loaded": False}
    else:
        state, meta = load_or_train(name, cfg, lambda c: train_model(c, dev, progress, name=name),
                                    directory, map_location=dev)
    if method not in REGRESSORS and model_key(method) == "pretrained":
        model = Conv4(1, state["head.weight"].shape[0], cfg["hidden"])
    else:
        model = build_model(cfg)
    model = model.to(dev)
    state = {k: v.to(dev) for k, v in state.items()}
    model.load_state_dict({**model.state_dict(), **state})
    params = {k: v.detach() for k, v in model.named_parameters()}
    return Loaded(model, params, cfg, meta)


# ----------------------------------------------------------------------------- evaluation
def test_episodes(setting: str, scale: str | None = None,
                  device: str | torch.device | None = None) -> TaskBatch:
    """The fixed test episodes of a column (``"5w1s"``, ``"5w5s"``, ``"20w1s"``)."""
    from course_pkg.data import eval_episodes

    scale = resolve_scale(scale)
    n, k = SETTINGS[setting]
    ev = EVAL[scale]
    return eval_episodes(n, k, ev["queries"][n], ev["tasks"], device=get_device(device))


def method_accuracy(method: str, batch: TaskBatch, loaded: Loaded | None = None,
                    seed: int = 0) -> torch.Tensor:
    """Per-episode query accuracy ``(T,)`` of ``method`` on ``batch`` (``loaded``: its model,
    see :func:`load_model`), with the method's test-time adaptation."""
    s, _ = owner(method)
    if s.fewshot is None:
        raise KeyError(f"{method!r} is not in the few-shot comparison")
    if s.fewshot.trained and loaded is None:
        raise ValueError(f"{method} needs its trained model (see load_model)")
    cfg = {**(loaded.config if loaded is not None else {}), "eval_seed": seed}
    model = loaded.model if loaded is not None else None
    params = loaded.params if loaded is not None else None
    return s.fewshot.accuracy(model, cfg)(params, batch)


def train_all(scale: str | None = None, device: str | torch.device | None = None,
              retrain: bool = False, progress: bool = False,
              directory: str | Path | None = None) -> list[str]:
    """Train (or load) chapter 4's sinusoid regressors (the few-shot models are the
    equal-budget queue's: ``python -m course_pkg.train fewshot``)."""
    names = []
    for key in REGRESSORS:
        m = load_model(key, 5, scale, device, retrain, progress, directory)
        name = checkpoint_name(key, 5, scale)
        secs = m.meta.get("metrics", {}).get("train_seconds")
        print(f"{name}: {'loaded' if m.meta['loaded'] else 'trained'} ({secs} s of training)",
              flush=True)
        names.append(name)
    return names


__all__ = ["build_model", "load_model", "method_accuracy", "test_episodes", "train_all",
           "train_model", "training_way"]

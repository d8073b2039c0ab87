"""The few-shot comparison: train (with early stopping), load and evaluate every method.

Command line::

    python -m course_pkg.experiments fewshot-table                 # load or train, evaluate
    python -m course_pkg.experiments fewshot-table --retrain       # retrain every checkpoint
    python -m course_pkg.experiments fewshot-table --scale paper   # 64 channels, long training
    python -m course_pkg.experiments train protonet --n-way 5      # one checkpoint
    python -m course_pkg.experiments train-all [--retrain]         # every fewshot_* checkpoint

Models come from ``course_pkg/weights/fewshot_*`` when their configuration matches
(:mod:`course_pkg.experiments.fewshot_config`) and are trained otherwise. Every learned model
trains on the glyph training alphabets, validates every ``validation.every`` iterations on fixed
episodes of the validation alphabets and stops once the last quarter of training added less than
``validation.plateau_gain`` to its best validation accuracy (at most ``iterations``); the
parameters of the best validation point are kept. Metric learners compare examples, so one model
(trained on 5-way 1-shot episodes) serves every column; models with an ``N``-way output
(black-box, MAML, FOMAML, Reptile) get one model per ``N``. The two pre-trained baselines share
one Conv4 (:mod:`course_pkg.experiments.transfer`). The table itself is built by
:mod:`course_pkg.experiments.fewshot_results`. Seeds fix the initial weights, the training,
validation and test episodes, so a rerun gives the same numbers on the same machine and thread
count.
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
from course_pkg.algorithms import evaluation as ev
from course_pkg.algorithms import finetune as ft
from course_pkg.algorithms import metric
from course_pkg.algorithms import training as mm
from course_pkg.algorithms.core import cross_entropy_loss
from course_pkg.algorithms.reptile import reptile_meta_gradient
from course_pkg.checkpoints import load_or_train, save_checkpoint
from course_pkg.experiments import transfer
from course_pkg.experiments.fewshot_config import (  # noqa: F401  (re-exported)
    CHAPTER_EXTRAS,
    EVAL,
    FINETUNE_RECIPE,
    HIDDEN,
    MAML_FAMILY,
    METHODS,
    METRIC_METHODS,
    PER_WAY_METHODS,
    PRETRAINED_METHODS,
    SCALE_ENV,
    SETTING_NAMES,
    SETTINGS,
    TRAIN,
    checkpoint_name,
    method_config,
    model_ways,
    resolve_scale,
    training_way,
)
from course_pkg.experiments.validation import EarlyStopping, validation_episodes
from course_pkg.models import Conv4
from course_pkg.models import params as model_params
from course_pkg.tasks import TaskBatch
from course_pkg.utils import get_device


# ----------------------------------------------------------------------------- models
def build_model(cfg: dict[str, Any]) -> nn.Module:
    """An untrained model for ``cfg`` (:func:`method_config`), initial weights from its seed."""
    method, hidden = cfg["method"], cfg.get("hidden", 32)
    if method in METRIC_METHODS:
        return metric.make_learner(method, hidden=hidden, seed=cfg["seed"])
    if method.startswith("sinusoid_"):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(cfg["seed"])
            if cfg["mode"] == "context":
                return bb.BlackBoxRegressor("context", cfg["encoder_width"],
                                            context_dim=cfg["context_dim"],
                                            decoder_hidden=tuple(cfg["decoder_hidden"]))
            return bb.BlackBoxRegressor("params", cfg["encoder_width"],
                                        target_hidden=tuple(cfg["target_hidden"]))
    if method.startswith("blackbox"):
        return bb.make_blackbox_classifier(cfg["n_way"], hidden, seed=cfg["seed"],
                                           core=cfg["core"], width=cfg["width"],
                                           support_weight=cfg["support_weight"])
    if method in MAML_FAMILY:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(cfg["seed"])
            return Conv4(1, cfg["n_way"], hidden)
    if method == "pretrained":
        raise ValueError("the pre-trained Conv4 is built by course_pkg.experiments.transfer")
    raise KeyError(f"unknown method {method!r}")


def maml_accuracy(model: nn.Module, params: Mapping[str, torch.Tensor], batch: TaskBatch,
                  test_steps: int, inner_lr: float, chunk: int = 20) -> torch.Tensor:
    """Query accuracy ``(T,)`` after ``test_steps`` SGD steps (``inner_lr``) on each support set."""
    accs = []
    for lo in range(0, batch.num_tasks, chunk):
        b = TaskBatch(*(t[lo:lo + chunk] for t in batch))
        phi = ev.adapt(model, params, b, test_steps, inner_lr, cross_entropy_loss)
        accs.append(metric.accuracy(ev.predict(model, phi, b.x_query), b.y_query).cpu())
    return torch.cat(accs)


def _accuracy_fn(cfg: Mapping[str, Any], model: nn.Module):
    """``acc(params, batch) -> (T,)`` of the method of ``cfg`` (used for validation and test)."""
    method = cfg["method"]
    if method in MAML_FAMILY:
        return lambda p, b: maml_accuracy(model, p, b, cfg["test_steps"], cfg["inner_lr"])
    if method.startswith("blackbox"):
        return lambda p, b: metric.evaluate(model, p, bb.shuffle_support(b, cfg["seed"]))
    return lambda p, b: metric.evaluate(model, p, b)


def _summary(history: dict[str, list], seconds: float) -> dict[str, Any]:
    losses = history["loss"]
    window = max(1, len(losses) // 40)
    curve = [sum(losses[i:i + window]) / len(losses[i:i + window])
             for i in range(0, len(losses), window)]
    return {"train_seconds": round(seconds, 1), "iterations": len(losses),
            "train_loss_window": window, "train_loss_curve": [round(v, 4) for v in curve],
            "threads": torch.get_num_threads(),
            "loadavg_at_end": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None}


def _meta_config(cfg: Mapping[str, Any], algorithm: str) -> mm.MetaConfig:
    return mm.MetaConfig(iterations=cfg["iterations"], meta_batch_size=cfg["meta_batch_size"],
                         k_support=cfg["k_support"], k_query=cfg["k_query"],
                         inner_steps=cfg.get("inner_steps", 1), inner_lr=cfg.get("inner_lr", 0.0),
                         meta_lr=cfg["meta_lr"], optimizer=cfg.get("optimizer", "adam"),
                         algorithm=algorithm, seed=cfg["seed"], grad_clip=cfg.get("grad_clip"),
                         options=dict(cfg.get("options", {})))


def train_model(cfg: dict[str, Any], device: str | torch.device | None = None,
                progress: bool = False) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Train the model of ``cfg`` with early stopping; returns ``(state, metrics)``.

    ``metrics`` hold the training time (``train_seconds``), the training-loss curve, and for
    the few-shot learners the validation curve ``validation = [[iteration, accuracy], …]``, the
    best iteration (whose parameters are returned) and the last quarter's gain.
    """
    dev = get_device(device)
    method = cfg["method"]
    if method == "pretrained":
        return transfer.pretrain_conv4(cfg, dev, progress)
    t0 = time.perf_counter()
    model = build_model(cfg).to(dev)
    if method.startswith("sinusoid_"):
        params, hist = bb.train_regressor(
            model, cfg["iterations"], cfg["meta_batch_size"], cfg["k_support"], cfg["k_query"],
            cfg["meta_lr"], cfg["seed"], device=dev, progress=progress)
        return params, _summary(hist, time.perf_counter() - t0)
    if "validation" not in cfg:  # a fixed budget (chapter 4's sequence cores)
        params, hist = mm.meta_train(
            model, bb.ShuffledEpisodes(cfg["n_way"]), _meta_config(cfg, method),
            meta_grad_fn=lambda p, b: metric.episodic_gradient(model, p, b),
            params=model_params(model, detach=True), device=dev, progress=progress)
        return params, _summary(hist, time.perf_counter() - t0)
    val = validation_episodes(cfg["validation"], dev)
    acc_fn = _accuracy_fn(cfg, model)

    def evaluate(p: Mapping[str, torch.Tensor]) -> float:
        acc = float(acc_fn(p, val).mean())
        if progress:
            print(f"  [{method} {cfg['n_way']}-way] validation {100 * acc:.1f} % "
                  f"({time.perf_counter() - t0:.0f} s)", flush=True)
        return acc

    stopper = EarlyStopping(cfg["validation"], evaluate, cfg["iterations"])
    init = model_params(model, detach=True)
    stopper.start(init)
    if method in METRIC_METHODS or method.startswith("blackbox"):
        sampler = (bb.ShuffledEpisodes(cfg["n_way"]) if method.startswith("blackbox")
                   else metric.EpisodeSampler(cfg["n_way"]))
        _, hist = mm.meta_train(
            model, sampler, _meta_config(cfg, method),
            meta_grad_fn=lambda p, b: metric.episodic_gradient(model, p, b), params=init,
            device=dev, progress=False, callback=stopper)
    elif method == "reptile":
        opts = cfg["options"]

        def reptile_grad(p, b):
            return reptile_meta_gradient(model, p, b, cfg["inner_steps"], cfg["inner_lr"], None,
                                         opts["data"], cross_entropy_loss, opts["batched"])

        _, hist = mm.meta_train(model, metric.EpisodeSampler(cfg["n_way"]),
                                _meta_config(cfg, method), meta_grad_fn=reptile_grad,
                                params=init, device=dev, progress=False, callback=stopper)
    else:
        _, hist = mm.meta_train(model, metric.EpisodeSampler(cfg["n_way"]),
                                _meta_config(cfg, method), loss_fn=cross_entropy_loss,
                                params=init, device=dev, progress=False, callback=stopper)
    metrics = {**_summary(hist, time.perf_counter() - t0), **stopper.summary()}
    return stopper.best_params, metrics


class Loaded:
    """A trained few-shot model: ``model``, ``params`` (dict), ``config``, ``meta``."""

    def __init__(self, model: nn.Module, params: dict[str, torch.Tensor],
                 config: dict[str, Any], meta: dict[str, Any]) -> None:
        self.model, self.params, self.config, self.meta = model, params, config, meta

    @property
    def train_seconds(self) -> float | None:
        return self.meta.get("metrics", {}).get("train_seconds")

    def __repr__(self) -> str:
        return (f"Loaded({self.config['method']}, {self.config.get('n_way', '')}-way, "
                f"loaded={self.meta.get('loaded')})")


def load_model(method: str, n_way: int = 5, scale: str | None = None,
               device: str | torch.device | None = None, retrain: bool = False,
               progress: bool = False, directory: str | Path | None = None) -> Loaded:
    """The trained model ``method`` uses for ``n_way``-way episodes.

    Loaded from ``course_pkg/weights/<checkpoint_name>`` (or ``directory``) when its config
    matches, trained (and saved) otherwise or when ``retrain``. For ``"pretrained"`` and
    ``"finetune"`` the model is the pre-trained Conv4 (all meta-training classes as one
    classification problem).
    """
    dev = get_device(device)
    cfg = method_config(method, n_way, scale)
    if method in PRETRAINED_METHODS:
        model, meta = transfer.pretrained_conv4(cfg, retrain, dev, progress, directory)
        return Loaded(model, {k: v.detach() for k, v in model.state_dict().items()}, cfg, meta)
    name = checkpoint_name(method, n_way, scale)
    if retrain:
        state, metrics = train_model(cfg, dev, progress)
        save_checkpoint(name, state, cfg, metrics, directory)
        meta = {"config": cfg, "metrics": metrics, "loaded": False}
    else:
        state, meta = load_or_train(name, cfg, lambda c: train_model(c, dev, progress),
                                    directory, map_location=dev)
    state = {k: v.to(dev) for k, v in state.items()}
    model = build_model(cfg).to(dev)
    model.load_state_dict({**model.state_dict(), **state})
    return Loaded(model, dict(model.named_parameters()), cfg, meta)


# ----------------------------------------------------------------------------- evaluation
def test_episodes(setting: str, scale: str | None = None,
                  device: str | torch.device | None = None) -> TaskBatch:
    """The fixed test episodes of a column (``"5w1s"``, ``"5w5s"``, ``"20w1s"``)."""
    from course_pkg.data import eval_episodes

    scale = resolve_scale(scale)
    n, k = SETTINGS[setting]
    ev = EVAL[scale]
    return eval_episodes(n, k, ev["queries"][n], ev["tasks"], device=get_device(device))


def _maml_accuracy(loaded: Loaded, batch: TaskBatch, chunk: int = 20) -> torch.Tensor:
    cfg = loaded.config
    return maml_accuracy(loaded.model, loaded.params, batch, cfg["test_steps"], cfg["inner_lr"],
                         chunk)


def method_accuracy(method: str, batch: TaskBatch, loaded: Loaded | None = None,
                    seed: int = 0) -> torch.Tensor:
    """Per-episode query accuracy ``(T,)`` of ``method`` on ``batch`` (``loaded``: its model)."""
    if method == "nn_pixels":
        return ft.nearest_neighbour_accuracy(batch)
    if loaded is None:
        raise ValueError(f"{method} needs its trained model (see load_model)")
    if method == "pretrained":
        return ft.finetune_accuracy(loaded.model, loaded.params, batch, transfer.MEAN_HEAD)
    if method == "finetune":
        r = FINETUNE_RECIPE
        recipe = ft.FinetuneRecipe(r["name"], dict(r["lrs"]), head=r["head"],
                                   inner_steps=r["inner_steps"])
        return ft.finetune_accuracy(loaded.model, loaded.params, batch, recipe, seed=seed)
    if method == "blackbox":
        return metric.evaluate(loaded.model, loaded.params, bb.shuffle_support(batch, seed))
    if method in METRIC_METHODS:
        return metric.evaluate(loaded.model, loaded.params, batch)
    return _maml_accuracy(loaded, batch)


# ----------------------------------------------------------------------------- command line
def trainable_methods() -> list[str]:
    """Every method with a checkpoint, in training order (the pre-trained Conv4 first)."""
    return ["pretrained"] + [m for m in METHODS if m not in ("nn_pixels", *PRETRAINED_METHODS)] \
        + list(CHAPTER_EXTRAS)


def train_all(scale: str | None = None, device: str | torch.device | None = None,
              retrain: bool = False, progress: bool = False,
              directory: str | Path | None = None,
              methods: Sequence[str] | None = None) -> list[str]:
    """Train (or load) every ``fewshot_*`` checkpoint (or those of ``methods``)."""
    names = []
    for method in methods or trainable_methods():
        for n in model_ways(method):
            m = load_model(method, n, scale, device, retrain, progress, directory)
            name = checkpoint_name(method, n, scale)
            print(f"{name}: {'loaded' if m.meta['loaded'] else 'trained'} "
                  f"({m.train_seconds} s of training)", flush=True)
            names.append(name)
    return names

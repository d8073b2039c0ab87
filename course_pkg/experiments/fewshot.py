"""The few-shot results table: every method of the course on the same test episodes.

Command line::

    python -m course_pkg.experiments fewshot-table                 # CPU defaults, ≤ ~15 min
    python -m course_pkg.experiments fewshot-table --retrain       # retrain every checkpoint
    python -m course_pkg.experiments fewshot-table --scale paper   # 64 channels, long training
    python -m course_pkg.experiments train protonet --n-way 5      # one checkpoint
    python -m course_pkg.experiments train-all [--retrain]         # every fewshot_* checkpoint

``fewshot-table`` loads each method's checkpoint from ``course_pkg/weights/fewshot_*`` when its
configuration matches (training it otherwise), evaluates it on the fixed test episodes of
:func:`course_pkg.data.eval_episodes` (5-way 1-shot, 5-way 5-shot, 20-way 1-shot) and writes
``course_pkg/results/fewshot_table.json`` and ``.md`` (``fewshot_table_paper.*`` for the paper
scale). The book only reads these files (:func:`load_table`, :func:`table_frame`).

Methods (:data:`METHODS`): nearest neighbour on pixels and fine-tuning a pre-trained Conv4
(baselines), a black-box sequence learner, Siamese, Matching, Relation and Prototypical networks
(metric-based), MAML, first-order MAML and Reptile (optimization-based). Metric-based learners
compare examples, so one model (trained on 5-way 1-shot episodes) serves every setting; models
with an ``N``-way output (black-box, MAML, FOMAML, Reptile) get one model per ``N``, trained on
1-shot episodes and also used for 5-shot. Each training run has a small fixed budget of
iterations (20–90 s on a laptop CPU, conv width 32); ``--scale paper`` (or
``COURSE_SCALE=paper``) switches to 64 channels, paper-like iteration counts and 600 test
episodes, meant for a GPU. Seeds fix the initial weights, the training episodes and the test
episodes, so a rerun gives the same numbers on the same machine and thread count.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from course_pkg.algorithms import blackbox as bb
from course_pkg.algorithms import maml as mm
from course_pkg.algorithms import metric
from course_pkg.algorithms import reptile as _reptile  # noqa: F401  (registers "reptile")
from course_pkg.algorithms.core import cross_entropy_loss
from course_pkg.checkpoints import load_or_train, save_checkpoint
from course_pkg.models import Conv4
from course_pkg.tasks import TaskBatch
from course_pkg.utils import get_device

RESULTS_DIR = Path(__file__).resolve().parent.parent / "results"
SCALE_ENV = "COURSE_SCALE"

#: Rows of the table, in order: key → (display name, family).
METHODS: dict[str, tuple[str, str]] = {
    "nn_pixels": ("Nearest neighbour (pixels)", "baseline"),
    "finetune": ("Fine-tuning (pre-trained Conv4)", "baseline"),
    "blackbox": ("Black-box (attention over label-offset sequence)", "black-box"),
    "siamese": ("Siamese network", "metric"),
    "matching": ("Matching network", "metric"),
    "relation": ("Relation network", "metric"),
    "protonet": ("Prototypical network", "metric"),
    "maml": ("MAML", "optimization"),
    "fomaml": ("First-order MAML", "optimization"),
    "reptile": ("Reptile", "optimization"),
}

#: Columns: key → (N, K).
SETTINGS: dict[str, tuple[int, int]] = {"5w1s": (5, 1), "5w5s": (5, 5), "20w1s": (20, 1)}
SETTING_NAMES = {"5w1s": "5-way 1-shot", "5w5s": "5-way 5-shot", "20w1s": "20-way 1-shot"}

METRIC_METHODS = ("siamese", "matching", "relation", "protonet")
#: Checkpoints the chapters load besides the table's (sequence cores, sinusoid regressors).
CHAPTER_EXTRAS = ("blackbox_lstm", "blackbox_mann", "sinusoid_context", "sinusoid_params")
PER_WAY_METHODS = ("blackbox", "maml", "fomaml", "reptile")


# ----------------------------------------------------------------------------- configuration
def resolve_scale(scale: str | None = None) -> str:
    """``scale``, else ``$COURSE_SCALE``, else ``"cpu"``."""
    s = scale or os.environ.get(SCALE_ENV) or "cpu"
    if s not in ("cpu", "paper"):
        raise ValueError(f"scale must be 'cpu' or 'paper' (argument or ${SCALE_ENV}), got {s!r}")
    return s


#: Evaluation: test episodes per setting and queries per class (by N).
EVAL = {
    "cpu": {"tasks": 100, "queries": {5: 10, 20: 5}, "seed": 0},
    "paper": {"tasks": 600, "queries": {5: 15, 20: 15}, "seed": 0},
}

_EPISODIC = {"k_shot": 1, "lr": 1e-3, "seed": 0}
#: Per-scale training settings. ``by_way`` entries override the base for that N.
TRAIN: dict[str, dict[str, dict[str, Any]]] = {
    "cpu": {
        "siamese": {**_EPISODIC, "iterations": 300, "meta_batch_size": 4, "q_query": 5},
        "matching": {**_EPISODIC, "iterations": 300, "meta_batch_size": 4, "q_query": 5},
        "relation": {**_EPISODIC, "iterations": 300, "meta_batch_size": 4, "q_query": 5},
        "protonet": {**_EPISODIC, "iterations": 300, "meta_batch_size": 4, "q_query": 5},
        "blackbox": {**_EPISODIC, "iterations": 400, "meta_batch_size": 4, "q_query": 5,
                     "core": "attention", "width": 64, "support_weight": 0.0,
                     "by_way": {20: {"meta_batch_size": 2, "q_query": 2}}},
        # the chapter's comparison of sequence cores (same budget, 5-way only)
        "blackbox_lstm": {**_EPISODIC, "iterations": 400, "meta_batch_size": 4, "q_query": 5,
                          "core": "lstm", "width": 64, "support_weight": 0.0},
        "blackbox_mann": {**_EPISODIC, "iterations": 400, "meta_batch_size": 4, "q_query": 5,
                          "core": "mann", "width": 64, "support_weight": 0.0},
        # phi = f_theta(D_train) on sinusoids (chapter 4)
        "sinusoid_context": {"mode": "context", "encoder_width": 64, "context_dim": 16,
                             "decoder_hidden": [64, 64], "iterations": 8000,
                             "meta_batch_size": 25, "k_support": 10, "k_query": 10,
                             "lr": 1e-3, "seed": 0},
        "sinusoid_params": {"mode": "params", "encoder_width": 64, "target_hidden": [40, 40],
                            "iterations": 8000, "meta_batch_size": 25, "k_support": 10,
                            "k_query": 10, "lr": 1e-3, "seed": 0},
        "maml": {"k_shot": 1, "seed": 0, "iterations": 400, "meta_batch_size": 4, "q_query": 5,
                 "inner_steps": 1, "inner_lr": 0.4, "meta_lr": 1e-3, "optimizer": "adam",
                 "test_steps": 3,
                 "by_way": {20: {"meta_batch_size": 2, "q_query": 2, "inner_lr": 0.1,
                                 "iterations": 200, "test_steps": 5}}},
        "fomaml": {"k_shot": 1, "seed": 0, "iterations": 600, "meta_batch_size": 4,
                   "q_query": 5, "inner_steps": 1, "inner_lr": 0.4, "meta_lr": 1e-3,
                   "optimizer": "adam", "test_steps": 3,
                   "by_way": {20: {"meta_batch_size": 2, "q_query": 2, "inner_lr": 0.1,
                                   "iterations": 300, "test_steps": 5}}},
        "reptile": {"k_shot": 1, "seed": 0, "iterations": 100, "meta_batch_size": 4,
                    "q_query": 5, "inner_steps": 5, "inner_lr": 0.1, "meta_lr": 1.0,
                    "optimizer": "sgd", "test_steps": 10,
                    "by_way": {20: {"meta_batch_size": 2, "q_query": 2, "iterations": 50}}},
        "finetune": {"pretrain": {"data": "glyphs", "data_seed": 0, "split": "train",
                                  "epochs": 3, "batch_size": 128, "lr": 1e-3, "seed": 0,
                                  "val_episodes": 100}},
    },
}
# Paper scale: 64 channels and (roughly) the papers' numbers of training episodes.
PAPER_ITERATIONS = {"siamese": 20000, "matching": 20000, "relation": 20000, "protonet": 20000,
                    "blackbox": 40000, "blackbox_lstm": 40000, "blackbox_mann": 40000,
                    "maml": 20000, "fomaml": 20000, "reptile": 20000}
TRAIN["paper"] = {k: {**v, "iterations": PAPER_ITERATIONS[k], "meta_batch_size": 16,
                     "q_query": 15, "by_way": {20: {"meta_batch_size": 8, "q_query": 5,
                                                    **v.get("by_way", {}).get(20, {}),
                                                    "iterations": PAPER_ITERATIONS[k]}}}
                  for k, v in TRAIN["cpu"].items() if k in PAPER_ITERATIONS}
for _k in ("sinusoid_context", "sinusoid_params"):
    TRAIN["paper"][_k] = {**TRAIN["cpu"][_k], "iterations": 70000}
for _k in ("maml", "fomaml", "reptile", "blackbox"):
    TRAIN["paper"][_k]["by_way"][20].update(meta_batch_size=8, q_query=5)
TRAIN["paper"]["finetune"] = {**TRAIN["cpu"]["finetune"],
                              "pretrain": {**TRAIN["cpu"]["finetune"]["pretrain"], "epochs": 30}}
HIDDEN = {"cpu": 32, "paper": 64}
#: How the fine-tuning baseline adapts to a test episode (see course_pkg.algorithms.finetune).
FINETUNE_RECIPE: dict[str, Any] = {"name": "head only (frozen features)", "lrs": {"head": 0.5},
                                   "head": "zero", "steps": 50}


def model_ways(method: str) -> tuple[int, ...]:
    """The N of the models a method trains: (5,) when one model serves every N."""
    return (5, 20) if method in PER_WAY_METHODS else (5,)


def training_way(method: str, n_way: int) -> int:
    """Which trained model evaluates ``n_way``-way episodes."""
    return n_way if method in PER_WAY_METHODS else 5


def checkpoint_name(method: str, n_way: int = 5, scale: str | None = None) -> str:
    """``fewshot_<method>_<N>way`` (CPU scale) or ``fewshot_paper_<method>_<N>way``."""
    scale = resolve_scale(scale)
    prefix = "fewshot_" if scale == "cpu" else "fewshot_paper_"
    if method == "finetune":
        return prefix + "pretrained_conv4"
    if method.startswith("sinusoid_"):
        return f"{prefix}{method.replace('sinusoid_', 'sinusoid_blackbox_')}"
    return f"{prefix}{method}_{training_way(method, n_way)}way"


def method_config(method: str, n_way: int = 5, scale: str | None = None) -> dict[str, Any]:
    """The JSON configuration stored with (and compared against) a checkpoint."""
    scale = resolve_scale(scale)
    if method not in TRAIN[scale]:
        raise KeyError(f"no trained model for {method!r}; trainable: {sorted(TRAIN[scale])}")
    base = dict(TRAIN[scale][method])
    n = training_way(method, n_way)
    over = base.pop("by_way", {}).get(n, {})
    cfg = {**base, **over, "method": method, "n_way": n, "hidden": HIDDEN[scale],
           "data": "glyphs", "split": "train"}
    if method.startswith("sinusoid_"):
        cfg = {**base, "method": method, "data": "sinusoid"}
    if method == "finetune":
        cfg = {"method": "finetune", "pretrain": {**base["pretrain"], "hidden": HIDDEN[scale]}}
    return json.loads(json.dumps(cfg, sort_keys=True))


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
    if method in ("maml", "fomaml", "reptile"):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(cfg["seed"])
            return Conv4(1, cfg["n_way"], hidden)
    if method == "finetune":
        raise ValueError("the fine-tuning baseline's Conv4 is built by load_model")
    raise KeyError(f"unknown method {method!r}")


def _meta_config(cfg: dict[str, Any]) -> mm.MetaConfig:
    return mm.MetaConfig(iterations=cfg["iterations"], meta_batch_size=cfg["meta_batch_size"],
                         k_support=cfg["k_shot"], k_query=cfg["q_query"],
                         inner_steps=cfg["inner_steps"], inner_lr=cfg["inner_lr"],
                         meta_lr=cfg["meta_lr"], optimizer=cfg["optimizer"],
                         algorithm=cfg["method"], seed=cfg["seed"])


def _summary(history: dict[str, list], seconds: float) -> dict[str, Any]:
    losses = history["loss"]
    window = max(1, len(losses) // 40)
    curve = [sum(losses[i:i + window]) / len(losses[i:i + window])
             for i in range(0, len(losses), window)]
    return {"train_seconds": round(seconds, 1), "iterations": len(losses),
            "train_loss_window": window, "train_loss_curve": [round(v, 4) for v in curve],
            "threads": torch.get_num_threads(),
            "loadavg_at_end": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None}


def train_model(cfg: dict[str, Any], device: str | torch.device | None = None,
                progress: bool = False) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Train the model of ``cfg``; returns ``(state, metrics)`` with the wall-clock time."""
    dev = get_device(device)
    method = cfg["method"]
    t0 = time.perf_counter()
    if method == "finetune":
        from course_pkg.algorithms.finetune import pretrain_conv4

        state, metrics = pretrain_conv4(cfg["pretrain"], dev, progress)
        metrics = {**metrics, "train_seconds": round(time.perf_counter() - t0, 1),
                   "threads": torch.get_num_threads()}
        return state, metrics
    model = build_model(cfg)
    if method in METRIC_METHODS:
        params, hist = metric.train_episodic(
            model, cfg["n_way"], cfg["k_shot"], cfg["q_query"], cfg["iterations"],
            cfg["meta_batch_size"], cfg["lr"], cfg["seed"], dev, progress)
    elif method.startswith("sinusoid_"):
        params, hist = bb.train_regressor(
            model, cfg["iterations"], cfg["meta_batch_size"], cfg["k_support"], cfg["k_query"],
            cfg["lr"], cfg["seed"], device=dev, progress=progress)
    elif method.startswith("blackbox"):
        params, hist = bb.train_blackbox_classifier(
            model, cfg["k_shot"], cfg["q_query"], cfg["iterations"], cfg["meta_batch_size"],
            cfg["lr"], cfg["seed"], dev, progress)
    else:
        params, hist = mm.meta_train(model, metric.EpisodeSampler(cfg["n_way"]),
                                     _meta_config(cfg), loss_fn=cross_entropy_loss, device=dev,
                                     progress=progress)
    return params, _summary(hist, time.perf_counter() - t0)


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
    matches, trained (and saved) otherwise or when ``retrain``. For ``"finetune"`` the model is
    the pre-trained Conv4 (all meta-training classes as one classification problem).
    """
    dev = get_device(device)
    name = checkpoint_name(method, n_way, scale)
    cfg = method_config(method, n_way, scale)

    def fn(c):
        return train_model(c, dev, progress)

    if retrain:
        state, metrics = fn(cfg)
        save_checkpoint(name, state, cfg, metrics, directory)
        meta = {"config": cfg, "metrics": metrics, "loaded": False}
    else:
        state, meta = load_or_train(name, cfg, fn, directory, map_location=dev)
    state = {k: v.to(dev) for k, v in state.items()}
    if method == "finetune":
        model = Conv4(1, state["head.weight"].shape[0], cfg["pretrain"]["hidden"])
        model.load_state_dict(state)
        return Loaded(model.to(dev), state, cfg, meta)
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
    accs = []
    for lo in range(0, batch.num_tasks, chunk):
        b = TaskBatch(*(t[lo:lo + chunk] for t in batch))
        phi = mm.adapt(loaded.model, loaded.params, b, cfg["test_steps"], cfg["inner_lr"],
                       cross_entropy_loss)
        logits = mm.predict(loaded.model, phi, b.x_query)
        accs.append(metric.accuracy(logits, b.y_query).cpu())
    return torch.cat(accs)


def method_accuracy(method: str, batch: TaskBatch, loaded: Loaded | None = None,
                    seed: int = 0) -> torch.Tensor:
    """Per-episode query accuracy ``(T,)`` of ``method`` on ``batch`` (``loaded``: its model)."""
    from course_pkg.algorithms import finetune as ft

    if method == "nn_pixels":
        return ft.nearest_neighbour_accuracy(batch)
    if loaded is None:
        raise ValueError(f"{method} needs its trained model (see load_model)")
    if method == "finetune":
        r = FINETUNE_RECIPE
        recipe = ft.FinetuneRecipe(r["name"], dict(r["lrs"]), head=r["head"], steps=r["steps"])
        return ft.finetune_accuracy(loaded.model, loaded.params, batch, recipe, seed=seed)
    if method == "blackbox":
        return metric.evaluate(loaded.model, loaded.params, bb.shuffle_support(batch, seed))
    if method in METRIC_METHODS:
        return metric.evaluate(loaded.model, loaded.params, batch)
    return _maml_accuracy(loaded, batch)


def fewshot_table(scale: str | None = None, retrain: bool = False,
                  methods: Sequence[str] | None = None, device: str | torch.device | None = None,
                  progress: bool = True) -> dict[str, Any]:
    """Train or load every method, evaluate it on every column; return the table as a dict.

    ``{"scale", "settings": {key: {n_way, k_shot, queries_per_class, episodes}},
    "rows": [{"method", "name", "family", "models": {N: {checkpoint, train_seconds, loaded}},
    "train_seconds", "results": {setting: {"mean", "ci95", "eval_seconds", "model_n_way"}}}],
    "environment": {...}}``; accuracies are fractions in [0, 1].
    """
    from course_pkg.data import mean_ci95

    scale = resolve_scale(scale)
    dev = get_device(device)
    keys = list(METHODS) if methods is None else list(methods)
    unknown = set(keys) - set(METHODS)
    if unknown:
        raise KeyError(f"unknown methods {sorted(unknown)}; choose from {list(METHODS)}")
    t_all = time.perf_counter()
    batches = {s: test_episodes(s, scale, dev) for s in SETTINGS}
    rows = []
    for key in keys:
        name, family = METHODS[key]
        models: dict[int, Loaded] = {}
        if key != "nn_pixels":
            for n in model_ways(key):
                if progress:
                    print(f"[{key}] {n}-way model ...", flush=True)
                models[n] = load_model(key, n, scale, dev, retrain=retrain, progress=progress)
        results = {}
        for s, batch in batches.items():
            n = SETTINGS[s][0]
            loaded = models.get(training_way(key, n)) if models else None
            t0 = time.perf_counter()
            acc = method_accuracy(key, batch, loaded, seed=EVAL[scale]["seed"])
            mean, ci = mean_ci95(acc)
            results[s] = {"mean": round(mean, 4), "ci95": round(ci, 4),
                          "eval_seconds": round(time.perf_counter() - t0, 1),
                          "model_n_way": training_way(key, n) if models else None}
            if progress:
                print(f"  {SETTING_NAMES[s]:>14}: {100 * mean:5.1f} ± {100 * ci:.1f} %", flush=True)
        model_info = {str(n): {"checkpoint": checkpoint_name(key, n, scale),
                               "train_seconds": m.train_seconds,
                               "loaded": bool(m.meta.get("loaded"))}
                      for n, m in models.items()}
        secs = [m.train_seconds for m in models.values()]
        total = round(sum(secs), 1) if models and None not in secs else (0.0 if not models
                                                                          else None)
        rows.append({"method": key, "name": name, "family": family, "models": model_info,
                     "train_seconds": total, "results": results})
    ev = EVAL[scale]
    return {
        "scale": scale,
        "conv_width": HIDDEN[scale],
        "settings": {s: {"n_way": n, "k_shot": k, "queries_per_class": ev["queries"][n],
                         "episodes": ev["tasks"], "split": "test", "data": "glyphs"}
                     for s, (n, k) in SETTINGS.items()},
        "rows": rows,
        "environment": {"torch": torch.__version__, "python": platform.python_version(),
                        "device": str(dev), "threads": torch.get_num_threads(),
                        "machine": platform.machine(),
                        "cpu_count": os.cpu_count(),
                        "total_seconds": round(time.perf_counter() - t_all, 1)},
        "command": "python -m course_pkg.experiments fewshot-table"
                   + ("" if scale == "cpu" else " --scale paper"),
    }


def table_markdown(table: dict[str, Any]) -> str:
    """The table as Markdown: accuracy (%) ± 95 % CI half-width per column, training time."""
    cols = list(table["settings"])
    head = ["Method", "Family", *(SETTING_NAMES[c] for c in cols), "Training time (s)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] * 2 + ["---:"] * (
        len(cols) + 1)) + "|"]
    for r in table["rows"]:
        cells = [f"{100 * r['results'][c]['mean']:.1f} ± {100 * r['results'][c]['ci95']:.1f}"
                 for c in cols]
        t = r["train_seconds"]
        lines.append("| " + " | ".join([r["name"], r["family"], *cells,
                                        "—" if t is None else f"{t:.0f}"]) + " |")
    s = table["settings"][cols[0]]
    lines.append("")
    lines.append(f"Accuracy in % on {s['episodes']} fixed test episodes per column (glyph test "
                 "alphabets), ± the half-width of the 95 % confidence interval over episodes. "
                 f"Conv width {table['conv_width']}; {table['environment']['threads']} CPU "
                 f"thread(s), device {table['environment']['device']}. Training time is the "
                 "wall-clock time of all models a method needs (one per N for black-box, MAML, "
                 "FOMAML and Reptile; one in total otherwise). Produced by "
                 f"`{table['command']}`.")
    return "\n".join(lines) + "\n"


def write_table(table: dict[str, Any], directory: str | Path | None = None) -> tuple[Path, Path]:
    """Write ``fewshot_table[_paper].json`` and ``.md``; return both paths."""
    d = Path(directory) if directory is not None else RESULTS_DIR
    d.mkdir(parents=True, exist_ok=True)
    stem = "fewshot_table" if table["scale"] == "cpu" else "fewshot_table_paper"
    js, md = d / f"{stem}.json", d / f"{stem}.md"
    js.write_text(json.dumps(table, indent=2, sort_keys=False) + "\n")
    md.write_text(table_markdown(table))
    return js, md


def load_table(scale: str = "cpu", directory: str | Path | None = None) -> dict[str, Any]:
    """The cached table written by ``python -m course_pkg.experiments fewshot-table``."""
    d = Path(directory) if directory is not None else RESULTS_DIR
    path = d / ("fewshot_table.json" if scale == "cpu" else "fewshot_table_paper.json")
    if not path.exists():
        raise FileNotFoundError(
            f"{path} does not exist; create it with `python -m course_pkg.experiments "
            f"fewshot-table{'' if scale == 'cpu' else ' --scale paper'}`")
    return json.loads(path.read_text())


def table_frame(table: dict[str, Any] | None = None):
    """The table as a pandas DataFrame of strings (``"93.1 ± 1.2"``) for display."""
    import pandas as pd

    table = table or load_table()
    cols = list(table["settings"])
    records = []
    for r in table["rows"]:
        rec = {"method": r["name"], "family": r["family"]}
        for c in cols:
            res = r["results"][c]
            rec[SETTING_NAMES[c]] = f"{100 * res['mean']:.1f} ± {100 * res['ci95']:.1f}"
        t = r["train_seconds"]
        rec["training time (s)"] = "—" if t is None else f"{t:.0f}"
        records.append(rec)
    return pd.DataFrame.from_records(records)


# ----------------------------------------------------------------------------- command line
def train_all(scale: str | None = None, device: str | torch.device | None = None,
              retrain: bool = False, progress: bool = False,
              directory: str | Path | None = None) -> list[str]:
    """Train (or load) every ``fewshot_*`` checkpoint: the table's and the chapters' extras."""
    names = []
    for method in [m for m in METHODS if m != "nn_pixels"] + list(CHAPTER_EXTRAS):
        for n in model_ways(method):
            m = load_model(method, n, scale, device, retrain, progress, directory)
            name = checkpoint_name(method, n, scale)
            print(f"{name}: {'loaded' if m.meta['loaded'] else 'trained'} "
                  f"({m.train_seconds} s of training)", flush=True)
            names.append(name)
    return names


def _register_with_train() -> None:
    """Make ``python -m course_pkg.train fewshot`` (and ``all``, i.e. ``make weights``) retrain
    these checkpoints and rewrite the table (needs ``course_pkg.experiments`` in
    ``course_pkg.train.EXPERIMENT_MODULES``)."""
    from course_pkg.train import EXPERIMENTS, register_experiment

    if "fewshot" in EXPERIMENTS:
        return

    def add_arguments(p: argparse.ArgumentParser) -> None:
        p.add_argument("--no-table", action="store_true", help="do not rewrite the table")

    def run(args: argparse.Namespace) -> list[str]:
        if args.threads is None and get_device(args.device).type == "cpu":
            torch.set_num_threads(1)
        names = train_all(args.scale, args.device, True, not args.quiet, args.weights_dir)
        if not getattr(args, "no_table", False) and args.weights_dir is None:
            write_table(fewshot_table(args.scale, False, None, args.device, not args.quiet))
        return names

    register_experiment("fewshot", "few-shot glyph classification: every fewshot_* model and "
                        "the results table", add_arguments, run)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_pkg.experiments", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--scale", choices=("cpu", "paper"), default=None,
                        help=f"cpu (default) or paper; also ${SCALE_ENV}")
    common.add_argument("--device", default=None, help="cpu, cuda, mps (default: get_device())")
    common.add_argument("--threads", type=int, default=None,
                        help="torch CPU threads (default on a CPU: 1, the fastest for these "
                             "small convolutions, especially on a busy machine)")
    common.add_argument("--retrain", action="store_true", help="retrain even if checkpoints match")
    common.add_argument("--quiet", action="store_true", help="no progress output")
    t = sub.add_parser("fewshot-table", parents=[common],
                       help="train/load every method, evaluate, write course_pkg/results/")
    t.add_argument("--methods", nargs="+", default=None, choices=list(METHODS),
                   help="only these rows (the files are written only for the full table)")
    t.add_argument("--out", default=None, help="folder for the JSON/Markdown (default "
                                                "course_pkg/results)")
    sub.add_parser("train-all", parents=[common],
                   help="train (or load) every fewshot_* checkpoint, table and chapters")
    tr = sub.add_parser("train", parents=[common], help="train (or load) one checkpoint")
    tr.add_argument("method", choices=[m for m in (*METHODS, *TRAIN["cpu"]) if m != "nn_pixels"])
    tr.add_argument("--n-way", type=int, default=5, choices=(5, 20))
    args = parser.parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    elif get_device(args.device).type == "cpu":
        torch.set_num_threads(1)
    if args.command == "train-all":
        train_all(args.scale, args.device, args.retrain, not args.quiet)
        return 0
    if args.command == "train":
        m = load_model(args.method, args.n_way, args.scale, args.device, args.retrain,
                       progress=not args.quiet)
        print(f"{checkpoint_name(args.method, args.n_way, args.scale)}: "
              f"{'loaded' if m.meta['loaded'] else 'trained'}; metrics "
              f"{ {k: v for k, v in m.meta['metrics'].items() if 'curve' not in k} }")
        return 0
    table = fewshot_table(args.scale, args.retrain, args.methods, args.device,
                          progress=not args.quiet)
    print(table_markdown(table))
    if args.methods is None or args.out is not None:
        js, md = write_table(table, args.out)
        print(f"wrote {js} and {md}")
    return 0


_register_with_train()

if __name__ == "__main__":
    sys.exit(main())

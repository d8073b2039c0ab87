"""Chapter 2's runs: the pre-trained Conv4 and the table of fine-tuning design choices.

One Conv4 is pre-trained (supervised, every meta-training class at once) with the few-shot
table's backbone width; it is checkpoint ``fewshot_pretrained_conv4``, the few-shot method
``"pretrained"`` (``course_pkg.experiments.load_model("pretrained")``), and serves chapter 2, the
table's "pre-trained + class-mean head" row and its fine-tuning row. ``glyphs_finetune_table``
stores chapter 2's per-episode accuracies of every fine-tuning design choice.
``python -m course_pkg.train glyphs`` recomputes the table (``fewshot`` retrains the network).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from course_pkg.algorithms.finetune import (
    design_choice_recipes,
    finetune_accuracy,
    nearest_neighbour_accuracy,
    search_lr,
)
from course_pkg.checkpoints import load_or_train, save_checkpoint
from course_pkg.experiments.fewshot.sweep import method_config
from course_pkg.experiments.fewshot.train import load_model
from course_pkg.utils import get_device


def pretrain_config(scale: str | None = None) -> dict[str, Any]:
    """Settings of the pre-trained Conv4 (its checkpoint's config)."""
    return method_config("pretrained", scale=scale)


# ----------------------------------------------------------------------------- chapter 2's table
#: Settings of chapter 2's comparison of fine-tuning design choices (checkpoint
#: ``glyphs_finetune_table``: the per-episode query accuracies of every row).
TABLE_CONFIG: dict[str, Any] = {
    "pretrain": pretrain_config("cpu"),
    "n_way": 5,
    "k_support": [1, 5],
    "k_query": 15,
    "episodes": 100,
    "split": "test",
    "inner_steps": 20,
    "inner_lr_grid": [0.003, 0.01, 0.03, 0.1, 0.3, 1.0],
    "search_split": "val",
    "search_episodes": 20,
    "seed": 0,
}


def compute_design_choice_table(
    config: Mapping[str, Any],
    progress: bool = False,
    directory: str | Path | None = None,
    device: str | torch.device | None = None,
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Per-episode query accuracies of every fine-tuning design choice (and 1-NN on pixels).

    1. Learning rates: the best single rate for fine-tuning the pre-trained network (``lr``)
       and for training the same network from scratch (``lr_big``), each searched over
       ``inner_lr_grid`` on ``search_episodes`` 5-way 1-shot meta-validation episodes.
    2. Every recipe of :func:`~course_pkg.algorithms.finetune.design_choice_recipes` on the first
       ``episodes`` fixed evaluation episodes (:func:`course_pkg.data.eval_episodes`) for each
       ``K`` in ``k_support``.

    Returns ``(state, metrics)``: ``state["k{K}/{row name}"]`` is a float tensor ``(episodes,)``.
    """
    from course_pkg.data import episodes, eval_episodes
    from course_pkg.utils import mean_ci

    dev = get_device(device)
    t0 = time.perf_counter()
    loaded = load_model("pretrained", device=dev, directory=directory, config=config["pretrain"])
    model, pre = loaded.model, loaded.params
    steps = config["inner_steps"]
    val = episodes(config["search_split"], config["n_way"], 1, config["k_query"],
                   config["search_episodes"], seed=config["seed"] + 1, device=dev)
    lr, fine_scores = search_lr(model, pre, val, config["inner_lr_grid"], steps,
                                seed=config["seed"])
    lr_big, scratch_scores = search_lr(model, pre, val, config["inner_lr_grid"], steps,
                                       from_scratch=True, seed=config["seed"])
    recipes = design_choice_recipes(lr=lr, lr_big=lr_big, inner_steps=steps)
    state: dict[str, torch.Tensor] = {}
    summary: dict[str, Any] = {}
    bar = None
    if progress:
        from tqdm.auto import tqdm

        total = len(config["k_support"]) * len(recipes) * config["episodes"]
        bar = tqdm(total=total, desc="fine-tuning design choices")
    for k in config["k_support"]:
        batch = eval_episodes(config["n_way"], k, config["k_query"], config["episodes"],
                              config["split"], device=dev)
        rows = {"1-NN on pixels": nearest_neighbour_accuracy(batch)}
        for r in recipes:
            rows[r.name] = finetune_accuracy(model, pre, batch, r, seed=config["seed"],
                                             progress=None if bar is None else bar.update)
        for name, acc in rows.items():
            state[f"k{k}/{name}"] = acc
            m, ci = mean_ci(acc)
            summary[f"k{k}/{name}"] = [round(m, 4), round(ci, 4)]
    if bar is not None:
        bar.close()
    metrics = {
        "lr": lr,
        "lr_big": lr_big,
        "val_accuracy_by_lr_finetune": {str(k): round(v, 4) for k, v in fine_scores.items()},
        "val_accuracy_by_lr_scratch": {str(k): round(v, 4) for k, v in scratch_scores.items()},
        "recipes": [r.config() for r in recipes],
        "mean_ci95": summary,
        "seconds": round(time.perf_counter() - t0, 1),
    }
    return state, metrics


def design_choice_table(
    config: Mapping[str, Any] | None = None,
    recompute: bool = False,
    progress: bool = False,
    directory: str | Path | None = None,
    device: str | torch.device | None = None,
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """The stored comparison (checkpoint ``glyphs_finetune_table``), recomputed when missing,
    when its config differs, or with ``recompute=True`` (a few CPU-minutes, one thread).

    Returns ``(per-episode accuracies by "k{K}/{row}", meta)``. Reproduce the committed file
    with ``python -m course_pkg.train glyphs``.
    """
    cfg = dict(TABLE_CONFIG if config is None else config)
    name = "glyphs_finetune_table"
    if recompute:
        state, metrics = compute_design_choice_table(cfg, progress, directory, device)
        save_checkpoint(name, state, cfg, metrics, directory)
        return state, {"config": cfg, "metrics": metrics, "loaded": False}
    return load_or_train(
        name, cfg, lambda c: compute_design_choice_table(c, progress, directory, device), directory
    )

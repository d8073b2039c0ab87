"""Transfer by fine-tuning, and multi-task learning with hard parameter sharing.

Fine-tuning (chapter 2) starts from parameters pre-trained on the meta-training classes and takes
plain gradient steps on a new task's support set,

    φ_{k+1} = φ_k − α ⊙ ∇_φ L(φ_k, D^tr),   φ_0 = θ_pre-trained,

where ``α`` may differ per layer (a layer-wise learning rate; ``α = 0`` freezes the layer). The
last layer is replaced by a fresh ``N``-way head (random, zero, reused rows of the old head, or
class means). Everything is functional (``dict`` parameters, ``torch.func``) and ``vmap``-ed over
the tasks of a :class:`~course_pkg.tasks.TaskBatch`; each step is
:func:`course_pkg.algorithms.core.sgd_step`. Frozen leading blocks are run once per task, not at
every step.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.func import functional_call

from course_pkg.algorithms.core import cross_entropy_loss, sgd_step
from course_pkg.models import MLP, Conv4, params
from course_pkg.tasks import TaskBatch
from course_pkg.utils import check_finite, get_device

Params = dict[str, torch.Tensor]

#: Layer groups of :class:`~course_pkg.models.Conv4`, input to output.
CONV4_LAYERS = ("block1", "block2", "block3", "block4", "head")


# ----------------------------------------------------------------------------- layers


def layer_of(name: str) -> str:
    """Layer group of a Conv4 parameter name: ``features.i.*`` → ``block{i+1}``, ``head.*``."""
    if name.startswith("head."):
        return "head"
    if name.startswith("features."):
        return f"block{int(name.split('.')[1]) + 1}"
    raise ValueError(f"{name!r} is not a Conv4 parameter (expected features.<i>.* or head.*)")


def layerwise_lrs(
    params: Mapping[str, torch.Tensor], lrs: float | Mapping[str, float]
) -> dict[str, torch.Tensor]:
    """One learning-rate tensor per parameter, for :func:`course_pkg.algorithms.core.sgd_step`.

    ``lrs`` is one rate for every layer, or ``{layer group: rate}`` over :data:`CONV4_LAYERS`
    (missing groups get 0, i.e. frozen). Raises ``ValueError`` for unknown groups or negative
    rates. Each value is a 0-dim tensor on the parameter's device.
    """
    if not isinstance(lrs, Mapping):
        lrs = dict.fromkeys(CONV4_LAYERS, float(lrs))
    unknown = set(lrs) - set(CONV4_LAYERS)
    if unknown:
        raise ValueError(f"unknown layer groups {sorted(unknown)}; use {CONV4_LAYERS}")
    if any(v < 0 for v in lrs.values()):
        raise ValueError(f"learning rates must be ≥ 0, got {dict(lrs)}")
    return {
        k: torch.tensor(float(lrs.get(layer_of(k), 0.0)), device=p.device)
        for k, p in params.items()
    }


def first_trainable_block(lrs: Mapping[str, float]) -> int:
    """Index of the first Conv4 block with a non-zero rate (4 when only the head trains)."""
    for i, layer in enumerate(CONV4_LAYERS[:4]):
        if lrs.get(layer, 0.0) > 0:
            return i
    return 4


def _sub(params: Mapping[str, torch.Tensor], prefix: str) -> Params:
    return {k[len(prefix) :]: v for k, v in params.items() if k.startswith(prefix)}


def conv4_forward(
    model: Conv4, params: Mapping[str, torch.Tensor], x: torch.Tensor, start: int = 0,
    head: bool = True,
) -> torch.Tensor:
    """Run Conv4 blocks ``start..3`` (then the head if ``head``) with ``params`` on ``x``.

    ``x`` is ``(B, C, H, W)`` images for ``start = 0`` or the output of block ``start`` otherwise.
    Returns logits ``(B, N)``, or the embedding ``(B, D)`` when ``head=False``.
    """
    h = x
    for i in range(start, 4):
        h = functional_call(model.features[i], _sub(params, f"features.{i}."), (h,))
    if start < 4 or h.dim() > 2:
        h = h.flatten(1)
    if not head:
        return h
    return torch.nn.functional.linear(h, params["head.weight"], params["head.bias"])


def conv4_features(
    model: Conv4, params: Mapping[str, torch.Tensor], x: torch.Tensor, stop: int
) -> torch.Tensor:
    """Output of Conv4 blocks ``0..stop-1`` on images ``(B, C, H, W)`` (``x`` itself if 0)."""
    h = x
    for i in range(stop):
        h = functional_call(model.features[i], _sub(params, f"features.{i}."), (h,))
    return h


# ----------------------------------------------------------------------------- heads


def new_head(
    n_way: int,
    embed_dim: int,
    init: str = "random",
    generator: torch.Generator | None = None,
    old_head: tuple[torch.Tensor, torch.Tensor] | None = None,
    embeddings: torch.Tensor | None = None,
    labels: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Weights ``(N, D)`` and bias ``(N,)`` of a fresh ``N``-way last layer.

    - ``"random"``: re-initialise, ``U(−1/√D, 1/√D)`` like ``nn.Linear``;
    - ``"zero"``: all zeros (every class starts equally likely);
    - ``"reuse"``: keep the pre-trained last layer, i.e. ``N`` random rows of ``old_head``
      (the new classes inherit the rows of arbitrary old classes);
    - ``"mean"``: ``w_c = 2 μ_c``, ``b_c = −‖μ_c‖²`` from the class means ``μ_c`` of the support
      ``embeddings (K, D)`` with ``labels (K,)``, so ``logit_c = −‖z − μ_c‖² + ‖z‖²``: a
      nearest-class-mean classifier (the prototypes of chapter 5).
    """
    if init == "random":
        bound = 1.0 / math.sqrt(embed_dim)
        w = (torch.rand(n_way, embed_dim, generator=generator) * 2 - 1) * bound
        b = (torch.rand(n_way, generator=generator) * 2 - 1) * bound
        return w, b
    if init == "zero":
        return torch.zeros(n_way, embed_dim), torch.zeros(n_way)
    if init == "reuse":
        if old_head is None:
            raise ValueError("init='reuse' needs old_head=(weight, bias)")
        rows = torch.randperm(old_head[0].shape[0], generator=generator)[:n_way]
        return old_head[0][rows.to(old_head[0].device)].clone(), old_head[1][rows].clone()
    if init == "mean":
        if embeddings is None or labels is None:
            raise ValueError("init='mean' needs the support embeddings and labels")
        onehot = torch.nn.functional.one_hot(labels, n_way).to(embeddings.dtype)
        mu = (onehot.T @ embeddings) / onehot.sum(0).clamp_min(1)[:, None]
        return 2 * mu, -(mu * mu).sum(1)
    raise ValueError(f"unknown head init {init!r}; use random, zero, reuse or mean")


# ----------------------------------------------------------------------------- recipes


@dataclass
class FinetuneRecipe:
    """One way to fine-tune: per-layer learning rates (0 = frozen), head, start point, steps."""

    name: str
    lrs: dict[str, float]
    head: str = "random"
    steps: int = 20
    from_scratch: bool = False
    note: str = ""

    def config(self) -> dict[str, Any]:
        return asdict(self)


def design_choice_recipes(
    lr: float = 0.1, lr_big: float = 1.0, steps: int = 20
) -> list[FinetuneRecipe]:
    """The fine-tuning design choices of the lecture, as recipes (all plain SGD, ``steps``).

    ``lr_big`` is a learning rate suited to training from scratch, ``lr`` a smaller one.
    """
    every = dict.fromkeys(CONV4_LAYERS, lr)
    return [
        FinetuneRecipe("from scratch (no pre-training)", dict.fromkeys(CONV4_LAYERS, lr_big),
                       steps=steps, from_scratch=True),
        FinetuneRecipe("all layers, large lr", dict.fromkeys(CONV4_LAYERS, lr_big), steps=steps),
        FinetuneRecipe("all layers, small lr", every, steps=steps),
        FinetuneRecipe("all layers, small lr, old head kept", every, head="reuse", steps=steps),
        FinetuneRecipe("layer-wise lr (÷3 per layer down)",
                       {g: lr / 3 ** (4 - i) for i, g in enumerate(CONV4_LAYERS)}, steps=steps),
        FinetuneRecipe("freeze blocks 1–2", {"block3": lr, "block4": lr, "head": lr}, steps=steps),
        FinetuneRecipe("freeze blocks 1–4 (train the head only)", {"head": lr}, steps=steps),
        FinetuneRecipe("class-mean head, no steps", {}, head="mean", steps=0),
    ]


def finetune_task(
    model: Conv4,
    params: Mapping[str, torch.Tensor],
    x: torch.Tensor,
    y: torch.Tensor,
    steps: int,
    lr: float | Mapping[str, torch.Tensor],
    start: int = 0,
) -> Params:
    """``steps`` SGD steps on one task's support set; ``vmap``-able over tasks.

    ``params`` holds Conv4 blocks ``start..3`` and the head; ``x`` is ``(K, C, H, W)`` images if
    ``start = 0``, else the output of block ``start`` (frozen leading blocks run beforehand);
    ``y (K,)`` int64. ``lr`` is one rate or one tensor per parameter (:func:`layerwise_lrs`).
    Gradients come from ``torch.func.grad``; each update is
    :func:`~course_pkg.algorithms.core.sgd_step`.
    """

    def support_loss(p: Params) -> torch.Tensor:
        return cross_entropy_loss(conv4_forward(model, p, x, start), y)

    grad_fn = torch.func.grad(support_loss)
    p = dict(params)
    for _ in range(steps):
        p = sgd_step(p, grad_fn(p), lr)
    return p


def map_tasks(fn: Callable, *args: torch.Tensor, vectorize: bool | None = None):
    """Apply ``fn`` to each task (leading dimension of every ``args``) and stack the results.

    ``vectorize=True`` uses ``torch.vmap``; ``False`` a Python loop. The default vectorises on
    accelerators only: on CPUs, convolutions with per-task weights under ``vmap`` run several
    times slower than a loop over tasks. Both give the same numbers.
    """
    if vectorize is None:
        vectorize = args[0].device.type != "cpu"
    if vectorize:
        return torch.vmap(fn)(*args)
    outs = [fn(*(a[i] for a in args)) for i in range(args[0].shape[0])]
    if isinstance(outs[0], tuple):
        return tuple(torch.stack(o) for o in zip(*outs))
    return torch.stack(outs)


def finetune_accuracy(
    model: Conv4,
    pretrained: Mapping[str, torch.Tensor],
    batch: TaskBatch,
    recipe: FinetuneRecipe,
    seed: int = 0,
    chunk: int = 20,
    progress: Callable | None = None,
    vectorize: bool | None = None,
) -> torch.Tensor:
    """Query accuracy ``(T,)`` of ``recipe`` on each task of ``batch`` (N-way, labels ``0..N−1``).

    ``model`` is a Conv4 whose module structure matches ``pretrained`` (its own head size does
    not matter); the head is replaced per task (:func:`new_head`, seeded by ``seed``). Frozen
    leading blocks are run once per task instead of at every step. BatchNorm uses the statistics
    of the batch at hand (support while adapting, query when predicting), as in MAML.
    """
    dev = batch.device
    n_way = int(batch.y_support.max().item()) + 1
    g = torch.Generator().manual_seed(seed)
    if recipe.from_scratch:
        torch_state = torch.random.get_rng_state()
        torch.manual_seed(seed)
        fresh = Conv4(model.in_channels, None, model.features[0][0].out_channels,
                      image_size=batch.x_support.shape[-1])
        torch.random.set_rng_state(torch_state)
        body = {k: v.detach().to(dev) for k, v in params(fresh).items()}
    else:
        body = {k: v.detach().to(dev) for k, v in pretrained.items() if not k.startswith("head.")}
    old_head = (pretrained["head.weight"].detach().to(dev),
                pretrained["head.bias"].detach().to(dev))
    start = first_trainable_block(recipe.lrs) if recipe.steps > 0 else 4
    frozen = {k: v for k, v in body.items() if int(k.split(".")[1]) < start}
    tail = {k: v for k, v in body.items() if int(k.split(".")[1]) >= start}
    lr_all = layerwise_lrs({**tail, **dict(zip(("head.weight", "head.bias"), old_head))},
                           recipe.lrs)

    dim = old_head[0].shape[1]
    old_head_cpu = (old_head[0].cpu(), old_head[1].cpu())

    def prefix(x: torch.Tensor) -> torch.Tensor:
        return conv4_features(model, frozen, x, start)

    def one(w, b, hs, ys, hq):
        p = finetune_task(model, {**tail, "head.weight": w, "head.bias": b}, hs, ys,
                          recipe.steps, lr_all, start)
        support_loss = cross_entropy_loss(conv4_forward(model, p, hs, start), ys)
        return conv4_forward(model, p, hq, start), support_loss

    accs = []
    with torch.no_grad():
        for lo in range(0, batch.num_tasks, chunk):
            hi = min(lo + chunk, batch.num_tasks)
            xs, ys, xq, yq = (t[lo:hi] for t in batch)
            hs = map_tasks(prefix, xs, vectorize=vectorize)
            hq = map_tasks(prefix, xq, vectorize=vectorize)
            if recipe.head == "mean":
                emb = map_tasks(lambda h: conv4_forward(model, tail, h, start, head=False), hs,
                                vectorize=vectorize)
                heads = [new_head(n_way, dim, "mean", embeddings=emb[i], labels=ys[i])
                         for i in range(hi - lo)]
            else:
                heads = [new_head(n_way, dim, recipe.head, generator=g, old_head=old_head_cpu)
                         for _ in range(hi - lo)]
            hw = torch.stack([h[0] for h in heads]).to(dev)
            hb = torch.stack([h[1] for h in heads]).to(dev)
            logits, loss = map_tasks(one, hw, hb, hs, ys, hq, vectorize=vectorize)
            check_finite(loss, recipe.steps, what=f"support loss of '{recipe.name}'")
            accs.append((logits.argmax(-1) == yq).float().mean(1))
            if progress is not None:
                progress(hi - lo)
    return torch.cat(accs).cpu()


def nearest_neighbour_accuracy(batch: TaskBatch) -> torch.Tensor:
    """Query accuracy ``(T,)`` of 1-nearest-neighbour on raw pixels (Euclidean distance)."""
    xs = batch.x_support.flatten(2)
    xq = batch.x_query.flatten(2)
    d = torch.cdist(xq, xs)  # (T, Q, K)
    pred = torch.gather(batch.y_support, 1, d.argmin(-1))
    return (pred == batch.y_query).float().mean(1).cpu()


# ----------------------------------------------------------------------------- pre-training


#: Settings of the Conv4 pre-trained on the glyph meta-training classes (checkpoint
#: ``glyphs_conv4_pretrained``); change them and the chapter retrains instead of loading.
PRETRAIN_CONFIG: dict[str, Any] = {
    "data": "glyphs",
    "data_seed": 0,
    "split": "train",
    "hidden": 64,
    "epochs": 8,
    "batch_size": 128,
    "lr": 1e-3,
    "seed": 0,
    "val_episodes": 100,
}


def pretrain_conv4(
    config: Mapping[str, Any], device: str | torch.device | None = None, progress: bool = False
) -> tuple[Params, dict[str, Any]]:
    """Train a Conv4 classifier over all meta-training classes (standard supervised learning).

    Adam on cross-entropy, mini-batches of the meta-training split, ``config["epochs"]`` passes.
    Returns ``(state_dict, metrics)`` with the final training accuracy and the 5-way 1-shot
    accuracy of its class-mean head on ``val_episodes`` meta-validation episodes.
    """
    from course_pkg.data import episodes, glyph_splits, mean_ci95

    if config["data"] != "glyphs":
        raise ValueError("only the glyph data set is supported for pre-training here")
    dev = get_device(device)
    data = glyph_splits(seed=config["data_seed"])[config["split"]]
    g = torch.Generator().manual_seed(config["seed"])
    torch_state = torch.random.get_rng_state()
    torch.manual_seed(config["seed"])
    model = Conv4(1, data.num_classes, config["hidden"]).to(dev)
    torch.random.set_rng_state(torch_state)
    x_all = data.tensor("cpu")
    y_all = torch.from_numpy(data.labels)
    opt = torch.optim.Adam(model.parameters(), lr=config["lr"])
    n = len(data)
    bs = config["batch_size"]
    iterator = range(config["epochs"])
    if progress:
        from tqdm.auto import tqdm

        iterator = tqdm(iterator, desc="pre-training Conv4")
    step = 0
    for _ in iterator:
        perm = torch.randperm(n, generator=g)
        correct = 0
        for lo in range(0, n - bs + 1, bs):
            idx = perm[lo : lo + bs]
            x, y = x_all[idx].to(dev), y_all[idx].to(dev)
            logits = model(x)
            loss = cross_entropy_loss(logits, y)
            check_finite(loss, step)
            opt.zero_grad()
            loss.backward()
            opt.step()
            correct += int((logits.argmax(-1) == y).sum())
            step += 1
        train_acc = correct / (n - n % bs)
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    val = episodes("val", 5, 1, 15, config["val_episodes"], seed=1, device=dev)
    acc = finetune_accuracy(model, state, val, FinetuneRecipe("mean", {}, head="mean", steps=0))
    m, ci = mean_ci95(acc)
    return state, {"train_accuracy": round(train_acc, 4), "val_5way1shot_mean_head": round(m, 4),
                   "val_ci95": round(ci, 4), "steps": step}


def pretrained_conv4(
    config: Mapping[str, Any] | None = None,
    retrain: bool = False,
    device: str | torch.device | None = None,
    progress: bool = False,
    directory: str | Path | None = None,
) -> tuple[Conv4, dict[str, Any]]:
    """The pre-trained Conv4 (loaded from ``course_pkg/weights/glyphs_conv4_pretrained`` when
    its config matches, trained and saved otherwise). Returns ``(model on device, meta)``.

    Reproduce the committed checkpoint with ``python -m course_pkg.data pretrain --force``.
    ``directory`` defaults to ``course_pkg/weights``.
    """
    from course_pkg.checkpoints import load_or_train, save_checkpoint

    cfg = dict(PRETRAIN_CONFIG if config is None else config)
    name = "glyphs_conv4_pretrained"
    if retrain:
        state, metrics = pretrain_conv4(cfg, device, progress)
        save_checkpoint(name, state, cfg, metrics, directory)
        meta = {"config": cfg, "metrics": metrics, "loaded": False}
    else:
        state, meta = load_or_train(name, cfg, lambda c: pretrain_conv4(c, device, progress),
                                    directory)
    n_classes = state["head.weight"].shape[0]
    model = Conv4(1, n_classes, cfg["hidden"])
    model.load_state_dict(state)
    return model.to(get_device(device)), meta


# ----------------------------------------------------------------------------- the table


#: Settings of chapter 2's comparison of fine-tuning design choices (checkpoint
#: ``glyphs_finetune_table``: the per-episode query accuracies of every row).
TABLE_CONFIG: dict[str, Any] = {
    "pretrain": PRETRAIN_CONFIG,
    "n_way": 5,
    "shots": [1, 5],
    "q_query": 15,
    "episodes": 100,
    "split": "test",
    "steps": 20,
    "lr_grid": [0.003, 0.01, 0.03, 0.1, 0.3, 1.0],
    "search_split": "val",
    "search_episodes": 20,
    "seed": 0,
}


def search_lr(
    model: Conv4,
    pretrained: Mapping[str, torch.Tensor],
    batch: TaskBatch,
    grid: list[float],
    steps: int,
    from_scratch: bool = False,
    seed: int = 0,
) -> tuple[float, dict[float, float]]:
    """Pick the learning rate (same for every layer) with the best mean query accuracy on
    ``batch`` — meta-validation episodes, never the test episodes. Returns ``(best, {lr: acc})``."""
    scores = {}
    for lr in grid:
        recipe = FinetuneRecipe(f"lr {lr}", dict.fromkeys(CONV4_LAYERS, lr), steps=steps,
                                from_scratch=from_scratch)
        scores[lr] = float(finetune_accuracy(model, pretrained, batch, recipe, seed).mean())
    return max(scores, key=lambda k: (scores[k], -k)), scores


def compute_design_choice_table(
    config: Mapping[str, Any],
    progress: bool = False,
    directory: str | Path | None = None,
    device: str | torch.device | None = None,
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Per-episode query accuracies of every fine-tuning design choice (and 1-NN on pixels).

    1. Learning rates: the best single rate for fine-tuning the pre-trained network (``lr``)
       and for training the same network from scratch (``lr_big``), each searched over
       ``lr_grid`` on ``search_episodes`` 5-way 1-shot meta-validation episodes.
    2. Every recipe of :func:`design_choice_recipes` on the first ``episodes`` fixed evaluation
       episodes (:func:`course_pkg.data.eval_episodes`) for each ``K`` in ``shots``.

    Returns ``(state, metrics)``: ``state["k{K}/{row name}"]`` is a float tensor ``(episodes,)``.
    """
    from course_pkg.data import episodes, eval_episodes, mean_ci95

    dev = get_device(device)
    model, _ = pretrained_conv4(config["pretrain"], device=dev, directory=directory)
    pre = {k: v.detach() for k, v in model.state_dict().items()}
    val = episodes(config["search_split"], config["n_way"], 1, config["q_query"],
                   config["search_episodes"], seed=config["seed"] + 1, device=dev)
    lr, fine_scores = search_lr(model, pre, val, config["lr_grid"], config["steps"],
                                seed=config["seed"])
    lr_big, scratch_scores = search_lr(model, pre, val, config["lr_grid"], config["steps"],
                                       from_scratch=True, seed=config["seed"])
    recipes = design_choice_recipes(lr=lr, lr_big=lr_big, steps=config["steps"])
    state: dict[str, torch.Tensor] = {}
    summary: dict[str, Any] = {}
    bar = None
    if progress:
        from tqdm.auto import tqdm

        total = len(config["shots"]) * len(recipes) * config["episodes"]
        bar = tqdm(total=total, desc="fine-tuning design choices")
    for k in config["shots"]:
        batch = eval_episodes(config["n_way"], k, config["q_query"], config["episodes"],
                              config["split"], device=dev)
        rows = {"1-NN on pixels": nearest_neighbour_accuracy(batch)}
        for r in recipes:
            rows[r.name] = finetune_accuracy(model, pre, batch, r, seed=config["seed"],
                                             progress=None if bar is None else bar.update)
        for name, acc in rows.items():
            state[f"k{k}/{name}"] = acc
            m, ci = mean_ci95(acc)
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
    when its config differs, or with ``recompute=True`` (about 10 CPU-minutes; the stored file
    was computed on a CPU with one thread).

    Returns ``(per-episode accuracies by "k{K}/{row}", meta)``. Reproduce the committed file
    with ``python -m course_pkg.data pretrain --force``.
    """
    from course_pkg.checkpoints import load_or_train, save_checkpoint

    cfg = dict(TABLE_CONFIG if config is None else config)
    name = "glyphs_finetune_table"
    if recompute:
        state, metrics = compute_design_choice_table(cfg, progress, directory, device)
        save_checkpoint(name, state, cfg, metrics, directory)
        return state, {"config": cfg, "metrics": metrics, "loaded": False}
    return load_or_train(
        name, cfg, lambda c: compute_design_choice_table(c, progress, directory, device), directory
    )


# ----------------------------------------------------------------------------- multi-task


class HardSharingNet(nn.Module):
    """Multi-task network with hard parameter sharing: one trunk, one linear head per task.

    ``forward(x)`` takes ``x (M, n, in_dim)`` — ``n`` inputs for each of the ``M`` tasks — and
    returns ``(M, n, out_dim)``: ``head_i(trunk(x_i))``. The trunk is an :class:`MLP` with hidden
    layers ``hidden[:-1]`` and a linear output of ``hidden[-1]`` shared features (no ReLU on them,
    so no feature can die); each head is linear on those features.
    """

    def __init__(self, num_tasks: int, in_dim: int = 1, hidden: tuple[int, ...] = (40, 40),
                 out_dim: int = 1) -> None:
        super().__init__()
        self.trunk = MLP(in_dim, hidden[:-1], hidden[-1])
        bound = 1.0 / math.sqrt(hidden[-1])
        self.head_weight = nn.Parameter(
            (torch.rand(num_tasks, hidden[-1], out_dim) * 2 - 1) * bound
        )
        self.head_bias = nn.Parameter((torch.rand(num_tasks, 1, out_dim) * 2 - 1) * bound)
        self.num_tasks = num_tasks

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 3 or x.shape[0] != self.num_tasks:
            raise ValueError(
                f"expected x of shape ({self.num_tasks}, n, in_dim); got {tuple(x.shape)}"
            )
        return torch.bmm(self.trunk(x), self.head_weight) + self.head_bias


class SeparateNets(nn.Module):
    """``M`` independent MLPs (no sharing), stored as stacked parameters and run with ``vmap``;
    same I/O as :class:`HardSharingNet`."""

    def __init__(self, num_tasks: int, in_dim: int = 1, hidden: tuple[int, ...] = (40, 40),
                 out_dim: int = 1) -> None:
        super().__init__()
        nets = [MLP(in_dim, hidden, out_dim) for _ in range(num_tasks)]
        stacked, _ = torch.func.stack_module_state(nets)
        self.stacked = nn.ParameterDict(
            {k.replace(".", "__"): nn.Parameter(v.detach().clone()) for k, v in stacked.items()}
        )
        self._structure = [nets[0].to("meta")]  # a plain list: not registered as a submodule
        self.num_tasks = num_tasks

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 3 or x.shape[0] != self.num_tasks:
            raise ValueError(
                f"expected x of shape ({self.num_tasks}, n, in_dim); got {tuple(x.shape)}"
            )
        p = {k.replace("__", "."): v for k, v in self.stacked.items()}
        net = self._structure[0]
        return torch.vmap(lambda pi, xi: functional_call(net, pi, (xi,)))(p, x)


class OneNet(nn.Module):
    """A single MLP for every task: the vanilla objective ``min_θ Σ_i L_i(θ)`` with no
    task-specific parameters; same I/O as :class:`HardSharingNet`."""

    def __init__(self, num_tasks: int, in_dim: int = 1, hidden: tuple[int, ...] = (40, 40),
                 out_dim: int = 1) -> None:
        super().__init__()
        self.net = MLP(in_dim, hidden, out_dim)
        self.num_tasks = num_tasks

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def fit_multitask(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    steps: int = 2000,
    lr: float = 3e-3,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
) -> list[float]:
    """Minimise ``Σ_i L_i`` — the mean over tasks of each task's mean loss — with Adam.

    ``x (M, n, in)``, ``y (M, n, out)`` hold every task's training data. Returns the loss curve.
    """
    loss_fn = loss_fn or torch.nn.functional.mse_loss
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    history = []
    for step in range(steps):
        loss = loss_fn(model(x), y)
        check_finite(loss, step)
        opt.zero_grad()
        loss.backward()
        opt.step()
        history.append(loss.item())
    return history


def per_task_mse(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean squared error of each task, ``(M,)``."""
    with torch.no_grad():
        return ((model(x) - y) ** 2).flatten(1).mean(1)


def _register_with_train() -> None:
    """Make ``python -m course_pkg.train glyphs`` (and ``all``, i.e. ``make weights``) retrain
    chapter 2's checkpoints. Runs when ``course_pkg.train`` imports this module; importing it
    from anywhere else does not pull in the training command line."""
    train = sys.modules.get("course_pkg.train")
    if train is None or "glyphs" in train.EXPERIMENTS:
        return

    def add_arguments(p: Any) -> None:  # no extra flags
        return None

    def run(args: Any) -> list[str]:
        if getattr(args, "threads", None) is None and get_device(args.device).type == "cpu":
            torch.set_num_threads(1)  # small convolutions: one thread is fastest
        pretrained_conv4(retrain=True, device=args.device, progress=not args.quiet,
                         directory=args.weights_dir)
        design_choice_table(recompute=True, progress=not args.quiet, directory=args.weights_dir,
                            device=args.device)
        return ["glyphs_conv4_pretrained", "glyphs_finetune_table"]

    train.register_experiment(
        "glyphs", "chapter 2: Conv4 pre-trained on the glyph meta-training classes and the "
        "table of fine-tuning design choices (about 10 CPU-minutes)", add_arguments, run)


_register_with_train()

__all__ = [
    "CONV4_LAYERS",
    "PRETRAIN_CONFIG",
    "TABLE_CONFIG",
    "FinetuneRecipe",
    "HardSharingNet",
    "OneNet",
    "SeparateNets",
    "compute_design_choice_table",
    "conv4_features",
    "conv4_forward",
    "design_choice_recipes",
    "design_choice_table",
    "finetune_accuracy",
    "finetune_task",
    "first_trainable_block",
    "fit_multitask",
    "layer_of",
    "map_tasks",
    "layerwise_lrs",
    "nearest_neighbour_accuracy",
    "new_head",
    "per_task_mse",
    "pretrain_conv4",
    "pretrained_conv4",
    "search_lr",
]

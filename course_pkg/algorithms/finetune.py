"""Transfer by fine-tuning (chapter 2).

Fine-tuning starts from parameters pre-trained on the meta-training classes (the few-shot
comparison's ``pretrained`` model: cross-entropy over every class at once, trained for the equal
budget) and takes plain gradient steps on a new task's support set,

    φ_{k+1} = φ_k − α ⊙ ∇_φ L(φ_k, D^tr),   φ_0 = θ_pre-trained,

where ``α`` may differ per layer (a layer-wise learning rate; ``α = 0`` freezes the layer). The
last layer is replaced by a fresh ``N``-way head (random, zero, reused rows of the old head, or
class means: the prototype head of the strong baseline). Everything is functional (``dict``
parameters, ``torch.func``); each step is :func:`course_pkg.algorithms.core.sgd_step`. Frozen
leading blocks are run once per task (:func:`course_pkg.models.conv4_features`), not at every
step. Runs, checkpoints and chapter 2's table live in :mod:`course_pkg.experiments.transfer`;
the multi-task networks in :mod:`course_pkg.algorithms.multitask` (re-exported here).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import torch

from course_pkg.algorithms.core import cross_entropy_loss, sgd_step
from course_pkg.algorithms.multitask import (  # noqa: F401  (chapter 2 uses ft.<name>)
    HardSharingNet,
    OneNet,
    SeparateNets,
    fit_multitask,
    per_task_mse,
)
from course_pkg.models import Conv4, conv4_features, conv4_forward, params
from course_pkg.tasks import TaskBatch
from course_pkg.utils import check_finite

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
    inner_steps: int = 20
    from_scratch: bool = False
    note: str = ""

    def config(self) -> dict[str, Any]:
        return asdict(self)


def design_choice_recipes(
    lr: float = 0.1, lr_big: float = 1.0, inner_steps: int = 20
) -> list[FinetuneRecipe]:
    """The fine-tuning design choices of the lecture, as recipes (all plain SGD, ``inner_steps``).

    ``lr_big`` is a learning rate suited to training from scratch, ``lr`` a smaller one.
    """
    k = inner_steps
    every = dict.fromkeys(CONV4_LAYERS, lr)
    return [
        FinetuneRecipe("from scratch (no pre-training)", dict.fromkeys(CONV4_LAYERS, lr_big),
                       inner_steps=k, from_scratch=True),
        FinetuneRecipe("all layers, large lr", dict.fromkeys(CONV4_LAYERS, lr_big), inner_steps=k),
        FinetuneRecipe("all layers, small lr", every, inner_steps=k),
        FinetuneRecipe("all layers, small lr, old head kept", every, head="reuse", inner_steps=k),
        FinetuneRecipe("layer-wise lr (÷3 per layer down)",
                       {g: lr / 3 ** (4 - i) for i, g in enumerate(CONV4_LAYERS)}, inner_steps=k),
        FinetuneRecipe("freeze blocks 1–2", {"block3": lr, "block4": lr, "head": lr},
                       inner_steps=k),
        FinetuneRecipe("freeze blocks 1–4 (train the head only)", {"head": lr}, inner_steps=k),
        FinetuneRecipe("class-mean head, no steps", {}, head="mean", inner_steps=0),
    ]


def finetune_task(
    model: Conv4,
    params: Mapping[str, torch.Tensor],
    x: torch.Tensor,
    y: torch.Tensor,
    inner_steps: int,
    lr: float | Mapping[str, torch.Tensor],
    start: int = 0,
) -> Params:
    """``inner_steps`` SGD steps on one task's support set; ``vmap``-able over tasks.

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
    for _ in range(inner_steps):
        p = sgd_step(p, grad_fn(p), lr)
    return p


def map_tasks(fn: Callable, *args: torch.Tensor, vectorize: bool | None = None) -> Any:
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
    start = first_trainable_block(recipe.lrs) if recipe.inner_steps > 0 else 4
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
                          recipe.inner_steps, lr_all, start)
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
            check_finite(loss, recipe.inner_steps, what=f"support loss of '{recipe.name}'")
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

def search_lr(
    model: Conv4,
    pretrained: Mapping[str, torch.Tensor],
    batch: TaskBatch,
    grid: list[float],
    inner_steps: int,
    from_scratch: bool = False,
    seed: int = 0,
) -> tuple[float, dict[float, float]]:
    """Pick the learning rate (same for every layer) with the best mean query accuracy on
    ``batch`` — meta-validation episodes, never the test episodes. Returns ``(best, {lr: acc})``."""
    scores = {}
    for lr in grid:
        recipe = FinetuneRecipe(f"lr {lr}", dict.fromkeys(CONV4_LAYERS, lr),
                                inner_steps=inner_steps,
                                from_scratch=from_scratch)
        scores[lr] = float(finetune_accuracy(model, pretrained, batch, recipe, seed).mean())
    return max(scores, key=lambda k: (scores[k], -k)), scores


__all__ = [
    "CONV4_LAYERS",
    "FinetuneRecipe",
    "HardSharingNet",
    "OneNet",
    "SeparateNets",
    "conv4_features",
    "conv4_forward",
    "design_choice_recipes",
    "finetune_accuracy",
    "finetune_task",
    "first_trainable_block",
    "fit_multitask",
    "layer_of",
    "layerwise_lrs",
    "map_tasks",
    "nearest_neighbour_accuracy",
    "new_head",
    "per_task_mse",
    "search_lr",
]

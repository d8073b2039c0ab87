"""ProtoMAML (Triantafillou et al., 2020): MAML whose linear head starts at the prototype
classifier.

For each task the body ``f_θ`` embeds the support set, the class prototypes
``c_n = mean_{i: y_i = n} f_θ(x_i)`` give the head's starting point

    W_n = 2 c_n,   b_n = −‖c_n‖²,

so that the first logits ``W_n·z + b_n = −‖z − c_n‖² + ‖z‖²`` are ProtoNet's up to a constant
per query (the same softmax). Then MAML's inner loop adapts body and head together on the
support set, and the outer loop differentiates the query loss through the steps *and* through
the prototypes (second order, as the course's MAML). The meta-parameters are the body's only.

Shapes: ``batch`` holds ``T`` N-way episodes, images ``(T, S, C, H, W)``, labels ``(T, S)``;
the model is a :class:`~course_pkg.models.Conv4` built with ``out_dim = N`` (its own head is
never used: every task's head comes from its prototypes).
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

from course_pkg.algorithms.anil import HEAD, episode_features
from course_pkg.algorithms.core import (
    LossFn,
    Params,
    batched_inner_adapt,
    checked_batch,
    cross_entropy_loss,
    forward,
    loss_at,
)
from course_pkg.algorithms.metric import class_prototypes
from course_pkg.models import Conv4
from course_pkg.tasks import TaskBatch

__all__ = ["body_params", "proto_head", "protomaml_accuracy", "protomaml_loss",
           "protomaml_meta_gradient"]


def body_params(params: Mapping[str, torch.Tensor]) -> Params:
    """The meta-parameters of ProtoMAML: every parameter but the head's."""
    return {k: v for k, v in params.items() if not k.startswith(HEAD)}


def proto_head(model: Conv4, body: Mapping[str, torch.Tensor], batch: TaskBatch) -> Params:
    """Each task's starting head from its prototypes: ``{head.weight: (T, N, D) = 2c,
    head.bias: (T, N) = −‖c‖²}``. Differentiable w.r.t. ``body``."""
    n_way = int(batch.y_support.max()) + 1
    c = class_prototypes(episode_features(model, body, batch.x_support), batch.y_support, n_way)
    return {HEAD + "weight": 2.0 * c, HEAD + "bias": -(c * c).sum(-1)}


def _adapted(model, body, batch, steps, inner_lr, loss_fn, first_order) -> Params:
    return batched_inner_adapt(model, body, batch.x_support, batch.y_support, steps, inner_lr,
                               loss_fn, first_order, task_params=proto_head(model, body, batch))


def protomaml_loss(model: Conv4, params: Mapping[str, torch.Tensor], batch: TaskBatch,
                   inner_steps: int, inner_lr: float, loss_fn: LossFn = cross_entropy_loss,
                   first_order: bool = False, reduce: bool = True) -> torch.Tensor:
    """Mean query loss after ``inner_steps`` steps from the prototype head (``(T,)`` with
    ``reduce=False``); differentiable w.r.t. the body's parameters."""
    batch = checked_batch(params, batch)
    phi = _adapted(model, body_params(params), batch, inner_steps, inner_lr, loss_fn,
                   first_order)
    per_task = torch.vmap(lambda p, x, y: loss_at(model, p, x, y, loss_fn))(
        phi, batch.x_query, batch.y_query)
    return per_task.mean() if reduce else per_task


def protomaml_meta_gradient(model: Conv4, params: Mapping[str, torch.Tensor], batch: TaskBatch,
                            inner_steps: int, inner_lr: float,
                            loss_fn: LossFn = cross_entropy_loss, first_order: bool = False,
                            task_chunk_size: int | None = None) -> tuple[torch.Tensor, Params]:
    """``(loss, grads)`` of :func:`protomaml_loss` w.r.t. the body's parameters (detached);
    ``task_chunk_size`` tasks at a time (same result, less memory)."""
    theta = {k: v.detach().requires_grad_(True) for k, v in body_params(params).items()}
    step = task_chunk_size or batch.num_tasks
    total, grads = torch.zeros(()), {k: torch.zeros_like(v) for k, v in theta.items()}
    for lo in range(0, batch.num_tasks, step):
        b = TaskBatch(*(t[lo:lo + step] for t in batch))
        w = b.num_tasks / batch.num_tasks
        with torch.enable_grad():
            loss = protomaml_loss(model, theta, b, inner_steps, inner_lr, loss_fn, first_order)
            g = torch.autograd.grad(loss, list(theta.values()), allow_unused=True)
        total = total + w * loss.detach().cpu()
        grads = {k: acc + (w * gk if gk is not None else 0.0)
                 for (k, acc), gk in zip(grads.items(), g)}
    return total.to(batch.device), grads


def protomaml_accuracy(model: Conv4, params: Mapping[str, torch.Tensor], batch: TaskBatch,
                       test_steps: int, inner_lr: float, chunk: int = 20) -> torch.Tensor:
    """Query accuracy ``(T,)`` (CPU) after ``test_steps`` steps from each prototype head."""
    body = {k: v.detach() for k, v in body_params(params).items()}
    out = []
    for lo in range(0, batch.num_tasks, chunk):
        b = TaskBatch(*(t[lo:lo + chunk] for t in batch))
        with torch.no_grad():
            head = proto_head(model, body, b)
        phi = batched_inner_adapt(model, body, b.x_support, b.y_support, test_steps, inner_lr,
                                  cross_entropy_loss, first_order=True, task_params=head)
        with torch.no_grad():
            logits = torch.vmap(lambda p, x: forward(model, p, x))(phi, b.x_query)
        out.append((logits.argmax(-1) == b.y_query).float().mean(-1).cpu())
    return torch.cat(out)


"""Evaluation of optimization-based learners in one place: test-time adaptation and the query
loss after 0…k adaptation steps.

- :func:`adapt` – ``inner_steps`` SGD steps per task; returns ``{name: (T, *shape)}``.
- :func:`predict` – outputs ``(T, N, …)`` of per-task (or shared) parameters.
- :func:`evaluate_adaptation` – query loss after 0, 1, …, k SGD steps, ``(T, k + 1)``.
- :func:`evaluate_proximal_adaptation` – the same for iMAML's proximal inner loop.

Confidence intervals of these curves: :func:`course_pkg.utils.mean_ci`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import nn

from course_pkg.algorithms.core import (
    InnerLR,
    LossFn,
    Params,
    batched_inner_adapt,
    checked_batch,
    forward,
    loss_at,
    lr_for,
    mse_loss,
)
from course_pkg.algorithms.imaml import proximal_adapt
from course_pkg.tasks import TaskBatch
from course_pkg.utils import check_same_device

__all__ = ["adapt", "evaluate_adaptation", "evaluate_proximal_adaptation", "predict"]


def adapt(
    model: nn.Module,
    params: Mapping[str, torch.Tensor],
    batch: TaskBatch | Sequence[torch.Tensor],
    inner_steps: int,
    inner_lr: InnerLR,
    loss_fn: LossFn = mse_loss,
) -> Params:
    """Test-time adaptation: ``inner_steps`` SGD steps on each task's support set from ``params``.

    Returns adapted parameters with a leading task dimension, ``{name: (T, *shape)}``
    (detached). Use :func:`predict` to run them.
    """
    batch = checked_batch(params, batch)
    theta = {k: v.detach() for k, v in params.items()}
    lr = lr_for(inner_lr, theta)
    if isinstance(lr, Mapping):
        lr = {k: v.detach() for k, v in lr.items()}
    phi = batched_inner_adapt(model, theta, batch.x_support, batch.y_support, inner_steps, lr,
                              loss_fn,
                              first_order=True)
    return {k: v.detach() for k, v in phi.items()}


def predict(model: nn.Module, params: Mapping[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """Outputs ``(T, N, …)`` of per-task parameters ``{name: (T, …)}`` on inputs ``x (T, N, …)``.

    Parameters without a task dimension (e.g. the meta-parameters θ) are broadcast.
    """
    names = list(params)
    batched = [params[k].dim() == dict(model.named_parameters())[k].dim() + 1 for k in names]
    in_dims = ({k: (0 if b else None) for k, b in zip(names, batched)}, 0)
    with torch.no_grad():
        return torch.vmap(lambda p, xx: forward(model, p, xx), in_dims=in_dims)(dict(params), x)


def evaluate_adaptation(
    model: nn.Module,
    params: Mapping[str, torch.Tensor],
    batch: TaskBatch | Sequence[torch.Tensor],
    inner_steps: int,
    inner_lr: InnerLR,
    loss_fn: LossFn = mse_loss,
    chunk_size: int | None = 1000,
) -> torch.Tensor:
    """Query loss after 0, 1, …, ``inner_steps`` test-time SGD steps: a ``(T, inner_steps + 1)``
    tensor.

    Column 0 is the loss of the meta-parameters themselves, column j the loss after j steps on
    the task's support set. Tasks are processed ``chunk_size`` at a time (all tasks of a chunk
    at once, as in :func:`maml_loss`); no graph is kept.
    """
    batch = checked_batch(params, batch)
    theta = {k: v.detach() for k, v in params.items()}
    lr = lr_for(inner_lr, theta)
    if isinstance(lr, Mapping):
        lr = {k: v.detach() for k, v in lr.items()}
    query_losses = torch.vmap(lambda p, x, y: loss_at(model, p, x, y, loss_fn))
    T = batch.num_tasks
    size = T if chunk_size is None else chunk_size
    rows = []
    for start in range(0, T, size):
        xs, ys, xq, yq = (t[start:start + size] for t in batch)
        traj = batched_inner_adapt(model, theta, xs, ys, inner_steps, lr, loss_fn, first_order=True,
                                   return_trajectory=True)
        with torch.no_grad():
            rows.append(torch.stack([query_losses(phi, xq, yq) for phi in traj], dim=1))
    return torch.cat(rows).detach()


def evaluate_proximal_adaptation(
    model: nn.Module,
    params: Mapping[str, torch.Tensor],
    batch: TaskBatch,
    inner_steps: int,
    inner_lr: float,
    imaml_lambda: float,
    loss_fn: LossFn = mse_loss,
    backtrack: bool = True,
    chunk_size: int | None = 256,
) -> torch.Tensor:
    """iMAML's own test-time adaptation: query loss after 0…``inner_steps`` proximal GD steps.

    The analogue of :func:`evaluate_adaptation` for the proximal inner loop
    (:func:`~course_pkg.algorithms.imaml.proximal_adapt` with ``imaml_lambda``, ``inner_lr`` and
    ``backtrack``) on each task's support set. Returns a ``(T, inner_steps + 1)`` tensor (column
    0: the loss at ``θ``).
    """
    check_same_device(params, *batch)
    theta = {k: v.detach() for k, v in params.items()}

    def one(xs, ys, xq, yq):
        traj = proximal_adapt(model, theta, xs, ys, imaml_lambda, inner_steps, inner_lr, loss_fn,
                              backtrack=backtrack, return_trajectory=True)
        return torch.stack([loss_at(model, phi, xq, yq, loss_fn) for phi in traj])

    with torch.no_grad():
        return torch.vmap(one, chunk_size=chunk_size)(*batch).detach()

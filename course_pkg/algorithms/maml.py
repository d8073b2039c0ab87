"""MAML's meta-objective and its gradient: MAML, first-order MAML, Meta-SGD, MAML++'s multi-step
loss, and the "pretrained" (joint-training) baseline.

Everything is functional (``torch.func``): parameters are ``dict[str, Tensor]``, a model is run
with ``functional_call``, the inner loop is :func:`course_pkg.algorithms.core.inner_adapt`, and
tasks are batched over the leading task dimension of a :class:`course_pkg.tasks.TaskBatch`
(``x_support (T, K, …)``, ``y_support (T, K, …)``, ``x_query (T, Q, …)``, ``y_query (T, Q, …)``).
Any ``nn.Module`` without BatchNorm running statistics works, on any device.

- :func:`maml_loss` – mean query loss after ``inner_steps`` SGD steps (MAML's meta-objective).
- :func:`meta_gradient` – ``(loss, grads)`` of that objective: second order by default,
  ``first_order=True`` for FOMAML; a dict ``inner_lr`` gives Meta-SGD (grads for the rates too);
  ``step_weights`` gives MAML++'s per-step (multi-step) loss.
- :func:`pretrained_loss` / :func:`pretrained_gradient` – the joint-training baseline.
- :func:`make_maml_grad_fn`, :func:`init_maml_params`, :func:`make_pretrained_grad_fn` – the
  plug-ins :func:`course_pkg.algorithms.training.meta_train` uses for ``"maml"``, ``"fomaml"``,
  ``"metasgd"`` and ``"pretrained"``.

Test-time adaptation and evaluation (``adapt``, ``predict``, ``evaluate_adaptation``) live in
:mod:`course_pkg.algorithms.evaluation`; the training loop in :mod:`course_pkg.algorithms.training`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import torch
from torch import nn

from course_pkg.algorithms.core import (
    LR_PREFIX,
    InnerLR,
    LossFn,
    MetaGradFn,
    Params,
    batched_inner_adapt,
    checked_batch,
    loss_at,
    lr_for,
    mse_loss,
    split_meta_params,
)
from course_pkg.algorithms.evaluation import adapt, predict  # noqa: F401  (used as maml.adapt)
from course_pkg.models import params as model_params
from course_pkg.tasks import TaskBatch

if TYPE_CHECKING:  # annotations only: training imports this module
    from course_pkg.algorithms.training import MetaConfig

__all__ = [
    "init_maml_params",
    "make_maml_grad_fn",
    "make_pretrained_grad_fn",
    "maml_loss",
    "meta_gradient",
    "msl_weights",
    "pretrained_gradient",
    "pretrained_loss",
]


# --------------------------------------------------------------------------- MAML objective
def msl_weights(
    inner_steps: int, iteration: int = 0, anneal_iterations: int | None = None
) -> list[float]:
    """MAML++ per-step loss weights ``(w_1, …, w_k)`` (sum 1) at meta-iteration ``iteration``.

    They start uniform (1/k) and move linearly, over ``anneal_iterations``, to all weight on the
    last step (the intermediate weights keep a floor of ``0.03/k`` as in Antoniou et al.).
    With ``anneal_iterations=None`` the weights stay uniform.
    """
    k = inner_steps
    if k < 1:
        raise ValueError("the multi-step loss needs inner_steps ≥ 1")
    if anneal_iterations is None or anneal_iterations <= 0:
        return [1.0 / k] * k
    t = min(iteration / anneal_iterations, 1.0)
    floor = 0.03 / k
    w = [max(1.0 / k - t / k, floor) for _ in range(k - 1)]
    w.append(1.0 - sum(w))
    return w


def maml_loss(
    model: nn.Module,
    params: Mapping[str, torch.Tensor],
    batch: TaskBatch | Sequence[torch.Tensor],
    inner_steps: int,
    inner_lr: InnerLR,
    loss_fn: LossFn = mse_loss,
    first_order: bool = False,
    step_weights: Sequence[float] | None = None,
    reduce: bool = True,
) -> torch.Tensor:
    """MAML's meta-objective ``(1/T) Σ_i L(φ_i, D_i^query)`` with ``φ_i`` = k SGD steps from θ.

    ``inner_lr`` is α (a float) or a dict of per-parameter rate tensors (Meta-SGD).
    ``first_order=True`` treats the inner gradients as constants (FOMAML).
    ``step_weights`` ``(w_1…w_k)`` replaces the final query loss by ``Σ_j w_j L(φ^(j))``
    (MAML++). Differentiable w.r.t. ``params`` and tensor ``inner_lr`` (when they require grad).
    All tasks are processed at once (:func:`~course_pkg.algorithms.core.batched_inner_adapt`).
    Returns a scalar, or the per-task losses ``(T,)`` with ``reduce=False``.
    """
    batch = checked_batch(params, batch)
    per_task = _maml_objective(model, params, batch, inner_steps, inner_lr, loss_fn, first_order,
                               step_weights)
    return per_task.mean() if reduce else per_task


def _maml_objective(model, params, batch, inner_steps, inner_lr, loss_fn, first_order,
                    step_weights):
    """Per-task query losses ``(T,)`` of :func:`maml_loss` (``batch`` already checked)."""
    if step_weights is not None and len(step_weights) != inner_steps:
        raise ValueError(f"step_weights needs {inner_steps} entries, got {len(step_weights)}")
    lr = lr_for(inner_lr, params)
    xs, ys, xq, yq = batch
    query_losses = torch.vmap(lambda p, x, y: loss_at(model, p, x, y, loss_fn))
    if step_weights is None:
        phi = batched_inner_adapt(model, params, xs, ys, inner_steps, lr, loss_fn, first_order)
        return query_losses(phi, xq, yq)
    traj = batched_inner_adapt(model, params, xs, ys, inner_steps, lr, loss_fn, first_order,
                               return_trajectory=True)
    return sum(w * query_losses(phi, xq, yq) for w, phi in zip(step_weights, traj[1:]))


def meta_gradient(
    model: nn.Module,
    params: Mapping[str, torch.Tensor],
    batch: TaskBatch | Sequence[torch.Tensor],
    inner_steps: int,
    inner_lr: InnerLR,
    loss_fn: LossFn = mse_loss,
    first_order: bool = False,
    step_weights: Sequence[float] | None = None,
    task_chunk_size: int | None = None,
) -> tuple[torch.Tensor, Params]:
    """``(loss, grads)``: the value of :func:`maml_loss` and its gradient w.r.t. ``params``.

    Second order (through the k inner steps) unless ``first_order``. When ``inner_lr`` is a dict
    of tensors (Meta-SGD) ``grads`` also holds ``"inner_lr:<name>"`` entries. The returned
    tensors are detached; ``params`` may or may not require grad. ``task_chunk_size`` processes
    the tasks that many at a time and accumulates (same result, less memory: only one chunk's
    graph is alive at a time).
    """
    batch = checked_batch(params, batch)
    T = batch.num_tasks
    if task_chunk_size is not None and task_chunk_size < T:
        total_loss, total = 0.0, None
        for start in range(0, T, task_chunk_size):
            chunk = TaskBatch(*(t[start:start + task_chunk_size] for t in batch))
            loss, grads = meta_gradient(model, params, chunk, inner_steps, inner_lr, loss_fn,
                                        first_order, step_weights)
            w = chunk.num_tasks / T
            total_loss = total_loss + w * loss
            total = ({k: w * g for k, g in grads.items()} if total is None
                     else {k: total[k] + w * g for k, g in grads.items()})
        return total_loss, total
    learn_lr = isinstance(inner_lr, Mapping)

    theta = {k: v.detach().requires_grad_(True) for k, v in params.items()}
    lrs = ({k: v.detach().requires_grad_(True) for k, v in inner_lr.items()} if learn_lr
           else inner_lr)
    with torch.enable_grad():
        loss = _maml_objective(model, theta, batch, inner_steps, lrs, loss_fn, first_order,
                               step_weights).mean()
        leaves = list(theta.values()) + (list(lrs.values()) if learn_lr else [])
        grads = torch.autograd.grad(loss, leaves, allow_unused=True)
    names = list(theta) + ([LR_PREFIX + k for k in lrs] if learn_lr else [])
    out = {n: (g if g is not None else torch.zeros_like(v))
           for n, g, v in zip(names, grads, leaves)}
    return loss.detach(), out


# --------------------------------------------------------------------------- pretrained baseline
def pretrained_loss(
    model: nn.Module,
    params: Mapping[str, torch.Tensor],
    batch: TaskBatch | Sequence[torch.Tensor],
    loss_fn: LossFn = mse_loss,
) -> torch.Tensor:
    """Joint-training loss of the "pretrained" baseline: one model fitted to the support and
    query points of all ``T`` tasks pooled together (no adaptation). Scalar."""
    batch = checked_batch(params, batch)

    def one_task(p, xs, ys, xq, yq):
        return loss_at(model, p, torch.cat([xs, xq]), torch.cat([ys, yq]), loss_fn)

    return torch.vmap(one_task, in_dims=(None, 0, 0, 0, 0))(dict(params), *batch).mean()


def pretrained_gradient(
    model: nn.Module,
    params: Mapping[str, torch.Tensor],
    batch: TaskBatch | Sequence[torch.Tensor],
    loss_fn: LossFn = mse_loss,
) -> tuple[torch.Tensor, Params]:
    """``(loss, grads)`` of :func:`pretrained_loss` (detached)."""
    theta = {k: v.detach() for k, v in params.items()}
    grads, loss = torch.func.grad_and_value(
        lambda p: pretrained_loss(model, p, batch, loss_fn))(theta)
    return loss.detach(), grads


# --------------------------------------------------------------------------- meta_train plug-ins
def make_maml_grad_fn(model: nn.Module, config: MetaConfig, loss_fn: LossFn = mse_loss
                      ) -> MetaGradFn:
    """``meta_grad_fn(meta_params, batch, iteration=0) -> (loss, grads)`` of MAML for
    ``config`` (a :class:`~course_pkg.algorithms.training.MetaConfig`): first order when
    ``config.first_order`` or ``config.method == "fomaml"``; Meta-SGD when ``meta_params``
    hold ``"inner_lr:<name>"`` rates; MAML++'s annealed step weights with
    ``config.multi_step_loss``; ``config.options["task_chunk_size"]`` chunks the tasks."""
    first_order = config.first_order or config.method == "fomaml"
    anneal = config.msl_anneal_iterations

    def meta_grad_fn(meta_params: Params, batch: TaskBatch, iteration: int = 0):
        params, lrs = split_meta_params(meta_params)
        weights = (msl_weights(config.inner_steps, iteration, anneal)
                   if config.multi_step_loss else None)
        return meta_gradient(model, params, batch, config.inner_steps,
                             lrs if lrs is not None else config.inner_lr, loss_fn,
                             first_order, weights, config.options.get("task_chunk_size"))

    return meta_grad_fn


def init_maml_params(model: nn.Module, config: MetaConfig) -> Params:
    """Detached copies of the model's parameters, plus one rate tensor ``"inner_lr:<name>"``
    (filled with ``config.inner_lr``) per parameter for Meta-SGD."""
    p = model_params(model, detach=True)
    if config.learn_inner_lr or config.method == "metasgd":
        p.update({LR_PREFIX + k: torch.full_like(v, config.inner_lr) for k, v in list(p.items())})
    return p


def make_pretrained_grad_fn(model: nn.Module, config: MetaConfig, loss_fn: LossFn = mse_loss
                            ) -> MetaGradFn:
    """``meta_grad_fn`` of the joint-training baseline (:func:`pretrained_gradient`)."""
    def meta_grad_fn(meta_params: Params, batch: TaskBatch):
        return pretrained_gradient(model, meta_params, batch, loss_fn)

    return meta_grad_fn

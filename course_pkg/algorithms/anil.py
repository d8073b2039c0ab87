"""ANIL — almost no inner loop (Raghu et al., 2020): MAML that adapts only the head.

The network is a body ``f_θb`` (every parameter but ``head.*``) and a linear head ``(W, b)``.
The inner loop takes ``k`` SGD steps on the head alone, on features computed once per task,

    φ_i⁽ʲ⁾ = φ_i⁽ʲ⁻¹⁾ − α ∇_φ L(φ_i⁽ʲ⁻¹⁾; f_θb(X_i^s), Y_i^s),   φ_i⁽⁰⁾ = θ_head,

and the outer loop differentiates the query loss ``L(φ_i⁽ᵏ⁾; f_θb(X_i^q), Y_i^q)`` with respect
to the body and the head's initialisation. Its meta-gradient is MAML's with the body's inner
step size set to 0 (``tests/test_anil_protomaml.py`` checks that to 1e-6); it is cheaper because
the body runs once per task instead of once per inner step.

Shapes: ``batch`` is a :class:`~course_pkg.tasks.TaskBatch` of ``T`` N-way episodes, images
``(T, S, C, H, W)``, labels ``(T, S)``; features ``(T, S, D)``; the head ``W (N, D)``, ``b (N,)``.
The model is a :class:`~course_pkg.models.Conv4` (or any module with ``head`` Linear and a
``conv4_forward``-compatible body).
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

from course_pkg.algorithms.core import LossFn, Params, checked_batch, cross_entropy_loss
from course_pkg.models import Conv4, conv4_forward
from course_pkg.tasks import TaskBatch

__all__ = ["HEAD", "adapt_head", "anil_accuracy", "anil_loss", "anil_meta_gradient",
           "episode_features", "head_logits", "split_head"]

#: The prefix of the head's parameters; everything else is the body.
HEAD = "head."


def split_head(params: Mapping[str, torch.Tensor]) -> tuple[Params, Params]:
    """``(body, head)`` parameter dicts of a Conv4's ``params``."""
    body = {k: v for k, v in params.items() if not k.startswith(HEAD)}
    head = {k: v for k, v in params.items() if k.startswith(HEAD)}
    if set(head) != {HEAD + "weight", HEAD + "bias"}:
        raise KeyError(f"expected head.weight and head.bias among the parameters, "
                       f"got {sorted(head)}")
    return body, head


def episode_features(model: Conv4, body: Mapping[str, torch.Tensor], x: torch.Tensor
                     ) -> torch.Tensor:
    """Features ``(T, S, D)`` of images ``(T, S, C, H, W)``, one task at a time (BatchNorm uses
    each task's own statistics, as in MAML)."""
    return torch.vmap(lambda xx: conv4_forward(model, body, xx, head=False))(x)


def head_logits(head: Mapping[str, torch.Tensor], z: torch.Tensor) -> torch.Tensor:
    """Logits ``(T, S, N)`` of per-task heads ``W (T, N, D)``, ``b (T, N)`` on ``z (T, S, D)``."""
    return torch.einsum("tsd,tnd->tsn", z, head[HEAD + "weight"]) + head[HEAD + "bias"][:, None]


def _task_losses(head: Params, z: torch.Tensor, y: torch.Tensor, loss_fn: LossFn) -> torch.Tensor:
    return torch.vmap(loss_fn)(head_logits(head, z), y)


def adapt_head(head: Mapping[str, torch.Tensor], z_support: torch.Tensor,
               y_support: torch.Tensor, inner_steps: int, inner_lr: float,
               loss_fn: LossFn = cross_entropy_loss, first_order: bool = False) -> Params:
    """``inner_steps`` SGD steps of each task's head on its support features.

    ``head``: shared ``W (N, D)``, ``b (N,)`` or per-task ``(T, N, D)``, ``(T, N)``;
    ``z_support (T, S, D)``. Differentiable w.r.t. ``head`` and the features unless
    ``first_order``. Returns per-task heads ``{head.weight: (T, N, D), head.bias: (T, N)}``.
    """
    if inner_steps < 0:
        raise ValueError(f"inner_steps must be ≥ 0, got {inner_steps}")
    t = z_support.shape[0]
    shared = head[HEAD + "weight"].dim() == 2  # (N, D): one head for every task
    phi = {k: v.expand(t, *v.shape) if shared else v for k, v in head.items()}
    track = torch.is_grad_enabled() and any(
        v.requires_grad for v in [*phi.values(), z_support])
    for _ in range(inner_steps):
        if first_order or not track:
            leaf = {k: v.detach().requires_grad_(True) for k, v in phi.items()}
            with torch.enable_grad():
                loss = _task_losses(leaf, z_support.detach(), y_support, loss_fn).sum()
                g = torch.autograd.grad(loss, list(leaf.values()))
        else:
            loss = _task_losses(phi, z_support, y_support, loss_fn).sum()
            g = torch.autograd.grad(loss, list(phi.values()), create_graph=True)
        phi = {k: v - inner_lr * gk for (k, v), gk in zip(phi.items(), g)}
    return phi


def anil_loss(model: Conv4, params: Mapping[str, torch.Tensor], batch: TaskBatch,
              inner_steps: int, inner_lr: float, loss_fn: LossFn = cross_entropy_loss,
              first_order: bool = False, reduce: bool = True) -> torch.Tensor:
    """ANIL's meta-objective: mean query loss after adapting each task's head (``(T,)`` with
    ``reduce=False``). Differentiable w.r.t. every parameter of ``params``."""
    batch = checked_batch(params, batch)
    body, head = split_head(params)
    zs = episode_features(model, body, batch.x_support)
    zq = episode_features(model, body, batch.x_query)
    phi = adapt_head(head, zs, batch.y_support, inner_steps, inner_lr, loss_fn, first_order)
    per_task = _task_losses(phi, zq, batch.y_query, loss_fn)
    return per_task.mean() if reduce else per_task


def anil_meta_gradient(model: Conv4, params: Mapping[str, torch.Tensor], batch: TaskBatch,
                       inner_steps: int, inner_lr: float, loss_fn: LossFn = cross_entropy_loss,
                       first_order: bool = False) -> tuple[torch.Tensor, Params]:
    """``(loss, grads)`` of :func:`anil_loss` w.r.t. every parameter (detached), the
    ``meta_grad_fn`` protocol of :func:`course_pkg.algorithms.training.meta_train`."""
    theta = {k: v.detach().requires_grad_(True) for k, v in params.items()}
    with torch.enable_grad():
        loss = anil_loss(model, theta, batch, inner_steps, inner_lr, loss_fn, first_order)
        grads = torch.autograd.grad(loss, list(theta.values()), allow_unused=True)
    return loss.detach(), {k: (g if g is not None else torch.zeros_like(v))
                           for (k, v), g in zip(theta.items(), grads)}


def anil_accuracy(model: Conv4, params: Mapping[str, torch.Tensor], batch: TaskBatch,
                  test_steps: int, inner_lr: float, chunk: int = 50) -> torch.Tensor:
    """Query accuracy ``(T,)`` (CPU) after ``test_steps`` head-only steps per task."""
    out = []
    body, head = split_head({k: v.detach() for k, v in params.items()})
    for lo in range(0, batch.num_tasks, chunk):
        b = TaskBatch(*(t[lo:lo + chunk] for t in batch))
        with torch.no_grad():
            zs = episode_features(model, body, b.x_support)
            zq = episode_features(model, body, b.x_query)
        phi = adapt_head(head, zs, b.y_support, test_steps, inner_lr)
        with torch.no_grad():
            pred = head_logits(phi, zq).argmax(-1)
        out.append((pred == b.y_query).float().mean(-1).cpu())
    return torch.cat(out)

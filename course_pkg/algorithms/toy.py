"""Closed forms and loss surfaces of the two-parameter toy problems.

The toy models (:class:`~course_pkg.models.LinearToy`, :class:`~course_pkg.models.CurveToy`)
live with the other models, the toy task families (:class:`~course_pkg.tasks.QuadraticTasks`,
:class:`~course_pkg.tasks.CurveTasks`, :func:`~course_pkg.tasks.landscape_tasks`) with the
other tasks.

Closed forms for :class:`LinearToy` (leading task dims broadcast)
    :func:`quadratic_hessian`, :func:`quadratic_gradient`, :func:`proximal_solution`
    (the minimiser of ``L(φ) + λ/2 ‖φ − θ‖²``, ``λ = imaml_lambda``) and
    :func:`proximal_meta_objective` (the iMAML objective, differentiable in ``θ``).

Drawing
    :func:`param_grid`, :func:`loss_surface` (mean query loss after ``k`` inner steps on a grid).
"""

from __future__ import annotations

import torch
from torch import nn

from course_pkg.algorithms.core import LossFn, inner_adapt, loss_at, mse_loss
from course_pkg.tasks import TaskBatch
from course_pkg.utils import get_device

__all__ = [
    "loss_surface",
    "param_grid",
    "proximal_meta_objective",
    "proximal_solution",
    "quadratic_gradient",
    "quadratic_hessian",
]


# --------------------------------------------------------------------------- closed forms


def quadratic_hessian(x: torch.Tensor) -> torch.Tensor:
    """Hessian ``2 XᵀX / K`` of the MSE of :class:`LinearToy` on inputs ``x (…, K, 2)``."""
    return 2.0 * x.transpose(-1, -2) @ x / x.shape[-2]


def quadratic_gradient(theta: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Gradient ``2 Xᵀ(Xθ − y) / K`` of the LinearToy MSE; ``theta (…, 2)`` → ``(…, 2)``."""
    resid = (x @ theta.unsqueeze(-1)) - y  # (…, K, 1)
    return (2.0 * x.transpose(-1, -2) @ resid / x.shape[-2]).squeeze(-1)


def proximal_solution(
    theta: torch.Tensor, x: torch.Tensor, y: torch.Tensor, imaml_lambda: float
) -> torch.Tensor:
    """Exact ``argmin_φ L(φ) + λ/2 ‖φ − θ‖²`` for :class:`LinearToy` on ``x (…, K, 2)``.

    ``φ* = (H + λ I)⁻¹ (2 Xᵀy / K + λ θ)``; differentiable in ``theta (…, 2)`` or ``(2,)``.
    """
    if imaml_lambda <= 0:
        raise ValueError(f"imaml_lambda must be > 0, got {imaml_lambda}")
    H = quadratic_hessian(x)
    rhs = (2.0 * x.transpose(-1, -2) @ y / x.shape[-2]).squeeze(-1) + imaml_lambda * theta
    eye = torch.eye(2, dtype=x.dtype, device=x.device)
    return torch.linalg.solve(H + imaml_lambda * eye, rhs.unsqueeze(-1)).squeeze(-1)


def proximal_meta_objective(
    theta: torch.Tensor, batch: TaskBatch, imaml_lambda: float
) -> torch.Tensor:
    """iMAML's objective ``mean_i L_query,i(φ*_i(θ))`` in closed form for :class:`LinearToy`.

    ``theta (2,)``; differentiate it with autograd for the exact meta-gradient.
    """
    phi = proximal_solution(theta, batch.x_support, batch.y_support, imaml_lambda)  # (T, 2)
    pred = batch.x_query @ phi.unsqueeze(-1)  # (T, Q, 1)
    return ((pred - batch.y_query) ** 2).mean()


# --------------------------------------------------------------------------- drawing


def param_grid(
    xlim: tuple[float, float] = (-2.0, 2.0),
    ylim: tuple[float, float] = (-2.0, 2.0),
    n: int = 60,
    device: str | torch.device | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A ``n × n`` grid: ``(A, B, thetas)`` with ``A, B (n, n)`` and ``thetas (n·n, 2)``."""
    dev = get_device(device)
    a = torch.linspace(*xlim, n, device=dev)
    b = torch.linspace(*ylim, n, device=dev)
    A, B = torch.meshgrid(a, b, indexing="xy")
    return A, B, torch.stack([A.reshape(-1), B.reshape(-1)], -1)


def loss_surface(
    model: nn.Module,
    batch: TaskBatch,
    thetas: torch.Tensor,
    inner_steps: int = 0,
    inner_lr: float = 0.1,
    loss_fn: LossFn = mse_loss,
) -> torch.Tensor:
    """Mean query loss over tasks after ``inner_steps`` SGD steps on the support set.

    ``thetas (G, 2)`` are starting points (e.g. from :func:`param_grid`); returns ``(G,)``.
    ``inner_steps=0`` gives the plain multi-task loss; ``> 0`` the MAML meta-objective.
    """
    if thetas.dim() != 2 or thetas.shape[-1] != 2:
        raise ValueError(f"thetas must have shape (G, 2); got {tuple(thetas.shape)}")

    def one(theta: torch.Tensor, xs, ys, xq, yq) -> torch.Tensor:
        phi = inner_adapt(model, {"theta": theta}, xs, ys, inner_steps, inner_lr, loss_fn)
        return loss_at(model, phi, xq, yq, loss_fn)

    per_task = torch.vmap(one, in_dims=(None, 0, 0, 0, 0))
    with torch.no_grad():
        out = torch.vmap(per_task, in_dims=(0, None, None, None, None))(thetas, *batch)
    return out.mean(-1)

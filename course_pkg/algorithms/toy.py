"""Two-parameter toy problems: loss landscapes you can draw, and quadratics with closed forms.

Every toy model has exactly one parameter, ``theta`` of shape ``(2,)``, so a parameter dict is
``{"theta": tensor([a, b])}`` and any meta-learning algorithm of :mod:`course_pkg.algorithms`
runs on it unchanged (tasks are ordinary :class:`~course_pkg.tasks.TaskBatch` objects and the
loss is :func:`~course_pkg.algorithms.core.mse_loss`).

Models
    :class:`LinearToy`  ``f(x) = x · θ`` with ``x (…, 2)``: the MSE loss is an exact quadratic
    in ``θ`` with Hessian ``2 XᵀX / K`` (closed forms below).
    :class:`CurveToy`   ``f(x) = tanh(a x + b)`` with ``θ = (a, b)``, ``x (…, 1)``: the
    non-linear curve-fitting toy of the interactive MAML article, with curved valleys.

Task families (``.sample(T, K, Q, generator=seed)`` → ``TaskBatch``)
    :class:`QuadraticTasks`  linear-regression tasks ``y = x · w_i`` with anisotropic,
    randomly rotated inputs, so every task has its own curvature.
    :class:`CurveTasks`      ``y = tanh(a_i x + b_i)``.
    :func:`landscape_tasks`  the fixed tasks the comparison chapter draws (stable across calls).

Closed forms for :class:`LinearToy` (leading task dims broadcast)
    :func:`quadratic_hessian`, :func:`quadratic_gradient`, :func:`proximal_solution`
    (the minimiser of ``L(φ) + λ/2 ‖φ − θ‖²``) and :func:`proximal_meta_objective`
    (the iMAML objective, differentiable in ``θ``).

Drawing
    :func:`param_grid`, :func:`loss_surface` (mean query loss after ``k`` inner steps on a grid).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from course_pkg.algorithms.core import inner_adapt, loss_at, mse_loss
from course_pkg.tasks import TaskBatch
from course_pkg.utils import get_device

__all__ = [
    "CurveTasks",
    "CurveToy",
    "LinearToy",
    "QuadraticTasks",
    "landscape_tasks",
    "loss_surface",
    "param_grid",
    "proximal_meta_objective",
    "proximal_solution",
    "quadratic_gradient",
    "quadratic_hessian",
]


def _generator(g: torch.Generator | int | None) -> torch.Generator:
    if isinstance(g, torch.Generator):
        return g
    gen = torch.Generator()
    if g is None:
        gen.seed()
    else:
        gen.manual_seed(int(g))
    return gen


class LinearToy(nn.Module):
    """``f(x) = x · θ``: inputs ``(…, 2)`` → outputs ``(…, 1)``; parameter ``theta (2,)``."""

    def __init__(self, theta0: Sequence[float] = (0.0, 0.0)) -> None:
        super().__init__()
        self.theta = nn.Parameter(torch.as_tensor(theta0, dtype=torch.float32).clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] != 2:
            raise ValueError(f"LinearToy expects inputs (..., 2); got {tuple(x.shape)}")
        return (x * self.theta).sum(-1, keepdim=True)


class CurveToy(nn.Module):
    """``f(x) = tanh(a x + b)`` with ``theta = (a, b)``: inputs ``(…, 1)`` → ``(…, 1)``."""

    def __init__(self, theta0: Sequence[float] = (0.0, 0.0)) -> None:
        super().__init__()
        self.theta = nn.Parameter(torch.as_tensor(theta0, dtype=torch.float32).clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] != 1:
            raise ValueError(f"CurveToy expects inputs (..., 1); got {tuple(x.shape)}")
        a, b = self.theta.unbind(-1)  # (indexing with [0] breaks forward-over-reverse HVPs)
        return torch.tanh(a * x + b)


class QuadraticTasks:
    """Linear-regression tasks ``y = x · w_i`` (noise-free) whose loss is quadratic in ``θ``.

    Task ``i`` draws a solution ``w_i ~ N(w_mean, w_std² I)``, input scales ``s_i`` log-uniform in
    ``scale_range`` and a rotation angle ``ρ_i ~ U[0, π)``; inputs are ``x = R(ρ_i) diag(s_i) z``
    with ``z ~ N(0, I)``. The support loss ``‖Xθ − y‖²/K`` is then ``(θ − w_i)ᵀ H_i (θ − w_i)/2``
    with ``H_i = 2 XᵀX / K`` (see :func:`quadratic_hessian`), elongated and rotated per task.
    ``info`` holds ``w (T, 2)``, ``scale (T, 2)`` and ``angle (T,)``.
    """

    def __init__(
        self,
        w_mean: Sequence[float] = (1.0, 0.5),
        w_std: float = 1.0,
        scale_range: tuple[float, float] = (0.3, 1.5),
    ) -> None:
        if not (0 < scale_range[0] <= scale_range[1]):
            raise ValueError(f"scale_range must satisfy 0 < lo ≤ hi, got {scale_range}")
        self.w_mean = torch.as_tensor(w_mean, dtype=torch.float32)
        self.w_std = float(w_std)
        self.scale_range = scale_range

    def sample(
        self,
        num_tasks: int,
        k_support: int,
        k_query: int,
        generator: torch.Generator | int | None = None,
        device: str | torch.device | None = None,
        w: torch.Tensor | None = None,
    ) -> TaskBatch:
        """Sample ``num_tasks`` tasks; ``w (T, 2)`` fixes their solutions instead of sampling."""
        if num_tasks < 1 or k_support < 1 or k_query < 0:
            raise ValueError("num_tasks and k_support must be ≥ 1 and k_query ≥ 0")
        g = _generator(generator)
        T, n = num_tasks, k_support + k_query
        ws = self.w_mean + self.w_std * torch.randn((T, 2), generator=g)
        if w is not None:
            ws = torch.as_tensor(w, dtype=torch.float32).reshape(T, 2).clone()
        lo, hi = math.log(self.scale_range[0]), math.log(self.scale_range[1])
        scale = torch.exp(lo + (hi - lo) * torch.rand((T, 2), generator=g))
        angle = math.pi * torch.rand((T,), generator=g)
        c, s = torch.cos(angle), torch.sin(angle)
        rot = torch.stack([torch.stack([c, -s], -1), torch.stack([s, c], -1)], -2)  # (T, 2, 2)
        z = torch.randn((T, n, 2), generator=g) * scale[:, None, :]
        x = z @ rot.transpose(1, 2)
        y = (x * ws[:, None, :]).sum(-1, keepdim=True)
        dev = get_device(device)
        return TaskBatch(
            x[:, :k_support].to(dev), y[:, :k_support].to(dev),
            x[:, k_support:].to(dev), y[:, k_support:].to(dev),
            {"w": ws.to(dev), "scale": scale.to(dev), "angle": angle.to(dev)},
        )


class CurveTasks:
    """Curve-fitting tasks ``y = tanh(a_i x + b_i)`` for :class:`CurveToy`.

    ``a ~ U[a_range]``, ``b ~ U[b_range]``, ``x ~ U[x_range]``; ``info = {"theta": (T, 2)}``
    holds each task's optimum ``(a_i, b_i)``.
    """

    def __init__(
        self,
        a_range: tuple[float, float] = (-1.5, 1.5),
        b_range: tuple[float, float] = (-1.0, 1.0),
        x_range: tuple[float, float] = (-3.0, 3.0),
    ) -> None:
        self.a_range, self.b_range, self.x_range = a_range, b_range, x_range

    def sample(
        self,
        num_tasks: int,
        k_support: int,
        k_query: int,
        generator: torch.Generator | int | None = None,
        device: str | torch.device | None = None,
        theta: torch.Tensor | Sequence[Sequence[float]] | None = None,
    ) -> TaskBatch:
        """``num_tasks`` tasks; ``theta (T, 2)`` fixes the tasks' ``(a, b)`` instead of sampling."""
        if num_tasks < 1 or k_support < 1 or k_query < 0:
            raise ValueError("num_tasks and k_support must be ≥ 1 and k_query ≥ 0")
        g = _generator(generator)
        T, n = num_tasks, k_support + k_query

        def uniform(shape: tuple[int, ...], lo: float, hi: float) -> torch.Tensor:
            return lo + (hi - lo) * torch.rand(shape, generator=g)

        ab = torch.stack([uniform((T,), *self.a_range), uniform((T,), *self.b_range)], -1)
        if theta is not None:
            ab = torch.as_tensor(theta, dtype=torch.float32).reshape(T, 2).clone()
        x = uniform((T, n, 1), *self.x_range)
        y = torch.tanh(ab[:, 0, None, None] * x + ab[:, 1, None, None])
        dev = get_device(device)
        return TaskBatch(
            x[:, :k_support].to(dev), y[:, :k_support].to(dev),
            x[:, k_support:].to(dev), y[:, k_support:].to(dev),
            {"theta": ab.to(dev)},
        )


#: The optima ``(a, b)`` of the fixed curve tasks drawn in the comparison chapter.
LANDSCAPE_TASKS: tuple[tuple[float, float], ...] = ((1.2, 0.6), (0.4, -0.9), (-0.6, 0.3))


def landscape_tasks(
    kind: str = "curve",
    k_support: int = 10,
    k_query: int = 10,
    seed: int = 0,
    device: str | torch.device | None = None,
) -> tuple[nn.Module, TaskBatch]:
    """The fixed 2-D toy problem drawn in chapters 9–11: ``(model, batch)``.

    ``kind="curve"``: three :class:`CurveTasks` with optima :data:`LANDSCAPE_TASKS` and a
    :class:`CurveToy` model; ``kind="quadratic"``: three :class:`QuadraticTasks` and a
    :class:`LinearToy`. The same arguments always return the same tasks.
    """
    dev = get_device(device)
    if kind == "curve":
        batch = CurveTasks().sample(len(LANDSCAPE_TASKS), k_support, k_query, generator=seed,
                                    device=dev, theta=LANDSCAPE_TASKS)
        return CurveToy().to(dev), batch
    if kind == "quadratic":
        batch = QuadraticTasks().sample(3, k_support, k_query, generator=seed, device=dev)
        return LinearToy().to(dev), batch
    raise ValueError(f"kind must be 'curve' or 'quadratic', got {kind!r}")


# --------------------------------------------------------------------------- closed forms


def quadratic_hessian(x: torch.Tensor) -> torch.Tensor:
    """Hessian ``2 XᵀX / K`` of the MSE of :class:`LinearToy` on inputs ``x (…, K, 2)``."""
    return 2.0 * x.transpose(-1, -2) @ x / x.shape[-2]


def quadratic_gradient(theta: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Gradient ``2 Xᵀ(Xθ − y) / K`` of the LinearToy MSE; ``theta (…, 2)`` → ``(…, 2)``."""
    resid = (x @ theta.unsqueeze(-1)) - y  # (…, K, 1)
    return (2.0 * x.transpose(-1, -2) @ resid / x.shape[-2]).squeeze(-1)


def proximal_solution(
    theta: torch.Tensor, x: torch.Tensor, y: torch.Tensor, lam: float
) -> torch.Tensor:
    """Exact ``argmin_φ L(φ) + λ/2 ‖φ − θ‖²`` for :class:`LinearToy` on ``x (…, K, 2)``.

    ``φ* = (H + λ I)⁻¹ (2 Xᵀy / K + λ θ)``; differentiable in ``theta (…, 2)`` or ``(2,)``.
    """
    if lam <= 0:
        raise ValueError(f"lam must be > 0, got {lam}")
    H = quadratic_hessian(x)
    rhs = (2.0 * x.transpose(-1, -2) @ y / x.shape[-2]).squeeze(-1) + lam * theta
    eye = torch.eye(2, dtype=x.dtype, device=x.device)
    return torch.linalg.solve(H + lam * eye, rhs.unsqueeze(-1)).squeeze(-1)


def proximal_meta_objective(theta: torch.Tensor, batch: TaskBatch, lam: float) -> torch.Tensor:
    """iMAML's objective ``mean_i L_query,i(φ*_i(θ))`` in closed form for :class:`LinearToy`.

    ``theta (2,)``; differentiate it with autograd for the exact meta-gradient.
    """
    phi = proximal_solution(theta, batch.x_support, batch.y_support, lam)  # (T, 2)
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
    loss_fn=mse_loss,
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

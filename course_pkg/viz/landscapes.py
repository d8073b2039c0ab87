"""Chapter 6's figures: the accumulated meta-loss landscape and two-task adaptation.

The toy problem of the interactive MAML article: two curve-fitting tasks
``g_τ(x) = softplus(a_τ x + b_τ)`` with ``(a, b) = (0.3, 0.05)`` and ``(0.83, 0.75)``, ten points
``x ∈ [−3, 3]`` (the same points are support and query set), and a model with the same form whose
parameters are ``θ = (a, b)``. ``U⁽ᵐ⁾_τ(θ)`` is ``m`` steps of gradient descent on task ``τ``
(:func:`course_pkg.algorithms.core.inner_adapt`); the landscapes come from
:func:`course_pkg.algorithms.toy.loss_surface`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F

from course_pkg.algorithms.core import inner_adapt, loss_at
from course_pkg.algorithms.toy import loss_surface, param_grid
from course_pkg.models import CurveToy
from course_pkg.tasks import TaskBatch
from course_pkg.viz._base import FigureLogic, FigureOutput, encode, make_figure, to_list

#: ``(a, b)`` of the two tasks of the interactive MAML article.
SOFTPLUS_TASKS: tuple[tuple[float, float], ...] = ((0.3, 0.05), (0.83, 0.75))
#: θ-grid drawn by the landscape figures: ``a`` and ``b`` ranges and points per axis.
GRID = {"a": (-1.5, 2.0, 51), "b": (-1.5, 2.0, 51)}


class SoftplusToy(CurveToy):
    """``f(x) = softplus(a x + b)`` with ``theta = (a, b)``: inputs ``(…, 1)`` → ``(…, 1)``.

    The :class:`~course_pkg.models.CurveToy` model with softplus in place of tanh.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] != 1:
            raise ValueError(f"SoftplusToy expects inputs (..., 1); got {tuple(x.shape)}")
        return F.softplus(self.theta[0] * x + self.theta[1])


def softplus_tasks(
    tasks: Sequence[Sequence[float]] = SOFTPLUS_TASKS, n_points: int = 10,
    x_range: tuple[float, float] = (-3.0, 3.0),
) -> tuple[SoftplusToy, TaskBatch]:
    """``(model, batch)``: the article's tasks, ``x (T, n, 1)`` evenly spaced, support = query."""
    ab = torch.as_tensor(tasks, dtype=torch.float32).reshape(-1, 2)
    x = torch.linspace(*x_range, n_points).reshape(1, n_points, 1).repeat(len(ab), 1, 1)
    y = F.softplus(ab[:, 0, None, None] * x + ab[:, 1, None, None])
    return SoftplusToy(), TaskBatch(x, y, x.clone(), y.clone(), {"theta": ab})


def grid_thetas(grid: dict[str, tuple[float, float, int]] = GRID) -> torch.Tensor:
    """Grid points ``(nb·na, 2)``, ``a`` fastest (row ``j`` of the image is ``b_j``)."""
    (alo, ahi, na), (blo, bhi, nb) = grid["a"], grid["b"]
    if na != nb:
        raise ValueError("the landscape grid must be square")
    return param_grid((alo, ahi), (blo, bhi), na, device="cpu")[2]


def accumulated_landscapes(
    max_steps: int, inner_lr: float = 0.1, grid: dict[str, tuple[float, float, int]] = GRID,
) -> torch.Tensor:
    """``Σ_τ L_τ(U⁽ᵐ⁾_τ(θ))`` for every ``m = 0…max_steps`` on the grid: ``(M+1, nb, na)``.

    One pass of :func:`~course_pkg.algorithms.core.inner_adapt` with ``return_trajectory``,
    vmapped over grid points and tasks (the same numbers as
    :func:`~course_pkg.algorithms.toy.loss_surface` times ``T``, for all ``m`` at once).
    """
    model, batch = softplus_tasks()
    th = grid_thetas(grid)

    def per_task(theta, xs, ys, xq, yq):
        traj = inner_adapt(model, {"theta": theta}, xs, ys, int(max_steps), inner_lr,
                           return_trajectory=True)
        return torch.stack([loss_at(model, phi, xq, yq) for phi in traj])  # (M+1,)

    per_grid = torch.vmap(per_task, in_dims=(None, 0, 0, 0, 0))
    with torch.no_grad():
        losses = torch.vmap(per_grid, in_dims=(0, None, None, None, None))(th, *batch)
    n = grid["a"][2]
    return losses.sum(1).T.reshape(max_steps + 1, n, n)  # sum over tasks, as in the article


def accumulated_landscape(
    m: int, inner_lr: float = 0.1, grid: dict[str, tuple[float, float, int]] = GRID,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``Σ_τ L_τ(U⁽ᵐ⁾_τ(θ))`` for one ``m``: ``(values (nb, na), grid argmin θ (2,))``."""
    model, batch = softplus_tasks()
    th = grid_thetas(grid)
    total = loss_surface(model, batch, th, inner_steps=int(m), inner_lr=inner_lr)
    total = total * batch.num_tasks  # loss_surface averages over tasks; the article sums
    n = grid["a"][2]
    return total.reshape(n, n), th[total.argmin()]


def task_landscapes(grid: dict[str, tuple[float, float, int]] = GRID) -> torch.Tensor:
    """Each task's own loss ``L_τ(θ)`` over the grid: ``(T, nb, na)``."""
    model, batch = softplus_tasks()
    th = grid_thetas(grid)
    n = grid["a"][2]
    out = [loss_surface(model, batch.task(i), th, 0).reshape(n, n)
           for i in range(batch.num_tasks)]
    return torch.stack(out)


def one_step(theta: Sequence[float], inner_lr: float) -> dict[str, Any]:
    """One gradient step on each task from ``θ``: ``φ_τ = θ − α ∇L_τ(θ)`` and the losses."""
    model, batch = softplus_tasks()
    th = {"theta": torch.as_tensor(theta, dtype=torch.float32)}
    phis, before, after = [], [], []
    for i in range(batch.num_tasks):
        xs, ys = batch.x_support[i], batch.y_support[i]
        phi = inner_adapt(model, th, xs, ys, 1, inner_lr)
        phis.append(phi["theta"].detach())
        before.append(float(loss_at(model, th, xs, ys)))
        after.append(float(loss_at(model, phi, batch.x_query[i], batch.y_query[i])))
    return {"phi": torch.stack(phis), "loss_theta": before, "loss_phi": after}


def _spec_common(title: str) -> dict[str, Any]:
    model, batch = softplus_tasks()
    return {
        "title": title,
        "grid": {k: list(v) for k, v in GRID.items()},
        "tasks": [list(t) for t in SOFTPLUS_TASKS],
        "x": to_list(batch.x_support[0, :, 0]),
        "task_landscapes": [encode(v, "u16", log=True) for v in task_landscapes()],
    }


class MetaLossLandscape(FigureLogic):
    """Figure 2: accumulated meta-loss landscape over ``m = 0…max_steps`` fine-tuning steps."""

    kind = "landscape"

    def __init__(self, inner_lr: float = 0.1, max_steps: int = 20) -> None:
        super().__init__()
        if not (inner_lr > 0 and max_steps >= 1):
            raise ValueError("inner_lr must be > 0 and max_steps ≥ 1")
        self.inner_lr, self.max_steps = float(inner_lr), int(max_steps)
        self.ranges = {"m": (0, self.max_steps)}
        self.spec = {**_spec_common("Accumulated meta-loss: the sum over both tasks of L(U⁽ᵐ⁾(θ))"),
                     "inner_lr": self.inner_lr, "max_steps": self.max_steps}
        self.controls = {"m": 0}
        self._cache: dict[int, dict[str, Any]] = {}

    def compute(self, controls: dict[str, Any]) -> dict[str, Any]:
        m = int(controls["m"])
        if not self._cache:  # all m at once: one inner-loop trajectory per grid point
            th = grid_thetas()
            for k, values in enumerate(accumulated_landscapes(self.max_steps, self.inner_lr)):
                self._cache[k] = {"m": k, "total": encode(values, "u16", log=True),
                                  "argmin": to_list(th[values.argmin()]),
                                  "min": float(values.min())}
        return self._cache[m]

    def payload(self) -> dict[str, Any]:
        # Precomputed over the whole slider range: the browser only looks the grid up.
        return {"by_m": [self.compute({"m": m}) for m in range(self.max_steps + 1)]}


class TwoTaskAdaptation(FigureLogic):
    """Figure 3: drag θ on the two task landscapes; arrows to ``φ_τ = θ − α∇L_τ(θ)``."""

    kind = "adaptation"
    ranges = {"inner_lr": (0.0, 2.0)}

    def __init__(self, theta: Sequence[float] = (1.2, -0.6), inner_lr: float = 0.5) -> None:
        super().__init__()
        self.spec = _spec_common("One gradient step on each task: θ → φ₁ and θ → φ₂")
        model, batch = softplus_tasks()
        self.spec["y"] = [to_list(batch.y_support[i, :, 0]) for i in range(batch.num_tasks)]
        self.controls = {"theta": [float(v) for v in theta], "inner_lr": float(inner_lr)}

    def validate(self, controls: dict[str, Any]) -> dict[str, Any]:
        merged = super().validate(controls)
        th = merged["theta"]
        if not (isinstance(th, list | tuple) and len(th) == 2):
            raise ValueError(f"adaptation: theta must be [a, b], got {th!r}")
        (alo, ahi, _), (blo, bhi, _) = GRID["a"], GRID["b"]
        merged["theta"] = [min(max(float(th[0]), alo), ahi), min(max(float(th[1]), blo), bhi)]
        return merged

    def compute(self, controls: dict[str, Any]) -> dict[str, Any]:
        r = one_step(controls["theta"], float(controls["inner_lr"]))
        return {"theta": list(controls["theta"]), "phi": to_list(r["phi"]),
                "loss_theta": to_list(r["loss_theta"]), "loss_phi": to_list(r["loss_phi"])}


def meta_loss_landscape(m: int = 0, inner_lr: float = 0.1, max_steps: int = 20,
                        mode: str | None = None) -> FigureOutput:
    """Figure: ``Σ_τ L_τ(U⁽ᵐ⁾_τ(θ))`` with a slider for ``m``, beside each task's own landscape.

    Returns a live ``VizWidget`` (JupyterLab) or, when ``$COURSE_STATIC_FIGURES=1`` or
    ``mode="static"``, a kernel-free ``StaticFigure`` (all ``m`` precomputed).
    """
    return make_figure(MetaLossLandscape(inner_lr, max_steps), mode, m=m)


def two_task_adaptation(theta: Sequence[float] = (1.2, -0.6), inner_lr: float = 0.5,
                        mode: str | None = None) -> FigureOutput:
    """Figure: pick/drag θ on both task landscapes; arrows θ → φ_τ = θ − α∇L_τ(θ) per task.

    The browser of the static book computes the step itself (softplus regression gradient);
    the tests check it against :func:`one_step`.
    """
    return make_figure(TwoTaskAdaptation(theta, inner_lr), mode)

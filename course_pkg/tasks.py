"""Task distributions and the :class:`TaskBatch` type every task family returns.

A task batch holds ``T`` tasks at once, each with ``K`` support and ``Q`` query examples:

- ``x_support``: ``(T, K, *in_shape)``,  ``y_support``: ``(T, K, *out_shape)``
- ``x_query``:   ``(T, Q, *in_shape)``,  ``y_query``:   ``(T, Q, *out_shape)``

The leading task dimension is what ``torch.vmap`` maps over in ``course_pkg.algorithms``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from course_pkg.models import CurveToy, LinearToy
from course_pkg.utils import as_generator, get_device


@dataclass
class TaskBatch:
    """A batch of ``T`` tasks with support and query sets (shapes in the module docstring)."""

    x_support: torch.Tensor
    y_support: torch.Tensor
    x_query: torch.Tensor
    y_query: torch.Tensor
    info: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise ``ValueError`` naming the offending tensor when shapes do not line up."""
        names = ("x_support", "y_support", "x_query", "y_query")
        tensors = [getattr(self, n) for n in names]
        for n, t in zip(names, tensors):
            if not isinstance(t, torch.Tensor):
                raise TypeError(f"TaskBatch.{n} must be a torch.Tensor, got {type(t).__name__}")
            if t.dim() < 2:
                raise ValueError(
                    f"TaskBatch.{n} has shape {tuple(t.shape)}; expected (tasks, examples, ...). "
                    "For a single task add a leading dimension with .unsqueeze(0)."
                )
        xs, ys, xq, yq = tensors
        if len({t.shape[0] for t in tensors}) != 1:
            raise ValueError(
                "TaskBatch tensors disagree on the number of tasks: "
                + ", ".join(f"{n}={tuple(t.shape)}" for n, t in zip(names, tensors))
            )
        if xs.shape[1] != ys.shape[1]:
            raise ValueError(
                f"support set: x_support has {xs.shape[1]} examples per task but y_support has "
                f"{ys.shape[1]} (shapes {tuple(xs.shape)} and {tuple(ys.shape)})"
            )
        if xq.shape[1] != yq.shape[1]:
            raise ValueError(
                f"query set: x_query has {xq.shape[1]} examples per task but y_query has "
                f"{yq.shape[1]} (shapes {tuple(xq.shape)} and {tuple(yq.shape)})"
            )
        if xs.shape[2:] != xq.shape[2:]:
            raise ValueError(
                f"support inputs {tuple(xs.shape[2:])} and query inputs {tuple(xq.shape[2:])} "
                "have different per-example shapes"
            )
        if len({t.device for t in tensors}) != 1:
            raise ValueError(
                "TaskBatch tensors live on different devices: "
                + ", ".join(f"{n} on {t.device}" for n, t in zip(names, tensors))
            )

    @property
    def num_tasks(self) -> int:
        return self.x_support.shape[0]

    @property
    def device(self) -> torch.device:
        return self.x_support.device

    def to(self, device: str | torch.device) -> TaskBatch:
        """Return a copy on ``device``."""
        return TaskBatch(
            self.x_support.to(device),
            self.y_support.to(device),
            self.x_query.to(device),
            self.y_query.to(device),
            dict(self.info),
        )

    def task(self, i: int) -> TaskBatch:
        """Return task ``i`` as a batch of one task (leading dimension kept)."""
        sl = slice(i, i + 1)
        info = {k: (v[sl] if isinstance(v, torch.Tensor) and v.dim() > 0 else v)
                for k, v in self.info.items()}
        return TaskBatch(self.x_support[sl], self.y_support[sl], self.x_query[sl],
                         self.y_query[sl], info)

    def __iter__(self):
        """Unpack as ``xs, ys, xq, yq``."""
        return iter((self.x_support, self.y_support, self.x_query, self.y_query))


class SinusoidTasks:
    """The sinusoid regression family of Finn et al. (2017).

    A task is ``y = A sin(x - b)`` with amplitude ``A ~ U[amp_range]``, phase
    ``b ~ U[phase_range]`` and inputs ``x ~ U[x_range]``. Inputs and targets have shape ``(…, 1)``.
    """

    def __init__(
        self,
        amp_range: tuple[float, float] = (0.1, 5.0),
        phase_range: tuple[float, float] = (0.0, math.pi),
        x_range: tuple[float, float] = (-5.0, 5.0),
    ) -> None:
        self.amp_range = amp_range
        self.phase_range = phase_range
        self.x_range = x_range

    @staticmethod
    def function(x: torch.Tensor, amplitude: torch.Tensor, phase: torch.Tensor) -> torch.Tensor:
        """``A sin(x - b)``; ``amplitude`` and ``phase`` broadcast against ``x``."""
        return amplitude * torch.sin(x - phase)

    def sample(
        self,
        num_tasks: int,
        k_support: int,
        k_query: int,
        generator: torch.Generator | int | None = None,
        device: str | torch.device | None = None,
        amplitude: torch.Tensor | float | None = None,
        phase: torch.Tensor | float | None = None,
    ) -> TaskBatch:
        """Sample ``num_tasks`` tasks with ``k_support`` support and ``k_query`` query points.

        ``generator`` may be a seed; sampling happens on the CPU so a seed gives the same tasks
        on every device, then the batch moves to ``device`` (default: :func:`get_device`).
        ``amplitude``/``phase`` fix the task parameters instead of sampling them.
        Returns a :class:`TaskBatch` with ``info = {"amplitude": (T,), "phase": (T,)}``.
        """
        if num_tasks < 1 or k_support < 0 or k_query < 0:
            raise ValueError("num_tasks must be ≥ 1 and k_support, k_query ≥ 0")
        g = as_generator(generator)
        dev = get_device(device)

        def uniform(shape: tuple[int, ...], lo: float, hi: float) -> torch.Tensor:
            return lo + (hi - lo) * torch.rand(shape, generator=g)

        amp = uniform((num_tasks,), *self.amp_range)
        ph = uniform((num_tasks,), *self.phase_range)
        if amplitude is not None:
            amp = torch.as_tensor(amplitude, dtype=torch.float32).expand(num_tasks).clone()
        if phase is not None:
            ph = torch.as_tensor(phase, dtype=torch.float32).expand(num_tasks).clone()
        x = uniform((num_tasks, k_support + k_query, 1), *self.x_range)
        y = self.function(x, amp[:, None, None], ph[:, None, None])
        return TaskBatch(
            x[:, :k_support].to(dev),
            y[:, :k_support].to(dev),
            x[:, k_support:].to(dev),
            y[:, k_support:].to(dev),
            {"amplitude": amp.to(dev), "phase": ph.to(dev)},
        )


# --------------------------------------------------------------------------- toy task families
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
        g = as_generator(generator)
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
        g = as_generator(generator)
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

"""Task distributions and the :class:`TaskBatch` type every task family returns.

A task batch holds ``T`` tasks at once, each with ``K`` support and ``Q`` query examples:

- ``x_support``: ``(T, K, *in_shape)``,  ``y_support``: ``(T, K, *out_shape)``
- ``x_query``:   ``(T, Q, *in_shape)``,  ``y_query``:   ``(T, Q, *out_shape)``

The leading task dimension is what ``torch.vmap`` maps over in ``course_pkg.algorithms``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import torch

from course_pkg.utils import get_device


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
        g = generator
        if g is None or isinstance(g, int):
            seed = g
            g = torch.Generator()
            if seed is None:
                g.seed()
            else:
                g.manual_seed(seed)
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

"""Multi-task learning with hard parameter sharing (chapter 2), against the two extremes.

:class:`HardSharingNet` (one trunk, one linear head per task), :class:`SeparateNets` (no sharing)
and :class:`OneNet` (one network for every task) all map ``x (M, n, in_dim)`` to
``(M, n, out_dim)``; :func:`fit_multitask` minimises the mean over tasks of each task's loss.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn
from torch.func import functional_call

from course_pkg.models import MLP
from course_pkg.utils import check_finite


class HardSharingNet(nn.Module):
    """Multi-task network with hard parameter sharing: one trunk, one linear head per task.

    ``forward(x)`` takes ``x (M, n, in_dim)`` — ``n`` inputs for each of the ``M`` tasks — and
    returns ``(M, n, out_dim)``: ``head_i(trunk(x_i))``. The trunk is an :class:`MLP` with hidden
    layers ``hidden[:-1]`` and a linear output of ``hidden[-1]`` shared features (no ReLU on them,
    so no feature can die); each head is linear on those features.
    """

    def __init__(self, num_tasks: int, in_dim: int = 1, hidden: tuple[int, ...] = (40, 40),
                 out_dim: int = 1) -> None:
        super().__init__()
        self.trunk = MLP(in_dim, hidden[:-1], hidden[-1])
        bound = 1.0 / math.sqrt(hidden[-1])
        self.head_weight = nn.Parameter(
            (torch.rand(num_tasks, hidden[-1], out_dim) * 2 - 1) * bound
        )
        self.head_bias = nn.Parameter((torch.rand(num_tasks, 1, out_dim) * 2 - 1) * bound)
        self.num_tasks = num_tasks

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 3 or x.shape[0] != self.num_tasks:
            raise ValueError(
                f"expected x of shape ({self.num_tasks}, n, in_dim); got {tuple(x.shape)}"
            )
        return torch.bmm(self.trunk(x), self.head_weight) + self.head_bias


class SeparateNets(nn.Module):
    """``M`` independent MLPs (no sharing), stored as stacked parameters and run with ``vmap``;
    same I/O as :class:`HardSharingNet`."""

    def __init__(self, num_tasks: int, in_dim: int = 1, hidden: tuple[int, ...] = (40, 40),
                 out_dim: int = 1) -> None:
        super().__init__()
        nets = [MLP(in_dim, hidden, out_dim) for _ in range(num_tasks)]
        stacked, _ = torch.func.stack_module_state(nets)
        self.stacked = nn.ParameterDict(
            {k.replace(".", "__"): nn.Parameter(v.detach().clone()) for k, v in stacked.items()}
        )
        self._structure = [nets[0].to("meta")]  # a plain list: not registered as a submodule
        self.num_tasks = num_tasks

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 3 or x.shape[0] != self.num_tasks:
            raise ValueError(
                f"expected x of shape ({self.num_tasks}, n, in_dim); got {tuple(x.shape)}"
            )
        p = {k.replace("__", "."): v for k, v in self.stacked.items()}
        net = self._structure[0]
        return torch.vmap(lambda pi, xi: functional_call(net, pi, (xi,)))(p, x)


class OneNet(nn.Module):
    """A single MLP for every task: the vanilla objective ``min_θ Σ_i L_i(θ)`` with no
    task-specific parameters; same I/O as :class:`HardSharingNet`."""

    def __init__(self, num_tasks: int, in_dim: int = 1, hidden: tuple[int, ...] = (40, 40),
                 out_dim: int = 1) -> None:
        super().__init__()
        self.net = MLP(in_dim, hidden, out_dim)
        self.num_tasks = num_tasks

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def fit_multitask(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    iterations: int = 2000,
    lr: float = 3e-3,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
) -> list[float]:
    """Minimise ``Σ_i L_i`` — the mean over tasks of each task's mean loss — with Adam.

    ``x (M, n, in)``, ``y (M, n, out)`` hold every task's training data. Returns the loss curve.
    """
    loss_fn = loss_fn or torch.nn.functional.mse_loss
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    history = []
    for step in range(iterations):
        loss = loss_fn(model(x), y)
        check_finite(loss, step)
        opt.zero_grad()
        loss.backward()
        opt.step()
        history.append(loss.item())
    return history


def per_task_mse(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean squared error of each task, ``(M,)``."""
    with torch.no_grad():
        return ((model(x) - y) ** 2).flatten(1).mean(1)


__all__ = ["HardSharingNet", "OneNet", "SeparateNets", "fit_multitask", "per_task_mse"]

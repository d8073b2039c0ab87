"""Policies: a Gaussian MLP for continuous control (functional params) and a GRU for RL².

The Gaussian policy is used the functional way of the rest of the course: parameters are a dict
(:func:`course_pkg.models.params`), and :func:`gaussian_log_prob` / :func:`policy_mean_std` run
the module on any parameter dict with ``torch.func.functional_call``, so adapted parameters
``φ = θ − α g`` never have to be written back into a module and ``torch.vmap`` can map over tasks
with one parameter set per task.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import torch
from torch import nn
from torch.func import functional_call

from course_pkg.models import MLP

LOG_2PI = math.log(2.0 * math.pi)


class GaussianMLPPolicy(nn.Module):
    """``π_θ(a | s) = N(μ_θ(s), diag σ²)``: ReLU MLP mean, state-independent learned ``log σ``.

    ``forward(obs (..., obs_dim))`` returns ``(mean, std)``, both ``(..., act_dim)``.
    """

    def __init__(
        self,
        obs_dim: int = 2,
        act_dim: int = 2,
        hidden: Sequence[int] = (64, 64),
        init_std: float = 0.1,
    ) -> None:
        super().__init__()
        if init_std <= 0:
            raise ValueError(f"init_std must be positive, got {init_std}")
        self.mean_net = MLP(obs_dim, hidden, act_dim)
        last = self.mean_net.net[-1]
        with torch.no_grad():  # start with near-zero mean actions: the point first stays put
            last.weight.mul_(0.01)
            last.bias.zero_()
        self.log_std = nn.Parameter(torch.full((act_dim,), math.log(init_std)))
        self.obs_dim, self.act_dim = obs_dim, act_dim

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mean = self.mean_net(obs)
        return mean, self.log_std.exp().expand_as(mean)


def policy_mean_std(
    model: nn.Module, params: Mapping[str, torch.Tensor], obs: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(mean, std)`` of ``model`` run with ``params`` on ``obs (..., obs_dim)``."""
    return functional_call(model, dict(params), (obs,))


def gaussian_log_prob(
    model: nn.Module,
    params: Mapping[str, torch.Tensor],
    obs: torch.Tensor,
    actions: torch.Tensor,
) -> torch.Tensor:
    """``log π(a | s)`` summed over action dimensions: ``obs (..., d_s)``, ``actions (..., d_a)``
    → ``(...)``. Actions are the *unclipped* samples (the environment clips them)."""
    mean, std = policy_mean_std(model, params, obs)
    if actions.shape != mean.shape:
        raise ValueError(
            f"actions {tuple(actions.shape)} do not match the policy output {tuple(mean.shape)}"
        )
    z = (actions - mean) / std
    return (-0.5 * z**2 - std.log() - 0.5 * LOG_2PI).sum(-1)


class GRUPolicy(nn.Module):
    """RL² policy for ``n_arms``-armed bandits: a GRU reads the previous pull and its reward.

    Input per pull: ``[one-hot a_{t−1}, r_{t−1} · one-hot a_{t−1}, r_{t−1}, first-pull flag]``
    (the product places the reward on the pulled arm's slot, which makes "stay after a win"
    linear in the input and speeds up training a lot).

    Its hidden state is the only memory, carried across all pulls of one task and reset between
    tasks, so whatever "learning" happens inside a task happens in the activations.
    :meth:`step` maps ``(prev_action (B,), prev_reward (B,), h (B, hidden))`` to
    ``(logits (B, k), value (B,), h')``; ``prev_action = -1`` encodes "no previous pull".
    """

    def __init__(self, n_arms: int = 5, hidden: int = 64) -> None:
        super().__init__()
        self.n_arms, self.hidden = n_arms, hidden
        self.cell = nn.GRUCell(2 * n_arms + 2, hidden)
        self.pi = nn.Linear(hidden, n_arms)
        self.v = nn.Linear(hidden, 1)

    def initial_state(self, batch: int, device: torch.device | str = "cpu") -> torch.Tensor:
        return torch.zeros(batch, self.hidden, device=device)

    def step(
        self, prev_action: torch.Tensor, prev_reward: torch.Tensor, h: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        first = (prev_action < 0).float()[:, None]
        onehot = nn.functional.one_hot(prev_action.clamp(min=0).long(), self.n_arms).float()
        onehot = onehot * (1 - first)
        r = prev_reward[:, None] * (1 - first)
        x = torch.cat([onehot, onehot * r, r, first], dim=-1)
        h = self.cell(x, h)
        return self.pi(h), self.v(h).squeeze(-1), h

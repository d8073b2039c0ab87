"""Task distributions for meta-RL: 2-D point navigation and multi-armed Bernoulli bandits.

Point navigation (Finn et al., 2017, section 5.3): a point starts at the origin of the plane and
moves by its (clipped) action each step; the reward is minus the distance to a goal that is
uniform in ``[-0.5, 0.5]²`` and differs between tasks. Two implementations share the dynamics:

- :class:`PointNavEnv`, a ``gymnasium.Env`` stepping one trajectory (passes gymnasium's checker);
- :class:`VecPointNav`, a torch version stepping ``T`` tasks × ``N`` trajectories at once, which
  is what training uses.

Bernoulli bandits (Duan et al., 2016): a task is a vector of ``k`` success probabilities, each
uniform in ``[0, 1]``; pulling arm ``a`` pays 1 with probability ``p_a``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces

from course_pkg.utils import as_generator

GOAL_LOW, GOAL_HIGH = -0.5, 0.5
MAX_ACTION = 0.1
HORIZON = 100


def sample_goals(
    n: int,
    generator: torch.Generator | int | None = None,
    low: float = GOAL_LOW,
    high: float = GOAL_HIGH,
    device: str | torch.device = "cpu",
) -> torch.Tensor:
    """``n`` navigation tasks: goals ``(n, 2)`` uniform in ``[low, high]²`` (float32).

    Sampling happens on the CPU with ``generator`` (an int is a seed) so that the same seed gives
    the same goals on every device.
    """
    if n < 1:
        raise ValueError(f"need at least one task, got n={n}")
    g = as_generator(generator)
    goals = low + (high - low) * torch.rand(n, 2, generator=g)
    return goals.to(device)


class PointNavEnv(gym.Env):
    """One 2-D navigation task as a gymnasium environment.

    Observation: the position ``(2,)`` (float32), starting at the origin. Action ``(2,)``: a
    displacement, clipped to ``[-max_action, max_action]`` per coordinate. Reward after each step:
    ``-‖position − goal‖``. Episodes never terminate; they are truncated after ``horizon`` steps.

    The task is the goal. Fix it with ``goal=`` / :meth:`set_task` /
    ``reset(options={"goal": g})``; when no goal is fixed, every ``reset`` draws one from the
    task distribution with the environment's seeded ``np_random``.
    """

    metadata = {"render_modes": []}

    def __init__(
        self,
        goal: np.ndarray | torch.Tensor | None = None,
        horizon: int = HORIZON,
        max_action: float = MAX_ACTION,
        goal_low: float = GOAL_LOW,
        goal_high: float = GOAL_HIGH,
    ) -> None:
        super().__init__()
        if horizon < 1:
            raise ValueError(f"horizon must be ≥ 1, got {horizon}")
        self.horizon, self.max_action = int(horizon), float(max_action)
        self.goal_low, self.goal_high = float(goal_low), float(goal_high)
        bound = np.float32(self.horizon * self.max_action)  # farthest reachable coordinate
        self.observation_space = spaces.Box(-bound, bound, shape=(2,), dtype=np.float32)
        self.action_space = spaces.Box(
            -np.float32(max_action), np.float32(max_action), shape=(2,), dtype=np.float32
        )
        self._fixed_goal: np.ndarray | None = None
        if goal is not None:
            self.set_task(goal)
        self.goal = self._fixed_goal
        self._pos = np.zeros(2, dtype=np.float32)
        self._t = 0

    def sample_tasks(self, n: int, seed: int | torch.Generator | None = None) -> np.ndarray:
        """``n`` goals ``(n, 2)`` (the same numbers as :func:`sample_goals` with this seed)."""
        return sample_goals(n, seed, self.goal_low, self.goal_high).numpy()

    def set_task(self, goal: np.ndarray | torch.Tensor) -> None:
        """Fix the goal ``(2,)`` for all following episodes."""
        g = np.asarray(goal.detach().cpu() if isinstance(goal, torch.Tensor) else goal)
        if g.shape != (2,):
            raise ValueError(f"a navigation task is a goal of shape (2,), got {g.shape}")
        self._fixed_goal = g.astype(np.float32)
        self.goal = self._fixed_goal

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        if options and "goal" in options:
            self.set_task(options["goal"])
        if self._fixed_goal is None:
            self.goal = self.np_random.uniform(self.goal_low, self.goal_high, 2).astype(np.float32)
        self._pos = np.zeros(2, dtype=np.float32)
        self._t = 0
        return self._pos.copy(), {"goal": self.goal.copy()}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        if self.goal is None:
            raise RuntimeError("call reset() before step()")
        a = np.asarray(action, dtype=np.float32).reshape(2)
        a = np.clip(a, -self.max_action, self.max_action).astype(np.float32)
        self._pos = (self._pos + a).astype(np.float32)
        dist = np.float32(np.sqrt(np.sum((self._pos - self.goal) ** 2, dtype=np.float32)))
        self._t += 1
        truncated = self._t >= self.horizon
        return self._pos.copy(), float(-dist), False, truncated, {"distance": float(dist)}


class VecPointNav:
    """``T`` navigation tasks × ``N`` trajectories stepped together in torch.

    ``goals (T, 2)`` fixes the tasks; :meth:`reset` returns positions ``(T, N, 2)`` (all zero),
    :meth:`step` takes actions ``(T, N, 2)`` and returns ``(positions, rewards (T, N), truncated)``
    with exactly the arithmetic of :class:`PointNavEnv` (float32 goals; float64 goals give a
    float64 simulation, used by the gradient checks).
    """

    def __init__(
        self,
        goals: torch.Tensor,
        n_traj: int,
        horizon: int = HORIZON,
        max_action: float = MAX_ACTION,
    ) -> None:
        if goals.dim() != 2 or goals.shape[1] != 2:
            raise ValueError(f"goals must have shape (tasks, 2), got {tuple(goals.shape)}")
        if n_traj < 1:
            raise ValueError(f"n_traj must be ≥ 1, got {n_traj}")
        if not goals.is_floating_point():
            raise ValueError(f"goals must be a floating-point tensor, got {goals.dtype}")
        self.goals = goals
        self.n_traj, self.horizon, self.max_action = int(n_traj), int(horizon), float(max_action)
        self.pos = torch.zeros(goals.shape[0], n_traj, 2, device=goals.device, dtype=goals.dtype)
        self.t = 0

    def reset(self) -> torch.Tensor:
        self.pos = torch.zeros_like(self.pos)
        self.t = 0
        return self.pos.clone()

    def step(self, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, bool]:
        if actions.shape != self.pos.shape:
            raise ValueError(
                f"actions must have shape (tasks, trajectories, 2) = {tuple(self.pos.shape)}, "
                f"got {tuple(actions.shape)}"
            )
        if self.t >= self.horizon:
            raise RuntimeError(f"the episode ended after {self.horizon} steps; call reset()")
        a = actions.to(self.pos.dtype).clamp(-self.max_action, self.max_action)
        self.pos = self.pos + a
        dist = ((self.pos - self.goals[:, None, :]) ** 2).sum(-1).sqrt()
        self.t += 1
        return self.pos.clone(), -dist, self.t >= self.horizon


@dataclass
class BernoulliBandits:
    """Task distribution of ``n_arms``-armed Bernoulli bandits played for ``horizon`` pulls.

    A task is ``p (k,)`` with ``p_a ~ U[0, 1]``. :meth:`sample` draws tasks and, for common random
    numbers, one uniform per (task, pull, arm): arm ``a`` pulled at step ``t`` pays
    ``u[b, t, a] < p[b, a]``. Every strategy evaluated on the same draws therefore sees the same
    outcome whenever it makes the same choice, which makes comparisons much less noisy.
    """

    n_arms: int = 5
    horizon: int = 100

    def __post_init__(self) -> None:
        if self.n_arms < 2 or self.horizon < 1:
            raise ValueError(
                f"need n_arms ≥ 2 and horizon ≥ 1, got {self.n_arms=}, {self.horizon=}")

    def sample(
        self,
        n: int,
        generator: torch.Generator | int | None = None,
        device: str | torch.device = "cpu",
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(probs (n, k), uniforms (n, horizon, k))`` drawn on the CPU, moved to ``device``."""
        g = as_generator(generator)
        probs = torch.rand(n, self.n_arms, generator=g)
        u = torch.rand(n, self.horizon, self.n_arms, generator=g)
        return probs.to(device), u.to(device)

    @staticmethod
    def pull(probs: torch.Tensor, uniforms_t: torch.Tensor, arms: torch.Tensor) -> torch.Tensor:
        """Rewards ``(n,)`` (float 0/1) of pulling ``arms (n,)``; ``uniforms_t`` is ``u[:, t]``."""
        idx = arms.long()[:, None]
        return (uniforms_t.gather(1, idx) < probs.gather(1, idx)).squeeze(1).float()

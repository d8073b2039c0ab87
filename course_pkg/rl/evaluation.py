"""The chapter's two experiments, evaluated on held-out tasks with confidence intervals.

- :func:`navigation_adaptation`: return before and after 1…``inner_steps`` policy-gradient steps on
  held-out goals, for any set of initialisations (MAML, multi-task pretrained, random).
- :func:`bandit_comparison`: RL² against random, UCB1, Thompson sampling and the best-arm
  oracle on the same held-out bandit tasks (common random numbers).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from course_pkg.models import params as module_params
from course_pkg.rl.bandits import (
    cumulative_regret,
    play_oracle,
    play_random,
    play_rl2,
    play_thompson,
    play_ucb1,
)
from course_pkg.rl.envs import BernoulliBandits, sample_goals
from course_pkg.rl.maml import adaptation_returns
from course_pkg.utils import mean_ci

TEST_GOAL_SEED = 2024  # held-out navigation goals (training draws from the seed-0 stream)
TEST_BANDIT_SEED = 4048


def navigation_adaptation(
    policies: Mapping[str, nn.Module],
    inner_steps: int = 3,
    inner_lr: float = 0.1,
    n_goals: int = 100,
    n_traj: int = 20,
    seed: int = TEST_GOAL_SEED,
) -> dict[str, dict[str, Any]]:
    """Adapt each policy on the same ``n_goals`` held-out goals (same rollout noise for all).

    Returns, per policy name, ``returns (inner_steps + 1, n_goals)`` (each goal's mean return over
    ``n_traj`` trajectories after ``j`` steps), ``mean``/``ci`` lists (95 % intervals over goals,
    :func:`course_pkg.utils.mean_ci`) and the ``trajectories`` of every step (for plotting).
    """
    device = next(iter(policies.values())).log_std.device
    goals = sample_goals(n_goals, seed, device=device)
    out: dict[str, dict[str, Any]] = {}
    for name, model in policies.items():
        returns, trajs = adaptation_returns(
            model, module_params(model, detach=True), goals, n_traj, inner_steps, inner_lr,
            seed + 1,
        )
        stats = [mean_ci(r) for r in returns.cpu()]
        out[name] = {
            "returns": returns.cpu(),
            "mean": [m for m, _ in stats],
            "ci": [c for _, c in stats],
            "trajectories": trajs,
        }
    return out


def bandit_comparison(
    rl2_policy: nn.Module | None,
    num_tasks: int = 1000,
    n_arms: int = 5,
    horizon: int = 100,
    seed: int = TEST_BANDIT_SEED,
) -> dict[str, dict[str, Any]]:
    """Total reward per task of each strategy on ``num_tasks`` held-out bandits.

    Returns, per strategy, ``total (num_tasks,)``, ``mean``, ``ci`` (95 %), ``regret`` (mean final
    pseudo-regret) and ``regret_curve (horizon,)`` (mean cumulative pseudo-regret).
    """
    device = next(rl2_policy.parameters()).device if rl2_policy is not None else "cpu"
    probs, u = BernoulliBandits(n_arms, horizon).sample(num_tasks, seed, device)
    runs: dict[str, dict[str, torch.Tensor]] = {"random": play_random(probs, u, seed + 1)}
    runs["UCB1"] = play_ucb1(probs, u)
    runs["Thompson sampling"] = play_thompson(probs, u, seed + 2)
    if rl2_policy is not None:
        runs["RL² (GRU)"] = play_rl2(rl2_policy, probs, u, seed + 3)
    runs["oracle (best arm)"] = play_oracle(probs, u)
    out: dict[str, dict[str, Any]] = {}
    for name, run in runs.items():
        total = run["rewards"].sum(1).cpu()
        regret = cumulative_regret(probs, run["arms"]).cpu()
        m, c = mean_ci(total)
        out[name] = {
            "total": total,
            "mean": m,
            "ci": c,
            "regret": regret[:, -1].mean().item(),
            "regret_curve": regret.mean(0),
        }
    return out


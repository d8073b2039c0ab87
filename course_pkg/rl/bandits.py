"""Classic bandit strategies, the baselines RL² is compared with (all batched over tasks).

Each ``play_*`` function plays ``B`` tasks ``probs (B, k)`` for ``H`` pulls with the common
random numbers ``uniforms (B, H, k)`` of :meth:`BernoulliBandits.sample` and returns
``{"arms": (B, H) long, "rewards": (B, H) float}``.

- random: a uniformly random arm each pull;
- UCB1 (Auer et al., 2002): each arm once, then ``argmax_a  μ̂_a + sqrt(2 ln t / n_a)``;
- Thompson sampling (Thompson, 1933): sample ``p̃_a ~ Beta(1 + S_a, 1 + F_a)``, pull the argmax;
- oracle: always the best arm (knows ``probs``; an upper bound, not a strategy).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from course_pkg.rl.envs import BernoulliBandits
from course_pkg.rl.policies import GRUPolicy
from course_pkg.utils import as_generator


def _play(probs: torch.Tensor, uniforms: torch.Tensor, choose) -> dict[str, torch.Tensor]:
    b, h, k = uniforms.shape
    if probs.shape != (b, k):
        raise ValueError(
            f"probs {tuple(probs.shape)} do not match uniforms {tuple(uniforms.shape)}"
        )
    pulls = torch.zeros(b, k, device=probs.device)
    wins = torch.zeros(b, k, device=probs.device)
    arms, rewards = [], []
    for t in range(h):
        arm = choose(t, pulls, wins)
        r = BernoulliBandits.pull(probs, uniforms[:, t], arm)
        pulls[torch.arange(b), arm] += 1
        wins[torch.arange(b), arm] += r
        arms.append(arm)
        rewards.append(r)
    return {"arms": torch.stack(arms, 1), "rewards": torch.stack(rewards, 1)}


def play_random(
    probs: torch.Tensor, uniforms: torch.Tensor, generator: torch.Generator | int | None = None
) -> dict[str, torch.Tensor]:
    """A uniformly random arm at every pull."""
    g = as_generator(generator)
    b, h, k = uniforms.shape
    choices = torch.randint(k, (h, b), generator=g).to(probs.device)
    return _play(probs, uniforms, lambda t, n, s: choices[t])


def play_ucb1(probs: torch.Tensor, uniforms: torch.Tensor) -> dict[str, torch.Tensor]:
    """UCB1: pull every arm once, then the arm with the largest upper confidence bound."""
    k = probs.shape[1]

    def choose(t: int, pulls: torch.Tensor, wins: torch.Tensor) -> torch.Tensor:
        if t < k:
            return torch.full((pulls.shape[0],), t, dtype=torch.long, device=pulls.device)
        ucb = wins / pulls + torch.sqrt(2.0 * math.log(t) / pulls)
        return ucb.argmax(-1)

    return _play(probs, uniforms, choose)


def play_thompson(
    probs: torch.Tensor, uniforms: torch.Tensor, seed: int = 0
) -> dict[str, torch.Tensor]:
    """Thompson sampling with independent Beta(1, 1) priors (posterior draws from NumPy's
    seeded generator, so runs are reproducible)."""
    rng = np.random.default_rng(seed)

    def choose(t: int, pulls: torch.Tensor, wins: torch.Tensor) -> torch.Tensor:
        s = wins.cpu().numpy()
        f = (pulls - wins).cpu().numpy()
        draws = torch.from_numpy(rng.beta(1.0 + s, 1.0 + f)).to(pulls.device)
        return draws.argmax(-1)

    return _play(probs, uniforms, choose)


def play_oracle(probs: torch.Tensor, uniforms: torch.Tensor) -> dict[str, torch.Tensor]:
    """Always the arm with the highest success probability (needs to know the task)."""
    best = probs.argmax(-1)
    return _play(probs, uniforms, lambda t, n, s: best)


@torch.no_grad()
def play_rl2(
    policy: GRUPolicy,
    probs: torch.Tensor,
    uniforms: torch.Tensor,
    generator: torch.Generator | int | None = None,
    greedy: bool = False,
) -> dict[str, torch.Tensor]:
    """The trained RL² policy (sampling its actions, or its most likely arm if ``greedy``)."""
    from course_pkg.rl.rl2 import rl2_rollout

    roll = rl2_rollout(policy, probs, uniforms, generator, greedy)
    return {"arms": roll["arms"], "rewards": roll["rewards"]}


def cumulative_regret(probs: torch.Tensor, arms: torch.Tensor) -> torch.Tensor:
    """Expected (pseudo-)regret ``Σ_{s ≤ t} (max_a p_a − p_{a_s})``, ``(B, H)``."""
    gap = probs.max(-1, keepdim=True).values - probs.gather(1, arms)
    return gap.cumsum(-1)

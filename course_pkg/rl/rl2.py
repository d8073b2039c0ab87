"""RL² (Duan et al., 2016): a recurrent policy trained across many bandit tasks.

The GRU of :class:`course_pkg.rl.policies.GRUPolicy` plays all ``H`` pulls of one task with one
hidden state, so what it learns from the first pulls of a task can only be kept in that state:
the outer RL algorithm (here advantage actor-critic with GAE, maximising the total reward of
the whole ``H``-pull trial) trains a *learning algorithm* that runs in the activations.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import torch

from course_pkg.rl.envs import BernoulliBandits
from course_pkg.rl.policies import GRUPolicy
from course_pkg.rl.returns import discounted_returns, gae
from course_pkg.utils import as_generator, check_finite, get_device, seed_everything, seeded
from course_pkg.utils import progress as progress_bar


def _sample_categorical(logits: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """Inverse-CDF sampling of ``logits (B, k)`` with given uniforms ``u (B,)`` → ``(B,)``."""
    cdf = logits.softmax(-1).cumsum(-1)
    idx = torch.searchsorted(cdf, u[:, None].contiguous()).squeeze(1)
    return idx.clamp(max=logits.shape[-1] - 1)


def rl2_rollout(
    policy: GRUPolicy,
    probs: torch.Tensor,
    uniforms: torch.Tensor,
    generator: torch.Generator | int | None = None,
    greedy: bool = False,
) -> dict[str, torch.Tensor]:
    """Play ``B`` bandit tasks with the recurrent policy (one hidden state per task).

    ``probs (B, k)``, ``uniforms (B, H, k)`` from :meth:`BernoulliBandits.sample`. Returns
    ``arms, rewards, logp, values, entropy`` all ``(B, H)``; gradients flow into ``logp``,
    ``values`` and ``entropy`` unless called under ``torch.no_grad()``.
    """
    g = as_generator(generator)
    b, h = uniforms.shape[0], uniforms.shape[1]
    if probs.shape != (b, policy.n_arms):
        raise ValueError(f"probs must be (tasks, {policy.n_arms}), got {tuple(probs.shape)}")
    device = probs.device
    action_u = torch.rand(h, b, generator=g).to(device)
    state = policy.initial_state(b, device)
    prev_a = torch.full((b,), -1, dtype=torch.long, device=device)
    prev_r = torch.zeros(b, device=device)
    keys = ("arms", "rewards", "logp", "values", "entropy")
    out: dict[str, list[torch.Tensor]] = {k: [] for k in keys}
    for t in range(h):
        logits, value, state = policy.step(prev_a, prev_r, state)
        logp_all = logits.log_softmax(-1)
        arm = logits.argmax(-1) if greedy else _sample_categorical(logits.detach(), action_u[t])
        reward = BernoulliBandits.pull(probs, uniforms[:, t], arm)
        out["arms"].append(arm)
        out["rewards"].append(reward)
        out["logp"].append(logp_all.gather(1, arm[:, None]).squeeze(1))
        out["values"].append(value)
        out["entropy"].append(-(logp_all.exp() * logp_all).sum(-1))
        prev_a, prev_r = arm, reward
    return {k: torch.stack(v, 1) for k, v in out.items()}


def make_rl2_policy(config: Mapping[str, Any]) -> GRUPolicy:
    """The GRU policy described by ``config`` (``n_arms``, ``hidden``), seeded."""
    with seeded(int(config["seed"])):
        return GRUPolicy(int(config["n_arms"]), int(config["hidden"]))


def train_rl2_bandit(
    config: Mapping[str, Any], device: str | torch.device | None = None, progress: bool = True
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Train the RL² GRU on ``k``-armed Bernoulli bandits; returns ``(state_dict, metrics)``.

    ``config`` keys: ``seed, iterations, meta_batch_size, n_arms, horizon, hidden, meta_lr, gamma,
    gae_lambda,
    value_coef, entropy_coef, entropy_final, grad_clip``. The entropy bonus decays linearly from
    ``entropy_coef`` to ``entropy_final``. ``metrics["reward"]`` is the mean total reward of each
    training batch.
    """
    dev = get_device(device)
    gen = seed_everything(int(config["seed"]))
    policy = make_rl2_policy(config).to(dev)
    bandits = BernoulliBandits(int(config["n_arms"]), int(config["horizon"]))
    opt = torch.optim.Adam(policy.parameters(), lr=float(config["meta_lr"]))
    gamma, gae_lambda = float(config["gamma"]), float(config["gae_lambda"])
    iterations = int(config["iterations"])
    history = []
    start = time.perf_counter()
    for it in progress_bar(range(iterations), desc="RL² training", disable=not progress):
        probs, u = bandits.sample(int(config["meta_batch_size"]), gen, dev)
        roll = rl2_rollout(policy, probs, u, gen)
        returns = discounted_returns(roll["rewards"], gamma)
        adv = gae(roll["rewards"], roll["values"].detach(), gamma, gae_lambda)
        adv = (adv - adv.mean()) / (adv.std() + 1e-8)
        frac = it / max(iterations - 1, 1)
        ent_coef = (1 - frac) * float(config["entropy_coef"])
        ent_coef += frac * float(config["entropy_final"])
        loss = (
            -(roll["logp"] * adv).mean()
            + float(config["value_coef"]) * (roll["values"] - returns).pow(2).mean()
            - ent_coef * roll["entropy"].mean()
        )
        check_finite(loss, it, "RL² loss")
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(policy.parameters(), float(config["grad_clip"]))
        opt.step()
        history.append(round(roll["rewards"].sum(1).mean().item(), 3))
    metrics = {"reward": history, "train_seconds": round(time.perf_counter() - start, 1)}
    return {k: v.detach().cpu() for k, v in policy.state_dict().items()}, metrics

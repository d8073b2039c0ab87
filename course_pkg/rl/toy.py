"""A meta-RL problem small enough to enumerate: MAML-PG on one deterministic ``n``-armed bandit.

Policy ``π_θ = softmax(θ)``; arm ``a`` pays ``r_a``. The inner step draws ``K`` arms from ``π_θ``
and takes one REINFORCE step, ``φ = θ + α (1/K) Σ_k ∇_θ log π_θ(a_k) r_{a_k}``; the meta-objective
is the expected value after adaptation, ``J(θ) = E_{a_1..K ~ π_θ}[π_φ · r]``. With ``n^K`` inner
outcomes, ``J`` and its exact gradient are computable, which is what the estimators of
:func:`course_pkg.rl.maml.meta_pg_surrogate` are checked against.
"""

from __future__ import annotations

import itertools

import torch

from course_pkg.rl.maml import meta_pg_surrogate
from course_pkg.utils import as_generator


def _inner_step(theta: torch.Tensor, arms: torch.Tensor, r: torch.Tensor, inner_lr: float):
    """``φ`` for inner arms ``(..., K)``; ``∇_θ log softmax(θ)_a = e_a − π`` written out."""
    pi = theta.softmax(-1)
    score = torch.nn.functional.one_hot(arms, theta.shape[-1]).to(theta.dtype) - pi[..., None, :]
    return theta + inner_lr * (score * r[arms][..., None]).mean(-2)


def exact_meta_objective(
    theta: torch.Tensor, r: torch.Tensor, inner_lr: float, k_traj: int
) -> torch.Tensor:
    """``J(θ)`` by enumerating all ``n^K`` inner samples (differentiable in ``θ (n,)``)."""
    n = theta.shape[-1]
    log_pi = theta.log_softmax(-1)
    total = theta.new_zeros(())
    for arms in itertools.product(range(n), repeat=k_traj):
        a = torch.tensor(arms)
        prob = log_pi[a].sum().exp()
        total = total + prob * (_inner_step(theta, a, r, inner_lr).softmax(-1) @ r)
    return total


def meta_gradient_estimates(
    theta: torch.Tensor,
    r: torch.Tensor,
    inner_lr: float,
    k_traj: int,
    m: int,
    num_tasks: int,
    lr_term: bool,
    seed: int = 0,
) -> torch.Tensor:
    """``num_tasks`` independent estimates ``(num_tasks, n)`` of ``∇J(θ)`` from
    :func:`meta_pg_surrogate`.

    Each "task" (the same bandit) gets its own copy of ``θ``, ``K`` inner and ``m`` outer arms;
    one backward pass returns every task's estimate. ``lr_term`` adds the likelihood-ratio term
    for sampling the inner arms from ``π_θ``.
    """
    g = as_generator(seed)
    n = theta.shape[-1]
    th = theta.detach().expand(num_tasks, n).clone().requires_grad_(True)
    a_in = torch.multinomial(th.detach().softmax(-1), k_traj, True, generator=g)
    inner_logp = th.log_softmax(-1).gather(1, a_in)
    phi = _inner_step(th, a_in, r, inner_lr)
    a_out = torch.multinomial(phi.detach().softmax(-1), m, True, generator=g)
    outer_logp = phi.log_softmax(-1).gather(1, a_out)
    outer_r = r[a_out]
    objective = meta_pg_surrogate(
        outer_logp[..., None],
        outer_r[..., None],
        inner_logp[..., None] if lr_term else None,
        outer_r.mean(1) if lr_term else None,
    )
    return num_tasks * torch.autograd.grad(objective, th)[0]

"""Returns, advantages and the linear feature baseline, batched over any leading dimensions.

Time is always the last dimension: ``rewards (..., H)``. Episodes have a fixed horizon ``H``
(point navigation is truncated at ``H`` and the time step is part of the baseline's features),
so the value after the last step is zero.
"""

from __future__ import annotations

import torch


def _discount_matrix(h: int, factor: float, like: torch.Tensor) -> torch.Tensor:
    """``M (H, H)`` with ``M[k, t] = factor**(k − t)`` for ``k ≥ t`` and 0 otherwise."""
    idx = torch.arange(h, device=like.device)
    power = (idx[:, None] - idx[None, :]).to(like.dtype)
    m = torch.where(power >= 0, torch.as_tensor(factor, dtype=like.dtype) ** power.clamp(min=0), 0)
    return m.to(like.dtype)


def discount_cumsum(x: torch.Tensor, factor: float) -> torch.Tensor:
    """``y_t = Σ_{k ≥ t} factor**(k − t) x_k`` along the last dimension (one matrix product)."""
    if x.dim() < 1:
        raise ValueError("expected a tensor whose last dimension is time")
    return x @ _discount_matrix(x.shape[-1], factor, x)


def discounted_returns(rewards: torch.Tensor, gamma: float) -> torch.Tensor:
    """Reward-to-go ``G_t = Σ_{k ≥ t} γ^{k − t} r_k``; ``rewards (..., H)`` → ``(..., H)``."""
    if not 0.0 <= gamma <= 1.0:
        raise ValueError(f"gamma must be in [0, 1], got {gamma}")
    return discount_cumsum(rewards, gamma)


def gae(
    rewards: torch.Tensor, values: torch.Tensor, gamma: float, gae_lambda: float
) -> torch.Tensor:
    """Generalised advantage estimates (Schulman et al., 2016); ``rewards``, ``values (..., H)``.

    ``δ_t = r_t + γ V_{t+1} − V_t`` with ``V_H = 0`` and ``A_t = Σ_l (γλ)^l δ_{t+l}``.
    ``gae_lambda = 1`` gives ``G_t − V_t`` (returns minus baseline), ``gae_lambda = 0`` the
    one-step TD error.
    """
    if rewards.shape != values.shape:
        raise ValueError(f"rewards {tuple(rewards.shape)} and values {tuple(values.shape)} differ")
    if not 0.0 <= gae_lambda <= 1.0:
        raise ValueError(f"gae_lambda must be in [0, 1], got {gae_lambda}")
    next_values = torch.cat([values[..., 1:], torch.zeros_like(values[..., :1])], dim=-1)
    deltas = rewards + gamma * next_values - values
    return discount_cumsum(deltas, gamma * gae_lambda)


def baseline_features(obs: torch.Tensor, horizon: int | None = None) -> torch.Tensor:
    """Features of the linear baseline of Duan et al. (2016): ``[s, s², t, t², t³, 1]``.

    ``obs (..., H, d)`` → ``(..., H, 2d + 4)`` with ``t`` the step divided by ``horizon``
    (default ``H``), so the baseline can tell early from late states of a fixed-length episode.
    """
    h = obs.shape[-2]
    t = torch.arange(h, device=obs.device, dtype=obs.dtype) / float(horizon or h)
    t = t.expand(*obs.shape[:-1])[..., None]
    return torch.cat([obs, obs**2, t, t**2, t**3, torch.ones_like(t)], dim=-1)


def fit_linear_baseline(
    obs: torch.Tensor, returns: torch.Tensor, reg: float = 1e-5
) -> torch.Tensor:
    """Fit one ridge regression of ``returns`` on :func:`baseline_features` per task.

    ``obs (T, N, H, d)``, ``returns (T, N, H)`` → fitted values ``(T, N, H)`` (no gradient).
    The regression uses the ``N`` trajectories of each task; ``reg`` is scaled by the mean
    diagonal of the Gram matrix.
    """
    if obs.dim() != 4 or returns.shape != obs.shape[:3]:
        raise ValueError(
            f"expected obs (T, N, H, d) and returns (T, N, H); got {tuple(obs.shape)} and "
            f"{tuple(returns.shape)}"
        )
    with torch.no_grad():
        x = baseline_features(obs.double()).flatten(1, 2)  # (T, N*H, F)
        y = returns.double().flatten(1, 2)[..., None]  # (T, N*H, 1)
        gram = x.transpose(1, 2) @ x
        eye = torch.eye(gram.shape[-1], dtype=gram.dtype, device=gram.device)
        scale = gram.diagonal(dim1=1, dim2=2).mean(-1)[:, None, None]
        w = torch.linalg.solve(gram + reg * scale * eye, x.transpose(1, 2) @ y)
        return (x @ w).squeeze(-1).view_as(returns).to(returns.dtype)

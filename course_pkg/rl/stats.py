"""Confidence intervals for the evaluation tables of the meta-RL chapter."""

from __future__ import annotations

import math

import torch
from scipy import stats


def mean_ci(values: torch.Tensor, confidence: float = 0.95) -> tuple[float, float]:
    """``(mean, half-width)`` of a Student-t confidence interval over the first dimension.

    ``values (n,)`` are independent per-task scores (e.g. a task's mean return); needs ``n ≥ 2``.
    """
    x = torch.as_tensor(values, dtype=torch.float64).flatten()
    n = x.numel()
    if n < 2:
        raise ValueError(f"a confidence interval needs at least two values, got {n}")
    se = x.std(unbiased=True).item() / math.sqrt(n)
    q = float(stats.t.ppf(0.5 + confidence / 2.0, df=n - 1))
    return x.mean().item(), q * se

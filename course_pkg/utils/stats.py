"""Summaries of repeated measurements: confidence intervals and smoothed loss curves."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch


def mean_ci(
    values: torch.Tensor | Sequence[float], dim: int = 0, z: float = 1.96
) -> tuple[Any, Any]:
    """Mean and half-width of the normal-approximation 95 % confidence interval of the mean,
    ``z · s / √n`` along ``dim`` (``s`` the sample standard deviation, ``z = 1.96``; half-width
    0 for a single value).

    ``values (n, …)``: independent scores (per task or per episode). Returns python floats when
    the result is a scalar (1-D input), tensors of shape ``values.shape`` without ``dim``
    otherwise (1-D input is computed in float64 on the CPU; other input keeps its dtype and
    device). Raises ``ValueError`` for no values.
    """
    v = values if isinstance(values, torch.Tensor) else torch.as_tensor(values, dtype=torch.float64)
    if v.dim() <= 1 or not v.is_floating_point():
        v = v.detach().to("cpu", torch.float64).reshape(-1) if v.dim() <= 1 else v.double()
    n = v.shape[dim]
    if n == 0:
        raise ValueError("mean_ci needs at least one value")
    mean = v.mean(dim)
    half = (z * v.std(dim, unbiased=True) / math.sqrt(n) if n > 1 else torch.zeros_like(mean))
    if mean.dim() == 0:
        return float(mean), float(half)
    return mean, half


#: Points of a smoothed training curve (:func:`smooth_curve`), whatever the run's length.
CURVE_POINTS = 50


def smooth_curve(values: Sequence[float], points: int = CURVE_POINTS) -> tuple[int, list[float]]:
    """A loss curve shortened for storage and plotting: means over consecutive windows.

    ``values (n,)``: one loss per iteration. Returns ``(window, curve)`` with
    ``window = max(1, n // points)`` and ``curve[i]`` the mean of
    ``values[i·window : (i+1)·window]`` (the last window may be shorter), so ``len(curve)`` is
    about ``points`` and ``curve[i]`` sits at iteration ``(i + 0.5) · window``. Raises
    ``ValueError`` for ``points < 1``; no values give ``(1, [])``.
    """
    if points < 1:
        raise ValueError(f"points must be ≥ 1, got {points}")
    vals = [float(v) for v in values]
    window = max(1, len(vals) // points)
    curve = [sum(chunk) / len(chunk)
             for chunk in (vals[i:i + window] for i in range(0, len(vals), window))]
    return window, curve

"""Models used across the course, all usable with ``torch.func.functional_call``.

Parameters are handled as dicts (``params(model)``) so algorithms never edit a module's private
state. No model here keeps BatchNorm running statistics: normalisation always uses the current
batch (``track_running_stats=False``), so nothing leaks between tasks during adaptation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import nn
from torch.func import functional_call


def params(model: nn.Module, detach: bool = False) -> dict[str, torch.Tensor]:
    """The model's parameters as a ``{name: tensor}`` dict (optionally detached clones)."""
    if detach:
        return {k: v.detach().clone() for k, v in model.named_parameters()}
    return dict(model.named_parameters())


class MLP(nn.Module):
    """Fully connected ReLU network ``in_dim → hidden… → out_dim``; input ``(…, in_dim)``.

    The sinusoid network of Finn et al. (2017) is ``MLP(1, (40, 40), 1)``.
    """

    def __init__(self, in_dim: int = 1, hidden: Sequence[int] = (40, 40), out_dim: int = 1):
        super().__init__()
        dims = [in_dim, *hidden, out_dim]
        layers: list[nn.Module] = []
        for i in range(len(dims) - 1):
            layers.append(nn.Linear(dims[i], dims[i + 1]))
            if i < len(dims) - 2:
                layers.append(nn.ReLU())
        self.net = nn.Sequential(*layers)
        self.in_dim, self.out_dim = in_dim, out_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] != self.in_dim:
            raise ValueError(f"MLP expects inputs (..., {self.in_dim}); got {tuple(x.shape)}")
        return self.net(x)


def conv_block(in_ch: int, out_ch: int) -> nn.Sequential:
    """3×3 conv → BatchNorm (batch statistics only) → ReLU → 2×2 max-pool."""
    return nn.Sequential(
        nn.Conv2d(in_ch, out_ch, 3, padding=1),
        nn.BatchNorm2d(out_ch, track_running_stats=False),
        nn.ReLU(),
        nn.MaxPool2d(2),
    )


class Conv4(nn.Module):
    """The standard 4-block convolutional network of few-shot learning (64 channels).

    Input ``(B, C, H, W)`` (e.g. ``(B, 1, 28, 28)``); with ``out_dim=None`` it returns the
    flattened embedding ``(B, hidden * (H // 16) * (W // 16))`` (64 for 28×28 inputs), otherwise
    class logits ``(B, out_dim)`` from a linear head.
    """

    def __init__(
        self,
        in_channels: int = 1,
        out_dim: int | None = 5,
        hidden: int = 64,
        image_size: int = 28,
    ) -> None:
        super().__init__()
        self.features = nn.Sequential(
            conv_block(in_channels, hidden),
            conv_block(hidden, hidden),
            conv_block(hidden, hidden),
            conv_block(hidden, hidden),
        )
        side = image_size
        for _ in range(4):
            side //= 2
        self.embedding_dim = hidden * max(side, 1) ** 2
        self.in_channels = in_channels
        self.head = nn.Linear(self.embedding_dim, out_dim) if out_dim is not None else None

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Embedding ``(B, embedding_dim)`` of images ``(B, C, H, W)``."""
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"Conv4 expects images (batch, {self.in_channels}, H, W); got {tuple(x.shape)}"
            )
        return self.features(x).flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.embed(x)
        return self.head(z) if self.head is not None else z


def _sub(params: Mapping[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    return {k[len(prefix):]: v for k, v in params.items() if k.startswith(prefix)}


def conv4_forward(
    model: Conv4, params: Mapping[str, torch.Tensor], x: torch.Tensor, start: int = 0,
    head: bool = True,
) -> torch.Tensor:
    """Run Conv4 blocks ``start..3`` (then the head if ``head``) with ``params`` on ``x``.

    ``params`` holds ``features.<i>.*`` for ``i ≥ start`` (and ``head.*``); ``x`` is
    ``(B, C, H, W)`` images for ``start = 0``, else the output of block ``start``
    (:func:`conv4_features`). Returns logits ``(B, N)``, or the embedding ``(B, D)`` with
    ``head=False``. Block-wise, so frozen leading blocks can run once (chapter 2).
    """
    h = x
    for i in range(start, 4):
        h = functional_call(model.features[i], _sub(params, f"features.{i}."), (h,))
    if start < 4 or h.dim() > 2:
        h = h.flatten(1)
    if not head:
        return h
    return torch.nn.functional.linear(h, params["head.weight"], params["head.bias"])


def conv4_features(
    model: Conv4, params: Mapping[str, torch.Tensor], x: torch.Tensor, stop: int
) -> torch.Tensor:
    """Output of Conv4 blocks ``0..stop-1`` on images ``(B, C, H, W)`` (``x`` itself if 0)."""
    h = x
    for i in range(stop):
        h = functional_call(model.features[i], _sub(params, f"features.{i}."), (h,))
    return h


# --------------------------------------------------------------------------- toy models
class LinearToy(nn.Module):
    """``f(x) = x · θ``: inputs ``(…, 2)`` → outputs ``(…, 1)``; parameter ``theta (2,)``."""

    def __init__(self, theta0: Sequence[float] = (0.0, 0.0)) -> None:
        super().__init__()
        self.theta = nn.Parameter(torch.as_tensor(theta0, dtype=torch.float32).clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] != 2:
            raise ValueError(f"LinearToy expects inputs (..., 2); got {tuple(x.shape)}")
        return (x * self.theta).sum(-1, keepdim=True)


class CurveToy(nn.Module):
    """``f(x) = tanh(a x + b)`` with ``theta = (a, b)``: inputs ``(…, 1)`` → ``(…, 1)``."""

    def __init__(self, theta0: Sequence[float] = (0.0, 0.0)) -> None:
        super().__init__()
        self.theta = nn.Parameter(torch.as_tensor(theta0, dtype=torch.float32).clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] != 1:
            raise ValueError(f"CurveToy expects inputs (..., 1); got {tuple(x.shape)}")
        a, b = self.theta.unbind(-1)  # (indexing with [0] breaks forward-over-reverse HVPs)
        return torch.tanh(a * x + b)

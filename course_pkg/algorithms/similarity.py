"""How much adaptation changes a network's features: linear CKA between representations.

Linear centred kernel alignment (Kornblith et al., 2019) compares two representations of the
same ``n`` inputs, ``X (n, p)`` and ``Y (n, q)``:

    CKA(X, Y) = ‖Ỹᵀ X̃‖_F² / (‖X̃ᵀ X̃‖_F · ‖Ỹᵀ Ỹ‖_F),   X̃, Ỹ column-centred,

1 for representations equal up to an orthogonal transform and an isotropic scaling, near 0 for
unrelated ones. :func:`adaptation_cka` applies it block by block to a Conv4 before and after the
inner loop on each task's support set — Raghu et al. (2020) found MAML's body barely changes
(CKA near 1 everywhere but the head), the observation behind ANIL.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

from course_pkg.algorithms.core import cross_entropy_loss
from course_pkg.algorithms.evaluation import adapt
from course_pkg.models import Conv4, conv4_features
from course_pkg.tasks import TaskBatch

__all__ = ["adaptation_cka", "block_outputs", "linear_cka"]


def linear_cka(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Linear CKA of ``x (n, p)`` and ``y (n, q)`` (rows: the same inputs); a scalar in [0, 1].
    Computed in float64. Raises ``ValueError`` for mismatched ``n`` or ``n < 2``."""
    if x.dim() != 2 or y.dim() != 2 or x.shape[0] != y.shape[0] or x.shape[0] < 2:
        raise ValueError(f"need x (n, p) and y (n, q) with the same n ≥ 2; got "
                         f"{tuple(x.shape)} and {tuple(y.shape)}")
    x = x.double() - x.double().mean(0)
    y = y.double() - y.double().mean(0)
    cross = (y.T @ x).pow(2).sum()
    return cross / ((x.T @ x).norm() * (y.T @ y).norm()).clamp_min(1e-300)


def block_outputs(model: Conv4, params: Mapping[str, torch.Tensor], x: torch.Tensor
                  ) -> list[torch.Tensor]:
    """The flattened output of each of the 4 blocks and the head's logits, ``[(n, d_i)]``, for
    images ``x (n, C, H, W)`` (BatchNorm with the statistics of ``x``)."""
    outs = [conv4_features(model, params, x, stop).flatten(1) for stop in range(1, 5)]
    logits = torch.nn.functional.linear(outs[-1], params["head.weight"], params["head.bias"])
    return [*outs, logits]


def adaptation_cka(model: Conv4, params: Mapping[str, torch.Tensor], batch: TaskBatch,
                   inner_steps: int, inner_lr: float) -> torch.Tensor:
    """CKA ``(T, 5)`` between each block's (and the head's) representation of a task's query
    images before and after ``inner_steps`` SGD steps on its support set."""
    theta = {k: v.detach() for k, v in params.items()}
    phi = adapt(model, theta, batch, inner_steps, inner_lr, cross_entropy_loss)
    rows = []
    with torch.no_grad():
        for t in range(batch.num_tasks):
            after = {k: v[t] for k, v in phi.items()}
            xq = batch.x_query[t]
            rows.append(torch.stack([linear_cka(a, b) for a, b in zip(
                block_outputs(model, theta, xq), block_outputs(model, after, xq))]))
    return torch.stack(rows)

"""The meta-learning problem (chapter 3): disjoint support/query sets, the meta-objective, and two
small learners that make the objective concrete.

The meta-training objective of the lecture notes is

    θ* = argmin_θ  (1/T) Σ_i  L(φ_i, D_i^test),   φ_i = adapt_θ(D_i^tr),

where ``D_i^tr`` (support) and ``D_i^test`` (query) are disjoint samples of task ``i``.

- :func:`split_support_query`: split each task's examples into disjoint support and query sets.
- :func:`meta_objective`: the objective above for any ``adapt``/``predict`` pair.
- :func:`kernel_regression`: a metric-based learner, ``ŷ(x) = Σ_i k_h(x, x_i) y_i`` with a
  normalised Gaussian kernel of bandwidth ``h`` (Nadaraya–Watson).
- :func:`ridge_head`, :func:`ridge_features`, :func:`feature_ridge_predict`: task parameters
  ``φ_i`` = the closed-form ridge-regression head on features ``h_θ(x)`` shared across tasks.
- :func:`meta_train_feature_ridge`: meta-train those features by the objective above.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import torch
from torch import nn

from course_pkg.algorithms.core import forward, mse_loss
from course_pkg.tasks import SinusoidTasks, TaskBatch
from course_pkg.utils import as_generator, check_finite, get_device
from course_pkg.utils import progress as progress_bar

Params = dict[str, torch.Tensor]


def split_support_query(
    x: torch.Tensor,
    y: torch.Tensor,
    k_support: int,
    generator: torch.Generator | int | None = None,
) -> TaskBatch:
    """Randomly split each task's ``M`` examples into ``k_support`` support and ``M − k_support``
    query examples, disjoint by construction.

    ``x (T, M, …)``, ``y (T, M, …)``; every task gets its own random permutation (a seed or a
    ``torch.Generator``; drawn on the CPU, so a seed gives the same split on every device).
    Returns a :class:`TaskBatch` with ``info["support_index"] (T, K)`` and
    ``info["query_index"] (T, M − K)``: the positions of the examples in ``x``.
    """
    if x.dim() < 2 or y.dim() < 2 or x.shape[:2] != y.shape[:2]:
        raise ValueError(
            f"x and y must be (tasks, examples, ...) with the same first two dimensions; "
            f"got {tuple(x.shape)} and {tuple(y.shape)}"
        )
    num_tasks, m = x.shape[:2]
    if not 1 <= k_support < m:
        raise ValueError(
            f"k_support must be between 1 and {m - 1} so that both sets are non-empty "
            f"(each task has {m} examples); got {k_support}"
        )
    g = as_generator(generator)
    perm = torch.stack([torch.randperm(m, generator=g) for _ in range(num_tasks)]).to(x.device)
    s_idx, q_idx = perm[:, :k_support], perm[:, k_support:]

    def take(t: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        return torch.gather(t, 1, idx.reshape(*idx.shape, *([1] * (t.dim() - 2))).expand(
            *idx.shape, *t.shape[2:]))

    return TaskBatch(
        take(x, s_idx), take(y, s_idx), take(x, q_idx), take(y, q_idx),
        {"support_index": s_idx, "query_index": q_idx},
    )


def meta_objective(
    adapt: Callable[[torch.Tensor, torch.Tensor], object],
    predict: Callable[[object, torch.Tensor], torch.Tensor],
    batch: TaskBatch,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = mse_loss,
    per_task: bool = False,
) -> torch.Tensor:
    """``(1/T) Σ_i loss(predict(φ_i, x_i^q), y_i^q)`` with ``φ_i = adapt(x_i^s, y_i^s)``.

    ``adapt`` and ``predict`` see one task at a time: ``x_support (K, …)``, ``y_support (K, …)``,
    ``x_query (Q, …)``; ``φ`` can be anything (a tensor, a dict of parameters, the support set
    itself). Differentiable whenever ``adapt``/``predict`` are. With ``per_task=True`` returns
    the ``(T,)`` vector of query losses instead of their mean.
    """
    if not isinstance(batch, TaskBatch):
        raise TypeError(f"batch must be a TaskBatch, got {type(batch).__name__}")
    losses = []
    for xs, ys, xq, yq in zip(*batch):
        phi = adapt(xs, ys)
        pred = predict(phi, xq)
        if pred.shape != yq.shape:
            raise ValueError(
                f"predict returned shape {tuple(pred.shape)} but the query targets have shape "
                f"{tuple(yq.shape)}"
            )
        losses.append(loss_fn(pred, yq))
    out = torch.stack(losses)
    return out if per_task else out.mean()


def kernel_regression(
    x_support: torch.Tensor,
    y_support: torch.Tensor,
    x_query: torch.Tensor,
    bandwidth: float | torch.Tensor,
) -> torch.Tensor:
    """Nadaraya–Watson prediction ``ŷ(x) = Σ_i softmax_i(−‖x − x_i‖² / 2h²) y_i``.

    ``x_support (…, K, D)``, ``y_support (…, K, O)``, ``x_query (…, Q, D)`` → ``(…, Q, O)``;
    leading dimensions (e.g. tasks) broadcast. ``bandwidth`` ``h > 0`` may be a tensor
    (differentiable).
    """
    h = torch.as_tensor(bandwidth, dtype=x_query.dtype, device=x_query.device)
    if bool((h <= 0).any()):
        raise ValueError(f"bandwidth must be positive, got {bandwidth}")
    d2 = torch.cdist(x_query, x_support).pow(2)  # (…, Q, K)
    weights = torch.softmax(-d2 / (2 * h**2), dim=-1)
    return weights @ y_support


def ridge_head(features: torch.Tensor, targets: torch.Tensor, ridge_lambda: float) -> torch.Tensor:
    """Closed-form ridge regression ``w = argmin ‖F w − y‖² + λ‖w‖² = Fᵀ (F Fᵀ + λ I)⁻¹ y``.

    ``features (…, K, d)``, ``targets (…, K, O)`` → ``w (…, d, O)``. The dual form solves a
    ``K × K`` system, cheap in the few-shot regime ``K ≪ d``; differentiable w.r.t. ``features``.
    """
    if ridge_lambda <= 0:
        raise ValueError(f"ridge_lambda must be positive, got {ridge_lambda}")
    k = features.shape[-2]
    gram = features @ features.transpose(-1, -2)
    eye = torch.eye(k, dtype=features.dtype, device=features.device)
    return features.transpose(-1, -2) @ torch.linalg.solve(gram + ridge_lambda * eye, targets)


def ridge_features(
    model: nn.Module, params: Mapping[str, torch.Tensor], x: torch.Tensor
) -> torch.Tensor:
    """Features ``[h_θ(x), 1]`` ``(…, d + 1)``: the model's output and a constant (bias) one."""
    h = forward(model, params, x)
    return torch.cat([h, torch.ones_like(h[..., :1])], dim=-1)


def feature_ridge_predict(
    model: nn.Module,
    params: Mapping[str, torch.Tensor],
    x_support: torch.Tensor,
    y_support: torch.Tensor,
    x_query: torch.Tensor,
    ridge_lambda: float = 0.1,
) -> torch.Tensor:
    """Fit the ridge head ``φ`` on the support set's features and predict the query set.

    Shapes as in :func:`ridge_head`, with a leading task dimension allowed:
    ``x_support (T, K, D)``, ``y_support (T, K, O)``, ``x_query (T, Q, D)`` → ``(T, Q, O)``.
    """
    w = ridge_head(ridge_features(model, params, x_support), y_support, ridge_lambda)
    return ridge_features(model, params, x_query) @ w


def meta_train_feature_ridge(
    model: nn.Module,
    params: Mapping[str, torch.Tensor],
    tasks: SinusoidTasks,
    iterations: int = 1000,
    meta_batch_size: int = 25,
    k_support: int = 5,
    k_query: int = 10,
    ridge_lambda: float = 0.1,
    meta_lr: float = 1e-3,
    seed: int = 0,
    device: str | torch.device | None = None,
    progress: bool = True,
    query_is_support: bool = False,
) -> tuple[Params, list[float]]:
    """Meta-train the features ``h_θ`` so that a ridge head fitted on ``K`` support points
    predicts the disjoint query points well: Adam (``meta_lr``) on the meta-objective,
    ``meta_batch_size`` fresh tasks per iteration (``iterations`` in all). Returns ``(trained
    params, meta-training loss per step)``; stops with a
    ``FloatingPointError`` naming the step if the loss stops being finite.

    ``query_is_support=True`` scores each task on its own support set instead (the mistake that
    chapter 3 demonstrates: the objective then rewards fitting the support points only).
    """
    dev = get_device(device)
    theta = {k: v.detach().clone().to(dev).requires_grad_(True) for k, v in params.items()}
    opt = torch.optim.Adam(theta.values(), lr=meta_lr)
    gen = as_generator(seed)
    history: list[float] = []
    for step in progress_bar(range(iterations), desc="meta-training features", leave=False,
                             disable=not progress):
        xs, ys, xq, yq = tasks.sample(meta_batch_size, k_support, k_query, generator=gen,
                                      device=dev)
        if query_is_support:
            xq, yq = xs, ys
        loss = mse_loss(feature_ridge_predict(model, theta, xs, ys, xq, ridge_lambda), yq)
        check_finite(loss, step, "meta-training loss")
        opt.zero_grad()
        loss.backward()
        opt.step()
        history.append(float(loss.detach()))
    return {k: v.detach() for k, v in theta.items()}, history

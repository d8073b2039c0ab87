"""Reptile (Nichol, Achiam & Schulman, 2018): move θ towards the weights each task trains to.

For every task ``i`` run ``k`` SGD steps from ``θ`` on the task's data, giving ``φ_i``; then

    θ ← θ + ε · mean_i (φ_i − θ).

No derivative flows through the inner loop, so memory does not grow with ``k``. The functions here
return the *update direction* ``Δ = mean_i (φ_i − θ)`` and the *pseudo-gradient* ``−Δ`` (so any
``torch.optim`` optimizer can take the outer step: plain SGD with learning rate ``ε`` is exactly
Reptile). Tasks come as a :class:`~course_pkg.tasks.TaskBatch`; the batched path maps over tasks
with ``torch.vmap``, the serial path loops over them and gives the same numbers.

The module also holds the Taylor-expansion argument of the Reptile paper: with two inner
minibatches (0) and (1) and inner step ``α``, writing ``g⁽ʲ⁾ = ∇L⁽ʲ⁾(θ)``, ``H⁽ʲ⁾ = ∇²L⁽ʲ⁾(θ)``,

    FOMAML  (1 step on (0), gradient on (1)):  g⁽¹⁾ − α H⁽¹⁾g⁽⁰⁾                 + O(α²)
    MAML    (same data):                       g⁽¹⁾ − α H⁽¹⁾g⁽⁰⁾ − α H⁽⁰⁾g⁽¹⁾    + O(α²)
    Reptile (2 steps, (0) then (1), (θ−φ)/α):  g⁽⁰⁾ + g⁽¹⁾ − α H⁽¹⁾g⁽⁰⁾          + O(α²)

(:func:`taylor_terms`, :func:`taylor_predictions`; the ``α²`` terms are included with
``order=2``). Averaged over tasks and the order of the two batches, ``A = E[g]`` and
``B = E[H⁽¹⁾g⁽⁰⁾]``: FOMAML ≈ A − αB, MAML ≈ A − 2αB, Reptile ≈ 2A − αB.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import torch
from torch import nn

from course_pkg.algorithms.core import (
    LossFn,
    MetaGradFn,
    Params,
    inner_adapt,
    loss_at,
    mse_loss,
    sgd_step,
)
from course_pkg.algorithms.imaml import hessian_vector_product
from course_pkg.tasks import TaskBatch
from course_pkg.utils import check_same_device

if TYPE_CHECKING:  # annotations only: training imports this module
    from course_pkg.algorithms.training import MetaConfig

__all__ = [
    "make_reptile_grad_fn",
    "reptile_adapt",
    "reptile_meta_gradient",
    "reptile_step",
    "reptile_update",
    "taylor_predictions",
    "taylor_terms",
    "two_batch_directions",
]

_DATA_CHOICES = ("support", "support+query")


def reptile_adapt(
    model: nn.Module,
    params: Mapping[str, torch.Tensor],
    x: torch.Tensor,
    y: torch.Tensor,
    inner_steps: int,
    inner_lr: float,
    batch_size: int | None = None,
    loss_fn: LossFn = mse_loss,
) -> Params:
    """``inner_steps`` SGD steps (step ``inner_lr``) of Reptile's inner loop on one task's data
    ``x (N, …)``, ``y (N, …)``.

    With ``batch_size=None`` every step uses all ``N`` examples (the same iterates as
    :func:`~course_pkg.algorithms.core.inner_adapt`). Otherwise step ``t`` uses the ``t mod
    (N / batch_size)``-th consecutive minibatch, so two steps with ``batch_size = N/2`` see batch
    (0) then batch (1) as in the Taylor argument. ``N`` must be divisible by ``batch_size``.
    Works inside ``torch.vmap``. Returns the adapted parameters ``φ``.
    """
    n = x.shape[0]
    batch_size = n if batch_size is None else batch_size
    if batch_size < 1 or n % batch_size:
        raise ValueError(f"batch_size={batch_size} must divide the {n} examples of a task")
    nb = n // batch_size

    def batch_loss(p: Params, j: int) -> torch.Tensor:
        sl = slice(j * batch_size, (j + 1) * batch_size)
        return loss_at(model, p, x[sl], y[sl], loss_fn)

    grad_fn = torch.func.grad(batch_loss)
    phi: Params = dict(params)
    for t in range(inner_steps):
        phi = sgd_step(phi, grad_fn(phi, t % nb), inner_lr)
    return phi


def _task_data(batch: TaskBatch, data: str) -> tuple[torch.Tensor, torch.Tensor]:
    if data == "support":
        return batch.x_support, batch.y_support
    if data == "support+query":
        return (torch.cat([batch.x_support, batch.x_query], 1),
                torch.cat([batch.y_support, batch.y_query], 1))
    raise ValueError(f"data must be one of {_DATA_CHOICES}, got {data!r}")


def reptile_update(
    model: nn.Module,
    params: Mapping[str, torch.Tensor],
    batch: TaskBatch,
    inner_steps: int = 5,
    inner_lr: float = 0.02,
    batch_size: int | None = None,
    data: str = "support+query",
    loss_fn: LossFn = mse_loss,
    batched: bool = True,
) -> Params:
    """Reptile's direction ``Δ = mean_i (φ_i − θ)`` over the ``T`` tasks of ``batch``.

    ``data`` picks what the inner loop trains on: ``"support+query"`` (Reptile has no
    support/query split; default) or ``"support"``. ``batched=True`` maps
    :func:`reptile_adapt` over tasks with ``torch.vmap``; ``False`` loops over tasks (same
    result, less memory). Returned tensors have the parameters' shapes and carry no graph.
    """
    check_same_device(params, *batch)
    if inner_steps < 1:
        raise ValueError(f"Reptile needs inner_steps ≥ 1 (got {inner_steps}): with 0 steps φ = θ")
    theta = {k: v.detach() for k, v in params.items()}
    x, y = _task_data(batch, data)

    def adapt(xi: torch.Tensor, yi: torch.Tensor) -> Params:
        return reptile_adapt(model, theta, xi, yi, inner_steps, inner_lr, batch_size, loss_fn)

    if batched:
        phis = torch.vmap(adapt)(x, y)  # each (T, *shape)
        return {k: (phis[k] - theta[k]).mean(0) for k in theta}
    delta = {k: torch.zeros_like(v) for k, v in theta.items()}
    for i in range(x.shape[0]):
        phi = adapt(x[i], y[i])
        for k in delta:
            delta[k] = delta[k] + (phi[k] - theta[k])
    return {k: v / x.shape[0] for k, v in delta.items()}


def reptile_step(
    params: Mapping[str, torch.Tensor], delta: Mapping[str, torch.Tensor], meta_lr: float
) -> Params:
    """The outer step ``θ + ε Δ`` (returns new tensors; ``params`` is not modified)."""
    return {k: p.detach() + meta_lr * delta[k] for k, p in params.items()}


def reptile_meta_gradient(
    model: nn.Module,
    params: Mapping[str, torch.Tensor],
    batch: TaskBatch,
    inner_steps: int = 5,
    inner_lr: float = 0.02,
    batch_size: int | None = None,
    data: str = "support+query",
    loss_fn: LossFn = mse_loss,
    batched: bool = True,
) -> tuple[torch.Tensor, Params]:
    """``(loss, grads)`` in the protocol of :func:`course_pkg.algorithms.maml.meta_gradient`.

    ``grads`` is the pseudo-gradient ``θ − mean_i φ_i = −Δ`` (an optimizer's descent step
    ``θ − ε·grads`` is Reptile's outer step); ``loss`` is the mean query loss at ``θ`` *before*
    adaptation (Reptile optimises no post-adaptation loss; it is only logged). Arguments as in
    :func:`reptile_update`.
    """
    delta = reptile_update(model, params, batch, inner_steps, inner_lr, batch_size, data,
                           loss_fn, batched)
    with torch.no_grad():
        theta = {k: v.detach() for k, v in params.items()}
        pre = torch.vmap(lambda xq, yq: loss_at(model, theta, xq, yq, loss_fn))(
            batch.x_query, batch.y_query).mean()
    return pre, {k: -v for k, v in delta.items()}


# --------------------------------------------------------------------------- Taylor argument


def _flat(p: Mapping[str, torch.Tensor]) -> torch.Tensor:
    return torch.cat([v.reshape(-1) for v in p.values()])


def two_batch_directions(
    model: nn.Module,
    params: Mapping[str, torch.Tensor],
    x0: torch.Tensor,
    y0: torch.Tensor,
    x1: torch.Tensor,
    y1: torch.Tensor,
    inner_lr: float,
    loss_fn: LossFn = mse_loss,
) -> dict[str, torch.Tensor]:
    """The exact meta-update directions of one task with two minibatches (0) and (1).

    Returns flat vectors (all parameters concatenated):

    - ``"fomaml"``: ``∇L⁽¹⁾(φ)`` at ``φ = θ − α ∇L⁽⁰⁾(θ)`` (gradient through φ treated as constant);
    - ``"maml"``: ``∇_θ L⁽¹⁾(θ − α ∇L⁽⁰⁾(θ))`` (second order);
    - ``"reptile"``: ``(θ − φ₂)/α`` after two SGD steps, on (0) then on (1).
    """
    theta = {k: v.detach() for k, v in params.items()}

    def l1(p: Params) -> torch.Tensor:
        return loss_at(model, p, x1, y1, loss_fn)

    phi1 = inner_adapt(model, theta, x0, y0, 1, inner_lr, loss_fn)
    fomaml = torch.func.grad(l1)(phi1)
    maml = torch.func.grad(lambda p: l1(inner_adapt(model, p, x0, y0, 1, inner_lr, loss_fn)))(theta)
    phi2 = sgd_step(phi1, fomaml, inner_lr)
    reptile = {k: (theta[k] - phi2[k]) / inner_lr for k in theta}
    return {"fomaml": _flat(fomaml), "maml": _flat(maml), "reptile": _flat(reptile)}


def taylor_terms(
    model: nn.Module,
    params: Mapping[str, torch.Tensor],
    x0: torch.Tensor,
    y0: torch.Tensor,
    x1: torch.Tensor,
    y1: torch.Tensor,
    loss_fn: LossFn = mse_loss,
) -> dict[str, torch.Tensor]:
    """Derivatives at ``θ`` the Taylor expansions are built from, as flat vectors.

    ``g0``, ``g1`` (gradients on batches 0 and 1), ``H1g0 = H⁽¹⁾g⁽⁰⁾``, ``H0g1 = H⁽⁰⁾g⁽¹⁾``,
    ``H0H1g0 = H⁽⁰⁾H⁽¹⁾g⁽⁰⁾`` and ``T1g0g0 = ∇³L⁽¹⁾[g⁽⁰⁾, g⁽⁰⁾]``, all from nested
    reverse-mode derivatives of ``torch.func.grad`` (no Hessian is formed).
    """
    theta = {k: v.detach() for k, v in params.items()}

    def grad_at(p: Params, x: torch.Tensor, y: torch.Tensor) -> Params:
        return torch.func.grad(lambda q: loss_at(model, q, x, y, loss_fn))(p)

    def hvp(p: Params, x: torch.Tensor, y: torch.Tensor, v: Params) -> Params:
        return hessian_vector_product(model, p, x, y, v, loss_fn)

    def third(x: torch.Tensor, y: torch.Tensor, u: Params, v: Params) -> Params:
        # ∇³L[u, v] = ∇_θ (uᵀ H(θ) v), the third derivative being symmetric
        return torch.func.grad(
            lambda p: sum((u[k] * hv).sum() for k, hv in hvp(p, x, y, v).items()))(theta)

    g0, g1 = grad_at(theta, x0, y0), grad_at(theta, x1, y1)
    h1g0 = hvp(theta, x1, y1, g0)
    out = {
        "g0": g0, "g1": g1, "H1g0": h1g0, "H0g1": hvp(theta, x0, y0, g1),
        "H0H1g0": hvp(theta, x0, y0, h1g0), "T1g0g0": third(x1, y1, g0, g0),
    }
    return {k: _flat(v).detach() for k, v in out.items()}


def taylor_predictions(
    terms: Mapping[str, torch.Tensor], inner_lr: float, order: int = 1
) -> dict[str, torch.Tensor]:
    """Taylor expansions in ``α`` of the three directions of :func:`two_batch_directions`.

    ``order=1`` keeps terms up to ``α`` (error ``O(α²)``); ``order=2`` adds the ``α²`` terms
    (error ``O(α³)``). With ``ĝ := ∇L⁽¹⁾(θ − α g0) = g1 − α H1g0 + ½α² T1g0g0 + O(α³)``:

    - FOMAML  ``= ĝ``;
    - Reptile ``= g0 + ĝ`` (exact: ``φ₂ = θ − α g0 − α ĝ``);
    - MAML    ``= (I − α H⁽⁰⁾) ĝ = ĝ − α H0g1 + α² H0H1g0 + O(α³)`` (``H⁽⁰⁾`` is taken at ``θ``).
    """
    if order not in (1, 2):
        raise ValueError(f"order must be 1 or 2, got {order}")
    t, a = terms, inner_lr
    g_hat = t["g1"] - a * t["H1g0"]
    maml = g_hat - a * t["H0g1"]
    if order == 2:
        g_hat = g_hat + 0.5 * a**2 * t["T1g0g0"]
        maml = g_hat - a * t["H0g1"] + a**2 * t["H0H1g0"]
    return {"fomaml": g_hat, "reptile": t["g0"] + g_hat, "maml": maml}


# --------------------------------------------------------------------------- meta_train plug-in


def make_reptile_grad_fn(model: nn.Module, config: MetaConfig, loss_fn: LossFn = mse_loss
                         ) -> MetaGradFn:
    """``meta_grad_fn`` of ``MetaConfig(method="reptile", optimizer="sgd", meta_lr=ε)``
    (listed in :data:`course_pkg.algorithms.training.ALGORITHMS`).

    Uses ``config.inner_steps``/``config.inner_lr``; ``config.options`` may set ``data``
    (``"support+query"``) and ``batch_size`` (``None``: full batch) of the inner loop.
    """
    opts = dict(config.options)
    unknown = set(opts) - {"data", "batch_size"}
    if unknown:
        raise ValueError(f"unknown Reptile options {sorted(unknown)}; use data, batch_size")

    def meta_grad_fn(meta_params: Params, batch: TaskBatch):
        return reptile_meta_gradient(model, meta_params, batch, config.inner_steps,
                                     config.inner_lr, opts.get("batch_size"),
                                     opts.get("data", "support+query"), loss_fn)

    return meta_grad_fn

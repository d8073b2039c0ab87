"""Functional building blocks shared by every optimization-based algorithm.

Parameters are ``dict[str, Tensor]`` (see :func:`course_pkg.models.params`); a model is run on
them with ``torch.func.functional_call``. Nothing here edits a module's private state.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from course_pkg.tasks import TaskBatch
from course_pkg.utils import check_same_device

Params = dict[str, torch.Tensor]
LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
#: ``meta_grad_fn(meta_params, batch, ...) -> (loss, grads)``, what :func:`meta_train` calls.
MetaGradFn = Callable[..., tuple[torch.Tensor, Params]]
InnerLR = float | Mapping[str, torch.Tensor]
#: Meta-SGD stores its learned rate of parameter ``name`` as ``"inner_lr:<name>"``.
LR_PREFIX = "inner_lr:"


def as_task_batch(batch: TaskBatch | Sequence[torch.Tensor]) -> TaskBatch:
    """Accept a :class:`TaskBatch` or a tuple ``(xs, ys, xq, yq)``; validate shapes."""
    if isinstance(batch, TaskBatch):
        batch.validate()
        return batch
    if isinstance(batch, Sequence) and len(batch) == 4:
        return TaskBatch(*batch)
    raise TypeError(
        "expected a TaskBatch or a tuple (x_support, y_support, x_query, y_query) with a "
        f"leading task dimension; got {type(batch).__name__}"
    )


def checked_batch(params: Mapping[str, torch.Tensor], batch: Any) -> TaskBatch:
    """:func:`as_task_batch`, plus a clear error when it is not on the parameters' device."""
    batch = as_task_batch(batch)
    check_same_device(params, batch.x_support)
    return batch


def split_meta_params(meta_params: Mapping[str, torch.Tensor]) -> tuple[Params, Params | None]:
    """Split ``{name: θ, "inner_lr:name": α}`` into ``(params, inner_lrs or None)``."""
    params = {k: v for k, v in meta_params.items() if not k.startswith(LR_PREFIX)}
    lrs = {k[len(LR_PREFIX):]: v for k, v in meta_params.items() if k.startswith(LR_PREFIX)}
    return params, (lrs or None)


def flat(params: Mapping[str, torch.Tensor]) -> torch.Tensor:
    """All tensors of a parameter (or gradient) dict as one 1-D tensor, in the dict's order."""
    return torch.cat([v.reshape(-1) for v in params.values()])


def lr_for(inner_lr: InnerLR, params: Mapping[str, torch.Tensor]) -> InnerLR:
    """``inner_lr`` after checking that a dict of rates covers every parameter."""
    if isinstance(inner_lr, Mapping):
        missing = set(params) - set(inner_lr)
        if missing:
            raise KeyError(f"inner_lr has no learning rate for parameters {sorted(missing)}")
    return inner_lr


def mse_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error (the sinusoid loss of Finn et al., 2017); shapes must match exactly.

    Raises ``ValueError`` instead of silently broadcasting, e.g. predictions ``(K, 1)`` against
    targets ``(K,)``.
    """
    if pred.shape != target.shape:
        raise ValueError(
            f"mse_loss: predictions have shape {tuple(pred.shape)} but targets have shape "
            f"{tuple(target.shape)} (per task); give targets the model's output shape, "
            "e.g. y of shape (tasks, K, 1) for a 1-output model"
        )
    diff = pred - target
    return (diff * diff).mean()


def cross_entropy_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Cross-entropy for few-shot classification; ``logits (N, C)``, ``target (N,)`` int64."""
    return F.cross_entropy(logits, target)


_TIED: weakref.WeakKeyDictionary[nn.Module, bool] = weakref.WeakKeyDictionary()


def _has_tied_tensors(model: nn.Module) -> bool:
    """Whether two names of ``model`` share one parameter/buffer (cached per module)."""
    tied = _TIED.get(model)
    if tied is None:
        n_all = sum(1 for _ in model.named_parameters(remove_duplicate=False)) + sum(
            1 for _ in model.named_buffers(remove_duplicate=False))
        n_unique = sum(1 for _ in model.named_parameters()) + sum(1 for _ in model.named_buffers())
        tied = _TIED[model] = n_all != n_unique
    return tied


def forward(model: nn.Module, params: Mapping[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """Run ``model`` with ``params`` (buffers are taken from the module) on ``x``.

    Models without tied weights skip ``functional_call``'s untying pass (it costs about a tenth
    of a small model's meta-iteration); tied models keep it.
    """
    return functional_call(model, dict(params), (x,), tie_weights=_has_tied_tensors(model))


def loss_at(
    model: nn.Module,
    params: Mapping[str, torch.Tensor],
    x: torch.Tensor,
    y: torch.Tensor,
    loss_fn: LossFn = mse_loss,
) -> torch.Tensor:
    """Scalar loss of ``model`` with ``params`` on one task's data ``x (K, …)``, ``y (K, …)``."""
    return loss_fn(forward(model, params, x), y)


def sgd_step(
    params: Mapping[str, torch.Tensor],
    grads: Mapping[str, torch.Tensor],
    lr: float | Mapping[str, torch.Tensor],
) -> Params:
    """``θ − α ∇`` with a scalar ``lr`` or one learning-rate tensor per parameter (Meta-SGD)."""
    if isinstance(lr, Mapping):
        return {k: p - lr[k] * grads[k] for k, p in params.items()}
    return {k: p - lr * grads[k] for k, p in params.items()}


def inner_adapt(
    model: nn.Module,
    params: Mapping[str, torch.Tensor],
    x: torch.Tensor,
    y: torch.Tensor,
    inner_steps: int,
    inner_lr: float | Mapping[str, torch.Tensor],
    loss_fn: LossFn = mse_loss,
    first_order: bool = False,
    return_trajectory: bool = False,
) -> Params | list[Params]:
    """``inner_steps`` SGD steps (step size ``inner_lr``) from ``params`` on one task's support
    set ``x (K, …)``, ``y (K, …)``.

    Gradients come from ``torch.func.grad``, so this composes with ``torch.vmap`` over tasks and
    stays differentiable w.r.t. ``params`` (second-order MAML). With ``first_order=True`` each
    inner gradient is evaluated at detached parameters, i.e. treated as a constant (FOMAML; no
    graph is built for it, and ``φ⁽ᵏ⁾`` still depends on ``params`` and a tensor ``inner_lr``
    through the SGD updates themselves). Returns the adapted parameters ``φ⁽ᵏ⁾``, or the list
    ``[φ⁽⁰⁾, …, φ⁽ᵏ⁾]`` when ``return_trajectory``.
    """
    if inner_steps < 0:
        raise ValueError(f"inner_steps must be ≥ 0, got {inner_steps}")

    def support_loss(p: Params) -> torch.Tensor:
        return loss_at(model, p, x, y, loss_fn)

    grad_fn = torch.func.grad(support_loss)
    phi: Params = dict(params)
    traj = [phi]
    for _ in range(inner_steps):
        if first_order:
            g = grad_fn({k: v.detach() for k, v in phi.items()})
        else:
            g = grad_fn(phi)
        phi = sgd_step(phi, g, inner_lr)
        if return_trajectory:
            traj.append(phi)
    return traj if return_trajectory else phi


def batched_inner_adapt(
    model: nn.Module,
    params: Mapping[str, torch.Tensor],
    x: torch.Tensor,
    y: torch.Tensor,
    inner_steps: int,
    inner_lr: float | Mapping[str, torch.Tensor],
    loss_fn: LossFn = mse_loss,
    first_order: bool = False,
    return_trajectory: bool = False,
    task_params: Mapping[str, torch.Tensor] | None = None,
) -> Params | list[Params]:
    """:func:`inner_adapt` for ``T`` tasks at once: ``x (T, K, …)``, ``y (T, K, …)``.

    Same numbers as ``torch.vmap(inner_adapt)`` over tasks, computed differently: θ is expanded to
    one copy per task, the per-task losses (a ``vmap`` of the forward pass) are summed and
    ``torch.autograd.grad`` of that sum w.r.t. the copies gives every task's own gradient
    (tasks share no parameters). With ``create_graph`` the result stays differentiable w.r.t.
    ``params`` and a tensor ``inner_lr`` (second-order MAML); this is faster than nesting
    ``torch.func.grad`` inside ``vmap`` under an outer backward pass, and it is right for
    BatchNorm models, where that nesting is not: in torch 2.14, differentiating
    ``vmap(inner_adapt)`` of a Conv4 a second time is off by about 1 % of the gradient's scale
    (``tests/test_maml.py`` checks this function against learn2learn and finite differences on
    Conv4). ``first_order=True``
    evaluates each inner gradient at detached parameters (FOMAML). ``task_params`` are starting
    values that differ per task, ``{name: (T, *shape)}`` (ProtoMAML's prototype head); they join
    the expanded ``params`` and may depend on them.
    Returns ``{name: (T, *shape)}`` (or the trajectory ``[φ⁽⁰⁾, …, φ⁽ᵏ⁾]``).
    """
    if inner_steps < 0:
        raise ValueError(f"inner_steps must be ≥ 0, got {inner_steps}")
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"x has {x.shape[0]} tasks but y has {y.shape[0]}")
    num_tasks = x.shape[0]
    lr_tensors = list(inner_lr.values()) if isinstance(inner_lr, Mapping) else []
    extra = dict(task_params or {})
    if any(v.shape[0] != num_tasks for v in extra.values()):
        raise ValueError(f"task_params need a leading dimension of {num_tasks} tasks")
    track = torch.is_grad_enabled() and any(
        t.requires_grad for t in [*params.values(), *lr_tensors, *extra.values()])
    task_losses = torch.vmap(lambda p, xx, yy: loss_at(model, p, xx, yy, loss_fn))
    phi: Params = {k: v.expand(num_tasks, *v.shape) for k, v in params.items()}
    phi.update(extra)
    traj = [phi]
    for _ in range(inner_steps):
        if first_order or not track:
            leaf = {k: v.detach().requires_grad_(True) for k, v in phi.items()}
            with torch.enable_grad():
                g = torch.autograd.grad(task_losses(leaf, x, y).sum(), list(leaf.values()))
        else:
            g = torch.autograd.grad(task_losses(phi, x, y).sum(), list(phi.values()),
                                    create_graph=True)
        phi = sgd_step(phi, dict(zip(phi, g)), inner_lr)
        if return_trajectory:  # otherwise keep no old iterate alive (FOMAML's memory stays flat)
            traj.append(phi)
    return traj if return_trajectory else phi

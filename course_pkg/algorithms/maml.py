"""MAML, first-order MAML, Meta-SGD, MAML++'s multi-step loss, and the "pretrained" baseline.

Everything is functional (``torch.func``): parameters are ``dict[str, Tensor]``, a model is run
with ``functional_call``, the inner loop is :func:`course_pkg.algorithms.core.inner_adapt`, and
tasks are batched with ``torch.vmap`` over the leading task dimension of a
:class:`course_pkg.tasks.TaskBatch` (``x_support (T, K, …)``, ``y_support (T, K, …)``,
``x_query (T, Q, …)``, ``y_query (T, Q, …)``). Any ``nn.Module`` without BatchNorm running
statistics works, on any device.

Main functions
--------------
- :func:`maml_loss` – mean query loss after ``inner_steps`` SGD steps (MAML's meta-objective).
- :func:`meta_gradient` – ``(loss, grads)`` of that objective: second order by default,
  ``first_order=True`` for FOMAML; a dict ``inner_lr`` gives Meta-SGD (grads for the rates too);
  ``step_weights`` gives MAML++'s per-step (multi-step) loss.
- :func:`pretrained_loss` / :func:`pretrained_gradient` – the joint-training baseline.
- :func:`adapt`, :func:`predict`, :func:`evaluate_adaptation` (query loss after 0..k steps,
  shape ``(T, k + 1)``), :func:`confidence_interval`.
- :func:`meta_train` – the training loop shared by every optimization-based algorithm.
- :func:`saved_tensor_bytes` – peak memory autograd keeps for the backward pass (chapter 8).

Plugging an algorithm into :func:`meta_train`
---------------------------------------------
``meta_train(model, task_sampler, config, meta_grad_fn=None, params=None, loss_fn=mse_loss,
device=None, progress=True) -> (params, history)``

- ``task_sampler``: an object with ``.sample(num_tasks, k_support, k_query, generator=,
  device=) -> TaskBatch`` (e.g. :class:`course_pkg.tasks.SinusoidTasks`) or a callable with that
  signature. ``meta_train`` owns one seeded ``torch.Generator`` (``config.seed``), so runs are
  reproducible.
- ``config``: a :class:`MetaConfig` (iterations, meta-batch size, K, Q, inner steps/lr, meta lr,
  ``optimizer`` ``"adam"`` or ``"sgd"``, seed, ``algorithm`` name, free-form ``options`` dict for
  algorithm-specific settings).
- ``meta_grad_fn(meta_params, batch) -> (loss, grads)``: ``meta_params`` is the dict being
  meta-learned (for MAML: the model's parameters; for Meta-SGD: parameters plus
  ``"inner_lr:<name>"`` entries), ``batch`` a :class:`TaskBatch` on the training device.
  ``loss`` is a scalar tensor that is logged and checked for NaN/inf; ``grads`` maps (a subset of)
  the keys of ``meta_params`` to tensors of the same shapes, the *descent direction's gradient*:
  the optimizer does ``θ ← θ − meta_lr · grads`` (SGD) or the Adam equivalent. A first-order
  method that is not a gradient (Reptile) returns its pseudo-gradient, e.g. ``θ − φ̄``. If the
  function accepts a keyword argument ``iteration``, ``meta_train`` passes the 0-based
  meta-iteration (used by MAML++'s annealed step weights).
- When ``meta_grad_fn`` is ``None`` it is built from ``config.algorithm`` through the registry:
  ``register_algorithm(name, factory, init=None)`` where
  ``factory(model, config, loss_fn) -> meta_grad_fn`` and optional
  ``init(model, config) -> meta_params``. Built in: ``"maml"``, ``"fomaml"``, ``"metasgd"``,
  ``"pretrained"``.
- ``history`` is a dict of lists: ``"iteration"``, ``"loss"`` (every iteration), and when
  ``config.eval_every > 0`` also ``"eval_iteration"``, ``"eval_loss"`` (mean query loss after
  ``config.inner_steps`` steps on a fixed held-out batch of ``config.eval_tasks`` tasks).
"""

from __future__ import annotations

import inspect
import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import nn

from course_pkg import distributed as dist
from course_pkg.algorithms.core import (
    LossFn,
    Params,
    batched_inner_adapt,
    forward,
    loss_at,
    mse_loss,
)
from course_pkg.models import params as model_params
from course_pkg.tasks import TaskBatch
from course_pkg.utils import check_finite, check_same_device

LR_PREFIX = "inner_lr:"
MetaGradFn = Callable[..., tuple[torch.Tensor, Params]]
InnerLR = float | Mapping[str, torch.Tensor]

__all__ = [
    "LR_PREFIX",
    "MetaConfig",
    "adapt",
    "as_task_batch",
    "confidence_interval",
    "evaluate_adaptation",
    "init_meta_params",
    "make_meta_grad_fn",
    "maml_loss",
    "meta_gradient",
    "meta_train",
    "msl_weights",
    "predict",
    "pretrained_gradient",
    "pretrained_loss",
    "register_algorithm",
    "registered_algorithms",
    "saved_tensor_bytes",
    "split_meta_params",
]


# --------------------------------------------------------------------------- configuration
@dataclass
class MetaConfig:
    """Settings of one meta-training run (defaults: the sinusoid experiment of Finn et al.).

    ``inner_steps``/``inner_lr`` are k and α of the inner loop, ``meta_lr`` is β,
    ``meta_batch_size`` the number of tasks per meta-iteration, ``k_support``/``k_query`` the
    shots. ``algorithm`` picks a registered meta-gradient (``maml``, ``fomaml``, ``metasgd``,
    ``pretrained``, or one registered by another module); ``first_order``, ``learn_inner_lr``
    (Meta-SGD) and ``multi_step_loss`` (MAML++, weights annealed over
    ``msl_anneal_iterations``) modify ``maml``. ``options`` holds algorithm-specific extras
    (for the MAML family: ``{"task_chunk_size": n}``, see :func:`meta_gradient`).
    """

    iterations: int = 1000
    meta_batch_size: int = 25
    k_support: int = 10
    k_query: int = 10
    inner_steps: int = 1
    inner_lr: float = 0.01
    meta_lr: float = 1e-3
    optimizer: str = "adam"
    algorithm: str = "maml"
    first_order: bool = False
    learn_inner_lr: bool = False
    multi_step_loss: bool = False
    msl_anneal_iterations: int | None = None
    grad_clip: float | None = None
    seed: int = 0
    eval_every: int = 0
    eval_tasks: int = 100
    options: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (JSON-ready) of every field."""
        return asdict(self)

    def __post_init__(self) -> None:
        if self.iterations < 0 or self.meta_batch_size < 1 or self.inner_steps < 0:
            raise ValueError("iterations ≥ 0, meta_batch_size ≥ 1 and inner_steps ≥ 0 required")
        if self.optimizer not in ("adam", "sgd"):
            raise ValueError(f"optimizer must be 'adam' or 'sgd', got {self.optimizer!r}")


# --------------------------------------------------------------------------- checks
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


def _check(params: Mapping[str, torch.Tensor], batch: TaskBatch) -> TaskBatch:
    batch = as_task_batch(batch)
    check_same_device(params, batch.x_support)
    return batch


def split_meta_params(meta_params: Mapping[str, torch.Tensor]) -> tuple[Params, Params | None]:
    """Split ``{name: θ, "inner_lr:name": α}`` into ``(params, inner_lrs or None)``."""
    params = {k: v for k, v in meta_params.items() if not k.startswith(LR_PREFIX)}
    lrs = {k[len(LR_PREFIX):]: v for k, v in meta_params.items() if k.startswith(LR_PREFIX)}
    return params, (lrs or None)


def _lr_for(inner_lr: InnerLR, params: Mapping[str, torch.Tensor]) -> InnerLR:
    if isinstance(inner_lr, Mapping):
        missing = set(params) - set(inner_lr)
        if missing:
            raise KeyError(f"inner_lr has no learning rate for parameters {sorted(missing)}")
    return inner_lr


# --------------------------------------------------------------------------- MAML objective
def msl_weights(
    inner_steps: int, iteration: int = 0, anneal_iterations: int | None = None
) -> list[float]:
    """MAML++ per-step loss weights ``(w_1, …, w_k)`` (sum 1) at meta-iteration ``iteration``.

    They start uniform (1/k) and move linearly, over ``anneal_iterations``, to all weight on the
    last step (the intermediate weights keep a floor of ``0.03/k`` as in Antoniou et al.).
    With ``anneal_iterations=None`` the weights stay uniform.
    """
    k = inner_steps
    if k < 1:
        raise ValueError("the multi-step loss needs inner_steps ≥ 1")
    if anneal_iterations is None or anneal_iterations <= 0:
        return [1.0 / k] * k
    t = min(iteration / anneal_iterations, 1.0)
    floor = 0.03 / k
    w = [max(1.0 / k - t / k, floor) for _ in range(k - 1)]
    w.append(1.0 - sum(w))
    return w


def maml_loss(
    model: nn.Module,
    params: Mapping[str, torch.Tensor],
    batch: TaskBatch | Sequence[torch.Tensor],
    inner_steps: int,
    inner_lr: InnerLR,
    loss_fn: LossFn = mse_loss,
    first_order: bool = False,
    step_weights: Sequence[float] | None = None,
    reduce: bool = True,
) -> torch.Tensor:
    """MAML's meta-objective ``(1/T) Σ_i L(φ_i, D_i^query)`` with ``φ_i`` = k SGD steps from θ.

    ``inner_lr`` is α (a float) or a dict of per-parameter rate tensors (Meta-SGD).
    ``first_order=True`` treats the inner gradients as constants (FOMAML).
    ``step_weights`` ``(w_1…w_k)`` replaces the final query loss by ``Σ_j w_j L(φ^(j))``
    (MAML++). Differentiable w.r.t. ``params`` and tensor ``inner_lr`` (when they require grad).
    All tasks are processed at once (:func:`~course_pkg.algorithms.core.batched_inner_adapt`).
    Returns a scalar, or the per-task losses ``(T,)`` with ``reduce=False``.
    """
    batch = _check(params, batch)
    per_task = _maml_objective(model, params, batch, inner_steps, inner_lr, loss_fn, first_order,
                               step_weights)
    return per_task.mean() if reduce else per_task


def _maml_objective(model, params, batch, inner_steps, inner_lr, loss_fn, first_order,
                    step_weights):
    """Per-task query losses ``(T,)`` of :func:`maml_loss` (``batch`` already checked)."""
    if step_weights is not None and len(step_weights) != inner_steps:
        raise ValueError(f"step_weights needs {inner_steps} entries, got {len(step_weights)}")
    lr = _lr_for(inner_lr, params)
    xs, ys, xq, yq = batch
    query_losses = torch.vmap(lambda p, x, y: loss_at(model, p, x, y, loss_fn))
    if step_weights is None:
        phi = batched_inner_adapt(model, params, xs, ys, inner_steps, lr, loss_fn, first_order)
        return query_losses(phi, xq, yq)
    traj = batched_inner_adapt(model, params, xs, ys, inner_steps, lr, loss_fn, first_order,
                               return_trajectory=True)
    return sum(w * query_losses(phi, xq, yq) for w, phi in zip(step_weights, traj[1:]))


def meta_gradient(
    model: nn.Module,
    params: Mapping[str, torch.Tensor],
    batch: TaskBatch | Sequence[torch.Tensor],
    inner_steps: int,
    inner_lr: InnerLR,
    loss_fn: LossFn = mse_loss,
    first_order: bool = False,
    step_weights: Sequence[float] | None = None,
    task_chunk_size: int | None = None,
) -> tuple[torch.Tensor, Params]:
    """``(loss, grads)``: the value of :func:`maml_loss` and its gradient w.r.t. ``params``.

    Second order (through the k inner steps) unless ``first_order``. When ``inner_lr`` is a dict
    of tensors (Meta-SGD) ``grads`` also holds ``"inner_lr:<name>"`` entries. The returned
    tensors are detached; ``params`` may or may not require grad. ``task_chunk_size`` processes
    the tasks that many at a time and accumulates (same result, less memory: only one chunk's
    graph is alive at a time).
    """
    batch = _check(params, batch)
    T = batch.num_tasks
    if task_chunk_size is not None and task_chunk_size < T:
        total_loss, total = 0.0, None
        for start in range(0, T, task_chunk_size):
            chunk = TaskBatch(*(t[start:start + task_chunk_size] for t in batch))
            loss, grads = meta_gradient(model, params, chunk, inner_steps, inner_lr, loss_fn,
                                        first_order, step_weights)
            w = chunk.num_tasks / T
            total_loss = total_loss + w * loss
            total = ({k: w * g for k, g in grads.items()} if total is None
                     else {k: total[k] + w * g for k, g in grads.items()})
        return total_loss, total
    learn_lr = isinstance(inner_lr, Mapping)

    theta = {k: v.detach().requires_grad_(True) for k, v in params.items()}
    lrs = ({k: v.detach().requires_grad_(True) for k, v in inner_lr.items()} if learn_lr
           else inner_lr)
    with torch.enable_grad():
        loss = _maml_objective(model, theta, batch, inner_steps, lrs, loss_fn, first_order,
                               step_weights).mean()
        leaves = list(theta.values()) + (list(lrs.values()) if learn_lr else [])
        grads = torch.autograd.grad(loss, leaves, allow_unused=True)
    names = list(theta) + ([LR_PREFIX + k for k in lrs] if learn_lr else [])
    out = {n: (g if g is not None else torch.zeros_like(v))
           for n, g, v in zip(names, grads, leaves)}
    return loss.detach(), out


# --------------------------------------------------------------------------- pretrained baseline
def pretrained_loss(
    model: nn.Module,
    params: Mapping[str, torch.Tensor],
    batch: TaskBatch | Sequence[torch.Tensor],
    loss_fn: LossFn = mse_loss,
) -> torch.Tensor:
    """Joint-training loss of the "pretrained" baseline: one model fitted to the support and
    query points of all ``T`` tasks pooled together (no adaptation). Scalar."""
    batch = _check(params, batch)

    def one_task(p, xs, ys, xq, yq):
        return loss_at(model, p, torch.cat([xs, xq]), torch.cat([ys, yq]), loss_fn)

    return torch.vmap(one_task, in_dims=(None, 0, 0, 0, 0))(dict(params), *batch).mean()


def pretrained_gradient(
    model: nn.Module,
    params: Mapping[str, torch.Tensor],
    batch: TaskBatch | Sequence[torch.Tensor],
    loss_fn: LossFn = mse_loss,
) -> tuple[torch.Tensor, Params]:
    """``(loss, grads)`` of :func:`pretrained_loss` (detached)."""
    theta = {k: v.detach() for k, v in params.items()}
    grads, loss = torch.func.grad_and_value(
        lambda p: pretrained_loss(model, p, batch, loss_fn))(theta)
    return loss.detach(), grads


# --------------------------------------------------------------------------- test time
def adapt(
    model: nn.Module,
    params: Mapping[str, torch.Tensor],
    batch: TaskBatch | Sequence[torch.Tensor],
    steps: int,
    inner_lr: InnerLR,
    loss_fn: LossFn = mse_loss,
) -> Params:
    """Test-time adaptation: ``steps`` SGD steps on each task's support set, from ``params``.

    Returns adapted parameters with a leading task dimension, ``{name: (T, *shape)}``
    (detached). Use :func:`predict` to run them.
    """
    batch = _check(params, batch)
    theta = {k: v.detach() for k, v in params.items()}
    lr = _lr_for(inner_lr, theta)
    if isinstance(lr, Mapping):
        lr = {k: v.detach() for k, v in lr.items()}
    phi = batched_inner_adapt(model, theta, batch.x_support, batch.y_support, steps, lr, loss_fn,
                              first_order=True)
    return {k: v.detach() for k, v in phi.items()}


def predict(model: nn.Module, params: Mapping[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """Outputs ``(T, N, …)`` of per-task parameters ``{name: (T, …)}`` on inputs ``x (T, N, …)``.

    Parameters without a task dimension (e.g. the meta-parameters θ) are broadcast.
    """
    names = list(params)
    batched = [params[k].dim() == dict(model.named_parameters())[k].dim() + 1 for k in names]
    in_dims = ({k: (0 if b else None) for k, b in zip(names, batched)}, 0)
    with torch.no_grad():
        return torch.vmap(lambda p, xx: forward(model, p, xx), in_dims=in_dims)(dict(params), x)


def evaluate_adaptation(
    model: nn.Module,
    params: Mapping[str, torch.Tensor],
    batch: TaskBatch | Sequence[torch.Tensor],
    steps: int,
    inner_lr: InnerLR,
    loss_fn: LossFn = mse_loss,
    chunk_size: int | None = 1000,
) -> torch.Tensor:
    """Query loss after 0, 1, …, ``steps`` test-time SGD steps: a ``(T, steps + 1)`` tensor.

    Column 0 is the loss of the meta-parameters themselves, column j the loss after j steps on
    the task's support set. Tasks are processed ``chunk_size`` at a time (all tasks of a chunk
    at once, as in :func:`maml_loss`); no graph is kept.
    """
    batch = _check(params, batch)
    theta = {k: v.detach() for k, v in params.items()}
    lr = _lr_for(inner_lr, theta)
    if isinstance(lr, Mapping):
        lr = {k: v.detach() for k, v in lr.items()}
    query_losses = torch.vmap(lambda p, x, y: loss_at(model, p, x, y, loss_fn))
    T = batch.num_tasks
    size = T if chunk_size is None else chunk_size
    rows = []
    for start in range(0, T, size):
        xs, ys, xq, yq = (t[start:start + size] for t in batch)
        traj = batched_inner_adapt(model, theta, xs, ys, steps, lr, loss_fn, first_order=True,
                                   return_trajectory=True)
        with torch.no_grad():
            rows.append(torch.stack([query_losses(phi, xq, yq) for phi in traj], dim=1))
    return torch.cat(rows).detach()


def confidence_interval(losses: torch.Tensor, dim: int = 0, z: float = 1.96
                        ) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and half-width of the normal-approximation 95 % CI along ``dim`` (``z=1.96``)."""
    n = losses.shape[dim]
    mean = losses.mean(dim)
    half = z * losses.std(dim, unbiased=True) / math.sqrt(n) if n > 1 else torch.zeros_like(mean)
    return mean, half


def saved_tensor_bytes(fn: Callable[[], Any]) -> tuple[Any, int]:
    """Run ``fn()`` and return ``(result, peak)``: the largest total size in bytes of the tensors
    autograd kept for backward passes at any moment during ``fn`` (a deterministic, device-free
    memory measure; a tensor saved by two operations counts twice, so it is an upper bound)."""
    live, peak = [0], [0]

    class _Saved:
        __slots__ = ("t", "n")

        def __init__(self, t: torch.Tensor) -> None:
            self.t, self.n = t, t.numel() * t.element_size()
            live[0] += self.n
            peak[0] = max(peak[0], live[0])

        def __del__(self) -> None:
            live[0] -= self.n

    with torch.autograd.graph.saved_tensors_hooks(_Saved, lambda s: s.t):
        out = fn()
    return out, peak[0]


# --------------------------------------------------------------------------- registry
_ALGORITHMS: dict[str, tuple[Callable, Callable | None]] = {}


def register_algorithm(
    name: str,
    factory: Callable[[nn.Module, MetaConfig, LossFn], MetaGradFn],
    init: Callable[[nn.Module, MetaConfig], Params] | None = None,
    overwrite: bool = False,
) -> None:
    """Register ``factory(model, config, loss_fn) -> meta_grad_fn`` under ``name``.

    ``init(model, config) -> meta_params`` builds the initial meta-parameters when they are not
    just the model's parameters (default). See the module docstring for the protocol.
    """
    if name in _ALGORITHMS and not overwrite:
        raise ValueError(f"algorithm {name!r} is already registered")
    _ALGORITHMS[name] = (factory, init)


def registered_algorithms() -> list[str]:
    """Names usable as ``MetaConfig.algorithm``."""
    return sorted(_ALGORITHMS)


def _maml_factory(model: nn.Module, config: MetaConfig, loss_fn: LossFn) -> MetaGradFn:
    first_order = config.first_order or config.algorithm == "fomaml"
    anneal = config.msl_anneal_iterations

    def meta_grad_fn(meta_params: Params, batch: TaskBatch, iteration: int = 0):
        params, lrs = split_meta_params(meta_params)
        weights = (msl_weights(config.inner_steps, iteration, anneal)
                   if config.multi_step_loss else None)
        return meta_gradient(model, params, batch, config.inner_steps,
                             lrs if lrs is not None else config.inner_lr, loss_fn,
                             first_order, weights, config.options.get("task_chunk_size"))

    return meta_grad_fn


def _maml_init(model: nn.Module, config: MetaConfig) -> Params:
    p = model_params(model, detach=True)
    if config.learn_inner_lr or config.algorithm == "metasgd":
        p.update({LR_PREFIX + k: torch.full_like(v, config.inner_lr) for k, v in list(p.items())})
    return p


def _pretrained_factory(model: nn.Module, config: MetaConfig, loss_fn: LossFn) -> MetaGradFn:
    def meta_grad_fn(meta_params: Params, batch: TaskBatch):
        return pretrained_gradient(model, meta_params, batch, loss_fn)

    return meta_grad_fn


for _name in ("maml", "fomaml", "metasgd"):
    register_algorithm(_name, _maml_factory, _maml_init)
register_algorithm("pretrained", _pretrained_factory, None)


def make_meta_grad_fn(model: nn.Module, config: MetaConfig, loss_fn: LossFn = mse_loss
                      ) -> MetaGradFn:
    """The registered meta-gradient function for ``config.algorithm``."""
    if config.algorithm not in _ALGORITHMS:
        raise KeyError(f"unknown algorithm {config.algorithm!r}; registered: "
                       f"{registered_algorithms()} (add one with register_algorithm)")
    return _ALGORITHMS[config.algorithm][0](model, config, loss_fn)


def init_meta_params(model: nn.Module, config: MetaConfig) -> Params:
    """Initial meta-parameters for ``config.algorithm`` (detached copies)."""
    init = _ALGORITHMS.get(config.algorithm, (None, None))[1]
    return init(model, config) if init is not None else model_params(model, detach=True)


# --------------------------------------------------------------------------- training loop
def _sampler(task_sampler: Any) -> Callable[..., TaskBatch]:
    if hasattr(task_sampler, "sample"):
        return task_sampler.sample
    if callable(task_sampler):
        return task_sampler
    raise TypeError("task_sampler must have .sample(num_tasks, k_support, k_query, generator=, "
                    "device=) or be such a callable")


def _accepts_iteration(fn: Callable) -> bool:
    try:
        return "iteration" in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


def meta_train(
    model: nn.Module,
    task_sampler: Any,
    config: MetaConfig,
    meta_grad_fn: MetaGradFn | None = None,
    params: Mapping[str, torch.Tensor] | None = None,
    loss_fn: LossFn = mse_loss,
    device: str | torch.device | None = None,
    progress: bool = True,
    callback: Callable[[int, Params, dict[str, list]], bool | None] | None = None,
) -> tuple[Params, dict[str, list]]:
    """Meta-train for ``config.iterations`` iterations; return ``(meta_params, history)``.

    ``callback(iteration, meta_params, history)``, if given, runs after every meta-update
    (``meta_params`` are the live tensors: read them, do not modify them); returning ``True``
    stops training early (e.g. on a validation plateau).

    Each iteration samples ``config.meta_batch_size`` tasks, calls
    ``meta_grad_fn(meta_params, batch)`` (default: from ``config.algorithm``), stops with a
    ``FloatingPointError`` naming the iteration if the loss is NaN/inf, and takes one Adam (or
    SGD) step with ``config.meta_lr``. ``params`` (default :func:`init_meta_params`) are
    copied, never modified in place; the model is moved to ``device`` (default
    :func:`get_device`). The protocol and ``history`` layout are in the module docstring.
    Under torchrun each rank trains on its share of every meta-batch (see
    :mod:`course_pkg.distributed`); ``meta_grad_fn`` must then return means over its tasks.
    """
    from tqdm.auto import tqdm

    dev = dist.setup(device)  # get_device(device); under torchrun: join the group, rank's device
    model.to(dev)
    if params is None:
        params = init_meta_params(model, config)
    meta = {k: v.detach().to(dev).clone().requires_grad_(True) for k, v in params.items()}
    dist.broadcast_params(meta)  # torchrun: every rank starts from rank 0's parameters
    grad_fn = meta_grad_fn if meta_grad_fn is not None else make_meta_grad_fn(model, config,
                                                                             loss_fn)
    pass_it = _accepts_iteration(grad_fn)
    sample = _sampler(task_sampler)
    gen = torch.Generator()
    gen.manual_seed(config.seed)
    leaves = list(meta.values())
    opt = (torch.optim.Adam(leaves, lr=config.meta_lr, foreach=True) if config.optimizer == "adam"
           else torch.optim.SGD(leaves, lr=config.meta_lr, foreach=True))

    history: dict[str, list] = {"iteration": [], "loss": []}
    eval_batch = None
    if config.eval_every > 0:
        history["eval_iteration"], history["eval_loss"] = [], []
        eval_batch = sample(config.eval_tasks, config.k_support, config.k_query,
                            generator=config.seed + 1_000_003, device=dev)

    def run_eval(it: int) -> None:
        p, lrs = split_meta_params(meta)
        losses = evaluate_adaptation(model, p, eval_batch, config.inner_steps,
                                     lrs if lrs is not None else config.inner_lr, loss_fn)
        history["eval_iteration"].append(it)
        history["eval_loss"].append(losses[:, -1].mean().item())

    # tqdm's notebook bar ignores $TQDM_DISABLE (set by `make book`); honour it here
    quiet = os.environ.get("TQDM_DISABLE", "").lower() in {"1", "true", "yes"}
    bar = tqdm(range(config.iterations), desc=f"meta-train {config.algorithm}",
               disable=not progress or quiet or not dist.is_main(), leave=False)
    for it in bar:
        if eval_batch is not None and it % config.eval_every == 0:
            run_eval(it)
        batch = as_task_batch(sample(config.meta_batch_size, config.k_support, config.k_query,
                                     generator=gen, device=dev))
        batch = dist.shard(batch, config.meta_batch_size)  # torchrun: this rank's tasks
        loss, grads = grad_fn(meta, batch, iteration=it) if pass_it else grad_fn(meta, batch)
        loss, grads = dist.average(loss, grads, batch.num_tasks, config.meta_batch_size)
        check_finite(loss, it, what="meta-loss")
        unknown = set(grads) - set(meta)
        if unknown:
            raise KeyError(f"meta_grad_fn returned gradients for unknown keys {sorted(unknown)}")
        for k, v in meta.items():
            g = grads.get(k)
            v.grad = None if g is None else g.detach().to(v.dtype)
        if config.grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(leaves, config.grad_clip)
        opt.step()
        lv = loss.item()
        history["iteration"].append(it)
        history["loss"].append(lv)
        if it % 50 == 0:
            bar.set_postfix(loss=f"{lv:.3f}")
        if callback is not None and dist.any_rank(callback(it, meta, history)):
            break
    if eval_batch is not None:
        run_eval(config.iterations)
    return {k: v.detach() for k, v in meta.items()}, history

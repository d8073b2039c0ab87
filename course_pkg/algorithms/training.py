"""The outer loop shared by every optimization-based algorithm: :class:`MetaConfig`, the
algorithm registry and :func:`meta_train`.

``meta_train(model, task_sampler, config, meta_grad_fn=None, params=None, loss_fn=mse_loss,
device=None, progress=True, callback=None) -> (meta_params, history)``

- ``task_sampler``: an object with ``.sample(num_tasks, k_support, k_query, generator=,
  device=) -> TaskBatch`` (e.g. :class:`course_pkg.tasks.SinusoidTasks`) or a callable with that
  signature. ``meta_train`` owns one seeded ``torch.Generator`` (``config.seed``), so runs are
  reproducible.
- ``config``: a :class:`MetaConfig` (iterations, meta_batch_size, k_support, k_query,
  inner_steps, inner_lr, meta_lr, ``optimizer`` ``"adam"`` or ``"sgd"``, seed, ``method``
  name, free-form ``options`` dict for algorithm-specific settings).
- ``meta_grad_fn(meta_params, batch) -> (loss, grads)``: ``meta_params`` is the dict being
  meta-learned (for MAML: the model's parameters; for Meta-SGD: parameters plus
  ``"inner_lr:<name>"`` entries), ``batch`` a :class:`TaskBatch` on the training device.
  ``loss`` is a scalar tensor that is logged and checked for NaN/inf; ``grads`` maps (a subset of)
  the keys of ``meta_params`` to tensors of the same shapes, the *descent direction's gradient*:
  the optimizer does ``θ ← θ − meta_lr · grads`` (SGD) or the Adam equivalent. A first-order
  method that is not a gradient (Reptile) returns its pseudo-gradient, e.g. ``θ − φ̄``. If the
  function accepts a keyword argument ``iteration``, ``meta_train`` passes the 0-based
  meta-iteration (used by MAML++'s annealed step weights).
- When ``meta_grad_fn`` is ``None`` it is built from ``config.method`` through
  :data:`ALGORITHMS` (``"maml"``, ``"fomaml"``, ``"metasgd"``, ``"pretrained"``, ``"reptile"``,
  ``"imaml"``; :func:`register_algorithm` adds yours).
- ``callback(iteration, meta_params, history) -> stop?`` runs after every meta-update.
- ``history`` is a dict of lists: ``"iteration"``, ``"loss"`` (every iteration), and when
  ``config.eval_every > 0`` also ``"eval_iteration"``, ``"eval_loss"`` (mean query loss after
  ``config.inner_steps`` steps on a fixed held-out batch of ``config.eval_tasks`` tasks).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from course_pkg import distributed as dist
from course_pkg.algorithms.core import (
    LossFn,
    MetaGradFn,
    Params,
    as_task_batch,
    mse_loss,
    split_meta_params,
)
from course_pkg.algorithms.evaluation import evaluate_adaptation
from course_pkg.algorithms.imaml import make_imaml_grad_fn
from course_pkg.algorithms.maml import (
    init_maml_params,
    make_maml_grad_fn,
    make_pretrained_grad_fn,
)
from course_pkg.algorithms.reptile import make_reptile_grad_fn
from course_pkg.models import params as model_params
from course_pkg.tasks import TaskBatch
from course_pkg.utils import as_generator, check_finite
from course_pkg.utils import progress as progress_bar
from course_pkg.utils.config import Config

__all__ = [
    "ALGORITHMS",
    "MetaConfig",
    "init_meta_params",
    "make_meta_grad_fn",
    "meta_train",
    "register_algorithm",
    "registered_algorithms",
]


# --------------------------------------------------------------------------- configuration
@dataclass(frozen=True, eq=False)
class MetaConfig(Config):
    """Settings of one meta-training run (defaults: the sinusoid experiment of Finn et al.); a
    :class:`~course_pkg.utils.config.Config` (typed, stored as JSON, every field kept).

    ``inner_steps``/``inner_lr`` are k and α of the inner loop, ``meta_lr`` is β,
    ``meta_batch_size`` the number of tasks per meta-iteration, ``k_support``/``k_query`` the
    shots. ``method`` picks a registered meta-gradient (``maml``, ``fomaml``, ``metasgd``,
    ``pretrained``, or one registered by another module); ``first_order``, ``learn_inner_lr``
    (Meta-SGD) and ``multi_step_loss`` (MAML++, weights annealed over
    ``msl_anneal_iterations``) modify ``maml``. ``options`` holds algorithm-specific extras
    (for the MAML family: ``{"task_chunk_size": n}``, see
    :func:`~course_pkg.algorithms.maml.meta_gradient`; for iMAML ``imaml_lambda``, ``cg_steps``,
    …). With ``eval_every > 0`` the held-out batch of
    ``eval_tasks`` tasks is drawn with seed ``seed + eval_seed_offset``.
    """

    iterations: int = 1000
    meta_batch_size: int = 25
    k_support: int = 10
    k_query: int = 10
    inner_steps: int = 1
    inner_lr: float = 0.01
    meta_lr: float = 1e-3
    optimizer: str = "adam"
    method: str = "maml"
    first_order: bool = False
    learn_inner_lr: bool = False
    multi_step_loss: bool = False
    msl_anneal_iterations: int | None = None
    grad_clip: float | None = None
    seed: int = 0
    eval_every: int = 0
    eval_tasks: int = 100
    eval_seed_offset: int = 1_000_003
    options: dict[str, Any] = field(default_factory=dict)

    KEEP_NONE = True

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.iterations < 0 or self.meta_batch_size < 1 or self.inner_steps < 0:
            raise ValueError("iterations ≥ 0, meta_batch_size ≥ 1 and inner_steps ≥ 0 required")
        if self.optimizer not in ("adam", "sgd"):
            raise ValueError(f"optimizer must be 'adam' or 'sgd', got {self.optimizer!r}")


# --------------------------------------------------------------------------- registry
#: One entry per algorithm name: ``(factory, init)`` with
#: ``factory(model, config, loss_fn) -> meta_grad_fn`` and optional
#: ``init(model, config) -> meta_params`` (default: the model's parameters). Listed here, not
#: registered by importing modules; :func:`register_algorithm` adds one of your own.
ALGORITHMS: dict[str, tuple[Callable, Callable | None]] = {
    "maml": (make_maml_grad_fn, init_maml_params),
    "fomaml": (make_maml_grad_fn, init_maml_params),
    "metasgd": (make_maml_grad_fn, init_maml_params),
    "pretrained": (make_pretrained_grad_fn, None),
    "reptile": (make_reptile_grad_fn, None),
    "imaml": (make_imaml_grad_fn, None),
}


def register_algorithm(
    name: str,
    factory: Callable[[nn.Module, MetaConfig, LossFn], MetaGradFn],
    init: Callable[[nn.Module, MetaConfig], Params] | None = None,
    overwrite: bool = False,
) -> None:
    """Add ``factory(model, config, loss_fn) -> meta_grad_fn`` to :data:`ALGORITHMS` as ``name``
    (your own algorithm; the course's are listed there already).

    ``init(model, config) -> meta_params`` builds the initial meta-parameters when they are not
    just the model's parameters (default). See the module docstring for the protocol.
    """
    if name in ALGORITHMS and not overwrite:
        raise ValueError(f"algorithm {name!r} is already registered")
    ALGORITHMS[name] = (factory, init)


def registered_algorithms() -> list[str]:
    """Names usable as ``MetaConfig.method``."""
    return sorted(ALGORITHMS)


def make_meta_grad_fn(model: nn.Module, config: MetaConfig, loss_fn: LossFn = mse_loss
                      ) -> MetaGradFn:
    """The meta-gradient function of ``config.method`` (from :data:`ALGORITHMS`)."""
    if config.method not in ALGORITHMS:
        raise KeyError(f"unknown method {config.method!r}; registered: "
                       f"{registered_algorithms()} (add one with register_algorithm)")
    return ALGORITHMS[config.method][0](model, config, loss_fn)


def init_meta_params(model: nn.Module, config: MetaConfig) -> Params:
    """Initial meta-parameters for ``config.method`` (detached copies)."""
    init = ALGORITHMS.get(config.method, (None, None))[1]
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
    resume: Mapping[str, Any] | None = None,
) -> tuple[Params, dict[str, list]]:
    """Meta-train for ``config.iterations`` iterations; return ``(meta_params, history)``.

    ``callback(iteration, meta_params, history)``, if given, runs after every meta-update
    (``meta_params`` are the live tensors: read them, do not modify them); returning ``True``
    stops training early (e.g. on a validation plateau or a spent compute budget). A callback
    with a ``bind(get_state)`` method is handed ``get_state() -> dict``, the trainer's whole
    state after the last update (``iteration`` done, ``params``, ``optimizer``, ``generator``,
    ``torch_rng``, ``history``); passing such a dict back as ``resume`` continues the run
    exactly where it was (same parameters as an uninterrupted run).

    Each iteration samples ``config.meta_batch_size`` tasks, calls
    ``meta_grad_fn(meta_params, batch)`` (default: from ``config.method``), stops with a
    ``FloatingPointError`` naming the iteration if the loss is NaN/inf, and takes one Adam (or
    SGD) step with ``config.meta_lr``. ``params`` (default :func:`init_meta_params`) are
    copied, never modified in place; the model is moved to ``device`` (default
    :func:`get_device`). The protocol and ``history`` layout are in the module docstring.
    Under torchrun each rank trains on its share of every meta-batch (see
    :mod:`course_pkg.distributed`); ``meta_grad_fn`` must then return means over its tasks.
    """
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
    gen = as_generator(config.seed)
    leaves = list(meta.values())
    opt = (torch.optim.Adam(leaves, lr=config.meta_lr, foreach=True) if config.optimizer == "adam"
           else torch.optim.SGD(leaves, lr=config.meta_lr, foreach=True))

    history: dict[str, list] = {"iteration": [], "loss": []}
    start = 0
    if resume is not None:
        start = int(resume["iteration"])
        with torch.no_grad():
            for k, v in meta.items():
                v.copy_(resume["params"][k].to(dev))
        opt.load_state_dict(resume["optimizer"])
        gen.set_state(resume["generator"])
        torch.set_rng_state(resume["torch_rng"])
        history = {k: list(v) for k, v in resume["history"].items()}

    def get_state() -> dict[str, Any]:
        return {"iteration": history["iteration"][-1] + 1 if history["iteration"] else 0,
                "params": {k: v.detach().cpu().clone() for k, v in meta.items()},
                "optimizer": opt.state_dict(), "generator": gen.get_state(),
                "torch_rng": torch.get_rng_state(),
                "history": {k: list(v) for k, v in history.items()}}

    if callback is not None and hasattr(callback, "bind"):
        callback.bind(get_state)
    eval_batch = None
    if config.eval_every > 0:
        history.setdefault("eval_iteration", [])
        history.setdefault("eval_loss", [])
        eval_batch = sample(config.eval_tasks, config.k_support, config.k_query,
                            generator=config.seed + config.eval_seed_offset, device=dev)

    def run_eval(it: int) -> None:
        p, lrs = split_meta_params(meta)
        losses = evaluate_adaptation(model, p, eval_batch, config.inner_steps,
                                     lrs if lrs is not None else config.inner_lr, loss_fn)
        history["eval_iteration"].append(it)
        history["eval_loss"].append(losses[:, -1].mean().item())

    bar = progress_bar(range(start, config.iterations), desc=f"meta-train {config.method}",
                       disable=not progress or not dist.is_main(), leave=False)
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

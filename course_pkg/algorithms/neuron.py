"""The single-neuron worked example of chapter 1: ``f_θ(x) = θ x`` with a sum-of-squares loss.

Everything the chapter computes is here three times, so the three can be checked against each
other:

Closed form (the equations of the worked example, seed 000)
    :func:`loss` (eq. 1/5/10), :func:`loss_grad` (eq. 2/6/13), :func:`gradient_step` (eq. 3/7),
    :func:`adapt` (``k`` steps, eq. 21–22), :func:`adaptation_derivative` (eq. 14/28:
    ``(1 − 2αΣx²)ᵏ``), :func:`task_meta_gradient` (eq. 12–15 and 26–27),
    :func:`meta_gradient`, :func:`meta_update` (eq. 11/25), :func:`meta_loss` (eq. 9/24),
    :func:`multitask_loss`, and the minimisers :func:`least_squares_weight`,
    :func:`meta_loss_minimizer` with :func:`meta_loss_curvature` and :func:`stable_lr_bound`.
Plain autograd (``torch.autograd.grad`` through the inner steps with ``create_graph=True``)
    :func:`autograd_loss_grad`, :func:`autograd_adapt`, :func:`autograd_adaptation_derivative`,
    :func:`autograd_task_meta_gradient`, :func:`autograd_meta_gradient`,
    :func:`autograd_meta_update`.
The course's general implementation (the code MAML uses in later chapters)
    :func:`general_adapt` (:func:`course_pkg.algorithms.core.inner_adapt` on an
    ``nn.Linear(1, 1, bias=False)``), :func:`general_task_meta_gradient`,
    :func:`general_meta_gradient`, :func:`general_meta_update`
    (:func:`course_pkg.algorithms.maml.meta_gradient` with :func:`sum_of_squares`).

Data are small 1-D tensors: a dataset is ``x (N,)``, ``y (N,)`` (build it with :func:`as_data`
from ``(x, y)`` pairs), a task is a :class:`NeuronTask`. The closed-form functions broadcast over
``theta`` (a float or a tensor of any shape, e.g. a grid for plotting) and return a tensor of
``theta``'s shape; the autograd and general functions take a scalar ``theta``.

Note that the example calls its loss "MSE" but sums the squared errors without dividing by the
number of points; every number of the chapter (0.8, 0.6, −8.2, 4.48, 3028.48, −1515.48) depends on
that choice, so the loss here is the sum.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from course_pkg.algorithms import maml as _maml
from course_pkg.algorithms.core import inner_adapt
from course_pkg.tasks import TaskBatch

ArrayLike = torch.Tensor | Sequence[float] | Sequence[Sequence[float]]
Theta = float | torch.Tensor

__all__ = [
    "NeuronTask",
    "SGD_EXAMPLE",
    "SEED_TASKS",
    "adapt",
    "adaptation_derivative",
    "as_data",
    "autograd_adapt",
    "autograd_adaptation_derivative",
    "autograd_loss_grad",
    "autograd_meta_gradient",
    "autograd_meta_update",
    "autograd_task_meta_gradient",
    "general_adapt",
    "general_meta_gradient",
    "general_meta_update",
    "general_task_meta_gradient",
    "gradient_step",
    "least_squares_weight",
    "linear_neuron",
    "loss",
    "loss_grad",
    "meta_gradient",
    "meta_loss",
    "meta_loss_curvature",
    "meta_loss_minimizer",
    "meta_update",
    "multitask_loss",
    "seed_tasks",
    "stable_lr_bound",
    "sum_of_squares",
    "task_meta_gradient",
    "to_task_batch",
]

#: The dataset of the supervised-learning example (seed table 1): ``(x, y)`` pairs.
SGD_EXAMPLE: tuple[tuple[float, float], ...] = ((1.0, 2.0), (2.0, 4.0), (3.0, 1.0))

#: The two tasks of the MAML walk-through (seed table 2) as ``(support pairs, query pairs)``.
SEED_TASKS: tuple[tuple[tuple[tuple[float, float], ...], tuple[tuple[float, float], ...]], ...] = (
    (((2.0, 4.0), (3.0, 1.0)), ((1.0, 2.0),)),
    (((5.0, 3.0), (6.0, 0.0)), ((4.0, 1.0),)),
)


# --------------------------------------------------------------------------- data
def _as_vector(v: ArrayLike, name: str, dtype: torch.dtype | None) -> torch.Tensor:
    t = v if isinstance(v, torch.Tensor) else torch.as_tensor(v, dtype=torch.float64)
    if not t.is_floating_point():
        t = t.to(torch.float64)
    if dtype is not None:
        t = t.to(dtype)
    if t.dim() == 2 and t.shape[1] == 1:
        t = t[:, 0]
    if t.dim() != 1:
        raise ValueError(
            f"{name} must be a 1-D tensor of N scalars (the neuron has one input); "
            f"got shape {tuple(t.shape)}"
        )
    return t


def as_data(
    x_or_pairs: ArrayLike,
    y: ArrayLike | None = None,
    dtype: torch.dtype | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """A dataset as two 1-D tensors ``x (N,)``, ``y (N,)``.

    Pass either ``(x, y)`` pairs (a sequence or an ``(N, 2)`` array), or ``x`` and ``y``
    separately (shape ``(N,)`` or ``(N, 1)``). Python numbers and integer tensors become float64,
    floating tensors keep their dtype; ``dtype`` forces one. Raises ``ValueError`` for other
    shapes, different lengths or an empty dataset.
    """
    if y is None:
        pairs = (x_or_pairs if isinstance(x_or_pairs, torch.Tensor)
                 else torch.as_tensor(x_or_pairs, dtype=torch.float64))
        if pairs.dim() != 2 or pairs.shape[1] != 2:
            raise ValueError(
                "expected (x, y) pairs of shape (N, 2), e.g. [(1, 2), (2, 4)]; "
                f"got shape {tuple(pairs.shape)}"
            )
        x_t = _as_vector(pairs[:, 0], "x", dtype)
        y_t = _as_vector(pairs[:, 1], "y", dtype)
    else:
        x_t = _as_vector(x_or_pairs, "x", dtype)
        y_t = _as_vector(y, "y", dtype)
    if x_t.shape != y_t.shape:
        raise ValueError(
            f"x and y must have the same length; got x {tuple(x_t.shape)} and y {tuple(y_t.shape)}"
        )
    if x_t.numel() == 0:
        raise ValueError("the dataset is empty; the neuron needs at least one (x, y) pair")
    if x_t.device != y_t.device:
        raise ValueError(f"x is on {x_t.device} but y is on {y_t.device}")
    if x_t.dtype != y_t.dtype:
        y_t = y_t.to(x_t.dtype)
    return x_t, y_t


@dataclass(frozen=True)
class NeuronTask:
    """One task ``D_j = {S_j, Q_j}``: support ``x_support, y_support (K,)`` and query
    ``x_query, y_query (Q,)`` (1-D tensors of one dtype and device; validated on creation)."""

    x_support: torch.Tensor
    y_support: torch.Tensor
    x_query: torch.Tensor
    y_query: torch.Tensor

    def __post_init__(self) -> None:
        xs, ys = as_data(self.x_support, self.y_support)
        xq, yq = as_data(self.x_query, self.y_query, dtype=xs.dtype)
        if xs.device != xq.device:
            raise ValueError(f"support set is on {xs.device} but query set is on {xq.device}")
        for name, value in zip(("x_support", "y_support", "x_query", "y_query"),
                               (xs, ys, xq, yq)):
            object.__setattr__(self, name, value)

    @classmethod
    def from_pairs(
        cls,
        support: ArrayLike,
        query: ArrayLike,
        dtype: torch.dtype = torch.float64,
    ) -> NeuronTask:
        """Build a task from ``(x, y)`` pairs, e.g. ``from_pairs([(2, 4), (3, 1)], [(1, 2)])``."""
        xs, ys = as_data(support, dtype=dtype)
        xq, yq = as_data(query, dtype=dtype)
        return cls(xs, ys, xq, yq)

    @property
    def support(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(x_support, y_support)``."""
        return self.x_support, self.y_support

    @property
    def query(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(x_query, y_query)``."""
        return self.x_query, self.y_query

    @property
    def pooled(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``S_j ∪ Q_j`` as ``(x, y)`` (what plain multi-task training fits)."""
        return (torch.cat([self.x_support, self.x_query]),
                torch.cat([self.y_support, self.y_query]))


def seed_tasks(dtype: torch.dtype = torch.float64) -> list[NeuronTask]:
    """The two tasks of the worked example: ``S₁={(2,4),(3,1)}, Q₁={(1,2)}``,
    ``S₂={(5,3),(6,0)}, Q₂={(4,1)}``."""
    return [NeuronTask.from_pairs(s, q, dtype=dtype) for s, q in SEED_TASKS]


def _check_tasks(tasks: Sequence[NeuronTask]) -> list[NeuronTask]:
    tasks = list(tasks)
    if not tasks:
        raise ValueError("need at least one task")
    for i, t in enumerate(tasks):
        if not isinstance(t, NeuronTask):
            raise TypeError(f"task {i} is a {type(t).__name__}; build it with "
                            "NeuronTask.from_pairs(support_pairs, query_pairs)")
    return tasks


def _theta(theta: Theta, like: torch.Tensor) -> torch.Tensor:
    """``theta`` as a tensor on ``like``'s device (floats get ``like``'s dtype)."""
    if isinstance(theta, torch.Tensor):
        if theta.device != like.device:
            raise ValueError(f"theta is on {theta.device} but the data are on {like.device}")
        return theta
    return torch.tensor(float(theta), dtype=like.dtype, device=like.device)


def _check_steps(inner_steps: int) -> int:
    if isinstance(inner_steps, bool) or not isinstance(inner_steps, int) or inner_steps < 0:
        raise ValueError(f"inner_steps must be an integer ≥ 0, got {inner_steps!r}")
    return inner_steps


# --------------------------------------------------------------------------- closed form
def loss(theta: Theta, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Sum of squared errors ``L(θ) = Σᵢ (yᵢ − θ xᵢ)²`` (eq. 1, 5, 10).

    ``x, y (N,)``; ``theta`` a float or a tensor of any shape ``(…)``; returns shape ``(…)``.
    """
    x, y = as_data(x, y)
    th = _theta(theta, x)
    return ((y - th[..., None] * x) ** 2).sum(-1)


def loss_grad(theta: Theta, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``∂L/∂θ = −2 Σᵢ xᵢ (yᵢ − θ xᵢ)`` (eq. 2, 6, 13); broadcasts over ``theta`` like
    :func:`loss`."""
    x, y = as_data(x, y)
    th = _theta(theta, x)
    return -2.0 * (x * (y - th[..., None] * x)).sum(-1)


def gradient_step(theta: Theta, x: torch.Tensor, y: torch.Tensor, inner_lr: float) -> torch.Tensor:
    """One SGD step ``θ − α ∂L/∂θ = θ + 2α Σᵢ xᵢ (yᵢ − θ xᵢ)`` (eq. 3, 4, 7)."""
    x, y = as_data(x, y)
    th = _theta(theta, x)
    return th - inner_lr * loss_grad(th, x, y)


def adapt(theta: Theta, x: torch.Tensor, y: torch.Tensor, inner_steps: int, inner_lr: float
          ) -> torch.Tensor:
    """``W⁽ᵏ⁾(θ)``: ``k = inner_steps`` gradient steps on ``(x, y)`` from ``θ`` (eq. 21–22).

    ``inner_steps=0`` returns ``θ``. The map is affine in ``θ``:
    ``W⁽ᵏ⁾(θ) = W⁽ᵏ⁾(0) + (1 − 2αΣx²)ᵏ θ`` (see :func:`adaptation_derivative`).
    """
    x, y = as_data(x, y)
    phi = _theta(theta, x)
    for _ in range(_check_steps(inner_steps)):
        phi = gradient_step(phi, x, y, inner_lr)
    return phi


def adaptation_derivative(
    x_support: torch.Tensor,
    inner_steps: int,
    inner_lr: float,
) -> torch.Tensor:
    """``∂W⁽ᵏ⁾/∂θ = (1 − 2α Σᵢ xᵢ²)ᵏ`` (eq. 14 for ``k = 1``, eq. 28–29 in general).

    Each step multiplies by ``∂φ⁽ᵗ⁾/∂φ⁽ᵗ⁻¹⁾ = 1 − 2αΣx²``, a constant because the loss is
    quadratic. Depends on the support inputs only, not on ``θ`` or the targets. Scalar tensor.
    """
    x = _as_vector(x_support, "x_support", None)
    return (1.0 - 2.0 * inner_lr * (x**2).sum()) ** _check_steps(inner_steps)


def task_meta_gradient(theta: Theta, task: NeuronTask, inner_steps: int, inner_lr: float
                       ) -> torch.Tensor:
    """Per-task meta-gradient ``∂L_Q(W⁽ᵏ⁾(θ))/∂θ = ∂W⁽ᵏ⁾/∂θ · ∂L_Q/∂φ |_{φ=W⁽ᵏ⁾(θ)}``.

    The product of eq. 12 (``k = 1``: eq. 14 × eq. 13 = eq. 15) and eq. 26–28 for ``k`` inner_steps.
    Broadcasts over ``theta``.
    """
    phi = adapt(theta, *task.support, inner_steps, inner_lr)
    dphi = adaptation_derivative(task.x_support, inner_steps, inner_lr)
    return dphi * loss_grad(phi, *task.query)


def meta_gradient(theta: Theta, tasks: Sequence[NeuronTask], inner_steps: int, inner_lr: float
                  ) -> torch.Tensor:
    """``∂/∂θ Σⱼ L_Qⱼ(Wⱼ⁽ᵏ⁾(θ))``: the sum over tasks of :func:`task_meta_gradient`."""
    return sum(task_meta_gradient(theta, t, inner_steps, inner_lr) for t in _check_tasks(tasks))


def meta_update(theta: Theta, tasks: Sequence[NeuronTask], inner_steps: int, inner_lr: float,
                meta_lr: float) -> torch.Tensor:
    """One meta-update ``θ − β Σⱼ ∂L_Qⱼ(Wⱼ⁽ᵏ⁾(θ))/∂θ`` (eq. 11 for ``k = 1``, eq. 25)."""
    tasks = _check_tasks(tasks)
    th = _theta(theta, tasks[0].x_support)
    return th - meta_lr * meta_gradient(th, tasks, inner_steps, inner_lr)


def meta_loss(theta: Theta, tasks: Sequence[NeuronTask], inner_steps: int, inner_lr: float
              ) -> torch.Tensor:
    """MAML's objective ``Σⱼ L_Qⱼ(Wⱼ⁽ᵏ⁾(θ))`` (eq. 9, 24); broadcasts over ``theta``."""
    return sum(loss(adapt(theta, *t.support, inner_steps, inner_lr), *t.query)
               for t in _check_tasks(tasks))


def multitask_loss(theta: Theta, tasks: Sequence[NeuronTask]) -> torch.Tensor:
    """Plain multi-task loss ``Σⱼ L_{Sⱼ ∪ Qⱼ}(θ)`` (no adaptation); broadcasts over ``theta``."""
    return sum(loss(theta, *t.pooled) for t in _check_tasks(tasks))


def least_squares_weight(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Minimiser ``θ* = Σxy / Σx²`` of :func:`loss` (raises ``ValueError`` if all ``x = 0``)."""
    x, y = as_data(x, y)
    sxx = (x * x).sum()
    if sxx == 0:
        raise ValueError("all inputs are 0, so every θ has the same loss (no unique minimiser)")
    return (x * y).sum() / sxx


def _affine_parts(
    task: NeuronTask,
    inner_steps: int,
    inner_lr: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(b, c)`` with ``W⁽ᵏ⁾(θ) = b + c θ`` for ``task``'s support set."""
    b = adapt(0.0, *task.support, inner_steps, inner_lr)
    c = adaptation_derivative(task.x_support, inner_steps, inner_lr)
    return b, c


def meta_loss_curvature(
    tasks: Sequence[NeuronTask],
    inner_steps: int,
    inner_lr: float,
) -> torch.Tensor:
    """The constant second derivative ``2 Σⱼ cⱼ² Σ_q x_q²`` of :func:`meta_loss`,
    with ``cⱼ = (1 − 2αΣ_{Sⱼ}x²)ᵏ``. Meta-SGD on it is stable iff ``β < 2 / curvature``."""
    total = 0.0
    for t in _check_tasks(tasks):
        _, c = _affine_parts(t, inner_steps, inner_lr)
        total = total + 2.0 * c**2 * (t.x_query**2).sum()
    return total


def meta_loss_minimizer(
    tasks: Sequence[NeuronTask],
    inner_steps: int,
    inner_lr: float,
) -> torch.Tensor:
    """The ``θ`` minimising :func:`meta_loss`, in closed form.

    ``Wⱼ(θ) = bⱼ + cⱼθ`` is affine, so the meta-loss is a parabola in ``θ`` with minimiser
    ``Σⱼ cⱼ Σ_q x_q (y_q − bⱼ x_q) / Σⱼ cⱼ² Σ_q x_q²``. Raises ``ValueError`` when it is flat.
    """
    num, den = 0.0, 0.0
    for t in _check_tasks(tasks):
        b, c = _affine_parts(t, inner_steps, inner_lr)
        num = num + c * (t.x_query * (t.y_query - b * t.x_query)).sum()
        den = den + c**2 * (t.x_query**2).sum()
    if den == 0:
        raise ValueError("the meta-loss does not depend on θ (every cⱼ or query input is 0)")
    return num / den


def stable_lr_bound(x_support: torch.Tensor) -> torch.Tensor:
    """Largest inner step size with ``|1 − 2αΣx²| < 1``: the inner loop and the meta-gradient
    factor ``(1 − 2αΣx²)ᵏ`` shrink iff ``0 < α < 1/Σx²``."""
    x = _as_vector(x_support, "x_support", None)
    sxx = (x**2).sum()
    if sxx == 0:
        raise ValueError("all support inputs are 0: every step size is stable")
    return 1.0 / sxx


# --------------------------------------------------------------------------- plain autograd
def _leaf(theta: Theta, like: torch.Tensor) -> torch.Tensor:
    th = _theta(theta, like)
    if th.numel() != 1:
        raise ValueError(f"the autograd versions take a scalar theta; got shape "
                         f"{tuple(th.shape)} (use the closed-form functions for grids)")
    return th.detach().reshape(()).clone().requires_grad_(True)


def autograd_loss_grad(theta: Theta, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``∂L/∂θ`` of :func:`loss` at a scalar ``theta`` by ``torch.autograd.grad``."""
    x, y = as_data(x, y)
    th = _leaf(theta, x)
    with torch.enable_grad():
        (g,) = torch.autograd.grad(loss(th, x, y), th)
    return g


def _autograd_inner(
    th: torch.Tensor,
    x: torch.Tensor,
    y: torch.Tensor,
    inner_steps: int,
    inner_lr: float,
) -> torch.Tensor:
    """``k`` SGD steps whose gradients keep their graph (``create_graph=True``)."""
    phi = th
    for _ in range(_check_steps(inner_steps)):
        (g,) = torch.autograd.grad(loss(phi, x, y), phi, create_graph=True)
        phi = phi - inner_lr * g
    return phi


def autograd_adapt(theta: Theta, x: torch.Tensor, y: torch.Tensor, inner_steps: int, inner_lr: float
                   ) -> torch.Tensor:
    """``W⁽ᵏ⁾(θ)`` with each inner gradient taken by autograd (value only, detached)."""
    x, y = as_data(x, y)
    th = _leaf(theta, x)
    with torch.enable_grad():
        return _autograd_inner(th, x, y, inner_steps, inner_lr).detach()


def autograd_adaptation_derivative(theta: Theta, x: torch.Tensor, y: torch.Tensor, inner_steps: int,
                                   inner_lr: float) -> torch.Tensor:
    """``∂W⁽ᵏ⁾/∂θ`` by differentiating through the ``k`` autograd inner steps."""
    x, y = as_data(x, y)
    th = _leaf(theta, x)
    with torch.enable_grad():
        phi = _autograd_inner(th, x, y, inner_steps, inner_lr)
        if phi is th:
            return torch.ones_like(th).detach()
        (d,) = torch.autograd.grad(phi, th)
    return d


def autograd_task_meta_gradient(theta: Theta, task: NeuronTask, inner_steps: int, inner_lr: float
                                ) -> torch.Tensor:
    """``∂L_Q(W⁽ᵏ⁾(θ))/∂θ`` by autograd through the inner loop (second order)."""
    return autograd_meta_gradient(theta, [task], inner_steps, inner_lr)


def autograd_meta_gradient(theta: Theta, tasks: Sequence[NeuronTask], inner_steps: int,
                           inner_lr: float) -> torch.Tensor:
    """``∂/∂θ Σⱼ L_Qⱼ(Wⱼ⁽ᵏ⁾(θ))`` by autograd through every task's inner loop."""
    tasks = _check_tasks(tasks)
    th = _leaf(theta, tasks[0].x_support)
    with torch.enable_grad():
        total = sum(loss(_autograd_inner(th, *t.support, inner_steps, inner_lr), *t.query)
                    for t in tasks)
        (g,) = torch.autograd.grad(total, th)
    return g


def autograd_meta_update(
    theta: Theta,
    tasks: Sequence[NeuronTask],
    inner_steps: int,
    inner_lr: float,
    meta_lr: float,
) -> torch.Tensor:
    """``θ − β ∂/∂θ Σⱼ L_Qⱼ(Wⱼ⁽ᵏ⁾(θ))`` with the gradient from :func:`autograd_meta_gradient`."""
    tasks = _check_tasks(tasks)
    th = _theta(theta, tasks[0].x_support).detach()
    return th - meta_lr * autograd_meta_gradient(th, tasks, inner_steps, inner_lr)


# --------------------------------------------------------------------------- general path
def sum_of_squares(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``Σ (target − pred)²`` over all elements: the example's loss as a course ``loss_fn``."""
    return ((target - pred) ** 2).sum()


def linear_neuron(dtype: torch.dtype = torch.float64, device: str | torch.device | None = None
                  ) -> nn.Module:
    """``f_θ(x) = θx`` as a standard module: ``nn.Linear(1, 1, bias=False)`` whose only
    parameter ``"weight"`` has shape ``(1, 1)``; inputs ``(N, 1)``."""
    return nn.Linear(1, 1, bias=False, dtype=dtype, device=device)


def _neuron_params(theta: Theta, like: torch.Tensor) -> dict[str, torch.Tensor]:
    th = _theta(theta, like)
    if th.numel() != 1:
        raise ValueError(f"the general path takes a scalar theta; got shape {tuple(th.shape)}")
    return {"weight": th.detach().to(like.dtype).reshape(1, 1)}


def general_adapt(theta: Theta, x: torch.Tensor, y: torch.Tensor, inner_steps: int, inner_lr: float
                  ) -> torch.Tensor:
    """``W⁽ᵏ⁾(θ)`` from :func:`course_pkg.algorithms.core.inner_adapt` on
    :func:`linear_neuron` with :func:`sum_of_squares` (scalar tensor)."""
    x, y = as_data(x, y)
    model = linear_neuron(x.dtype, x.device)
    phi = inner_adapt(model, _neuron_params(theta, x), x[:, None], y[:, None],
                      _check_steps(inner_steps), inner_lr, sum_of_squares)
    return phi["weight"].reshape(())


def to_task_batch(tasks: Sequence[NeuronTask]) -> TaskBatch:
    """Stack tasks into a :class:`~course_pkg.tasks.TaskBatch` with shapes ``(T, K, 1)`` and
    ``(T, Q, 1)``; every task needs the same ``K`` and ``Q``."""
    tasks = _check_tasks(tasks)
    sizes = {(t.x_support.numel(), t.x_query.numel()) for t in tasks}
    if len(sizes) != 1:
        raise ValueError(f"tasks have different (support, query) sizes {sorted(sizes)}; a "
                         "TaskBatch needs equal sizes (stack them separately)")
    return TaskBatch(*(torch.stack([getattr(t, n) for t in tasks])[..., None]
                       for n in ("x_support", "y_support", "x_query", "y_query")))


def general_meta_gradient(theta: Theta, tasks: Sequence[NeuronTask], inner_steps: int,
                          inner_lr: float) -> torch.Tensor:
    """``∂/∂θ Σⱼ L_Qⱼ(Wⱼ⁽ᵏ⁾(θ))`` from :func:`course_pkg.algorithms.maml.meta_gradient`.

    That function averages the query loss over the ``T`` tasks of a batch (and batches them
    with ``vmap``); the worked example sums over tasks, so its gradient is ``T`` times MAML's.
    Tasks of different sizes are sent one at a time.
    """
    tasks = _check_tasks(tasks)
    like = tasks[0].x_support
    model = linear_neuron(like.dtype, like.device)
    params = _neuron_params(theta, like)
    sizes = {(t.x_support.numel(), t.x_query.numel()) for t in tasks}
    groups = [tasks] if len(sizes) == 1 else [[t] for t in tasks]
    total = torch.zeros((), dtype=like.dtype, device=like.device)
    for group in groups:
        _, grads = _maml.meta_gradient(model, params, to_task_batch(group),
                                       _check_steps(inner_steps), inner_lr, sum_of_squares)
        total = total + len(group) * grads["weight"].reshape(())
    return total


def general_task_meta_gradient(theta: Theta, task: NeuronTask, inner_steps: int, inner_lr: float
                               ) -> torch.Tensor:
    """One task's meta-gradient from :func:`course_pkg.algorithms.maml.meta_gradient`."""
    return general_meta_gradient(theta, [task], inner_steps, inner_lr)


def general_meta_update(
    theta: Theta,
    tasks: Sequence[NeuronTask],
    inner_steps: int,
    inner_lr: float,
    meta_lr: float,
) -> torch.Tensor:
    """``θ − β Σⱼ ∂L_Qⱼ/∂θ`` with the gradient from :func:`general_meta_gradient`."""
    tasks = _check_tasks(tasks)
    th = _theta(theta, tasks[0].x_support).detach()
    return th - meta_lr * general_meta_gradient(th, tasks, inner_steps, inner_lr)

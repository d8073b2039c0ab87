"""Implicit MAML (Rajeswaran, Finn, Kakade & Levine, 2019).

Each task adapts by (approximately) solving a *proximal* problem

    φ*(θ) = argmin_φ  L_s(φ) + λ/2 ‖φ − θ‖²,

here with ``inner_steps`` steps of gradient descent from ``φ = θ`` (:func:`proximal_adapt`). At
an exact minimiser ``∇L_s(φ*) + λ(φ* − θ) = 0``; differentiating this identity in ``θ`` (implicit
function
theorem) gives ``dφ*/dθ = (I + H/λ)⁻¹`` with ``H = ∇²L_s(φ*)``, so the task's meta-gradient is

    g = (I + H/λ)⁻¹ ∇L_q(φ*),

computed by conjugate gradient (:func:`conjugate_gradient`) on ``(I + H/λ) g = ∇L_q(φ*)`` with
Hessian-vector products (:func:`hessian_vector_product`); ``H`` is never formed. Nothing is
differentiated through the inner loop, so memory does not depend on ``k``.

``damping`` ``δ`` adds ``δ I`` to the system, ``(1 + δ) I + H/λ``, which keeps CG stable when
``H`` has negative eigenvalues (non-convex networks); ``δ = 0`` is the exact formula.

Everything is written with ``torch.func`` and maps over the tasks of a
:class:`~course_pkg.tasks.TaskBatch` with ``torch.vmap`` (or loops, ``batched=False``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Literal, TypeVar

import torch
from torch import nn

from course_pkg.algorithms.core import LossFn, MetaGradFn, Params, loss_at, mse_loss, sgd_step
from course_pkg.tasks import TaskBatch
from course_pkg.utils import check_same_device

if TYPE_CHECKING:  # annotations only: training imports this module
    from course_pkg.algorithms.training import MetaConfig

__all__ = [
    "conjugate_gradient",
    "hessian_vector_product",
    "imaml_meta_gradient",
    "implicit_meta_gradient",
    "make_imaml_grad_fn",
    "power_iteration",
    "proximal_adapt",
    "top_hessian_eigenvalue",
    "unrolled_meta_gradient",
]

HVPMode = Literal["auto", "reverse-over-reverse", "forward-over-reverse"]
V = TypeVar("V", torch.Tensor, dict)


# --------------------------------------------------------------------------- pytree helpers


def _is_tensor(x) -> bool:
    return isinstance(x, torch.Tensor)


def _dot(a: V, b: V) -> torch.Tensor:
    if _is_tensor(a):
        return (a * b).sum()
    return sum((a[k] * b[k]).sum() for k in a)


def _axpy(alpha: torch.Tensor, x: V, y: V) -> V:
    """``y + alpha x`` for tensors or dicts of tensors."""
    if _is_tensor(x):
        return y + alpha * x
    return {k: y[k] + alpha * x[k] for k in x}


def _zeros_like(x: V) -> V:
    if _is_tensor(x):
        return torch.zeros_like(x)
    return {k: torch.zeros_like(v) for k, v in x.items()}


# --------------------------------------------------------------------------- linear algebra


def conjugate_gradient(
    matvec: Callable[[V], V],
    b: V,
    cg_steps: int = 10,
    tol: float = 1e-10,
    x0: V | None = None,
    return_iterates: bool = False,
) -> V | list[V]:
    """Solve ``A x = b`` for symmetric positive-definite ``A`` given only ``v ↦ A v``.

    ``b`` is a tensor or a dict of tensors (then ``matvec`` maps dicts to dicts). Runs at most
    ``cg_steps`` iterations (exact in ``n`` steps for an ``n``-dimensional problem in exact
    arithmetic) and stops updating once ``‖r‖ ≤ tol · ‖b‖`` or a direction of non-positive
    curvature ``pᵀAp ≤ 0`` appears. The stopping rule is a mask, not a Python branch, so the
    function runs inside ``torch.vmap`` (one independent solve per task). With
    ``return_iterates`` the list ``[x₀, x₁, …, x_cg_steps]`` is returned instead of the last one.
    """
    if cg_steps < 0:
        raise ValueError(f"cg_steps must be ≥ 0, got {cg_steps}")
    x = _zeros_like(b) if x0 is None else x0
    r = b if x0 is None else _axpy(torch.tensor(-1.0), matvec(x0), b)
    p = r
    rs = _dot(r, r)
    threshold = (tol**2) * _dot(b, b)
    iterates = [x]
    for _ in range(cg_steps):
        Ap = matvec(p)
        pAp = _dot(p, Ap)
        active = (rs > threshold) & (pAp > 0)
        alpha = torch.where(active, rs / torch.where(active, pAp, torch.ones_like(pAp)), 0.0)
        x = _axpy(alpha, p, x)
        r = _axpy(-alpha, Ap, r)
        rs_new = _dot(r, r)
        beta = torch.where(active, rs_new / torch.where(active, rs, torch.ones_like(rs)), 0.0)
        p = _axpy(beta, p, r)
        rs = torch.where(active, rs_new, rs)
        iterates.append(x)
    return iterates if return_iterates else x


def power_iteration(matvec: Callable[[V], V], v0: V, iterations: int = 30) -> torch.Tensor:
    """Dominant eigenvalue of a symmetric ``A`` given only ``v ↦ A v`` (tensors or dicts).

    ``v ← A v / ‖A v‖`` ``iterations`` times from ``v0 / ‖v0‖``, then the Rayleigh quotient
    ``vᵀ A v`` (``iterations + 1`` products in all). With :func:`hessian_vector_product` as
    ``matvec`` this is the largest Hessian eigenvalue (curvature) of a task's loss. Works
    inside ``torch.vmap``. Returns a scalar tensor.
    """
    if iterations < 0:
        raise ValueError(f"iterations must be ≥ 0, got {iterations}")

    def normalise(v: V) -> V:
        norm = torch.sqrt(_dot(v, v))
        return v / norm if _is_tensor(v) else {k: t / norm for k, t in v.items()}

    v = normalise(v0)
    for _ in range(iterations):
        v = normalise(matvec(v))
    return _dot(matvec(v), v)


def hessian_vector_product(
    model: nn.Module,
    params: Mapping[str, torch.Tensor],
    x: torch.Tensor,
    y: torch.Tensor,
    v: Mapping[str, torch.Tensor],
    loss_fn: LossFn = mse_loss,
    mode: HVPMode = "auto",
) -> Params:
    """``H v`` with ``H = ∇²_φ L(φ)`` of one task's loss on ``x, y`` at ``φ = params``.

    ``"reverse-over-reverse"`` differentiates the gradient again (``vjp`` of ``grad``: double
    backward). ``"forward-over-reverse"`` pushes ``v`` forward through the gradient (``jvp`` of
    ``grad``). Each fails on some ops in torch 2.x: BatchNorm's double backward cannot run
    under ``vmap``, and ``F.mse_loss``'s backward has no forward-mode derivative (write the MSE
    as ``((p - y)**2).mean()`` to use it). ``"auto"`` picks forward-over-reverse for models with
    BatchNorm layers and reverse-over-reverse otherwise. Composes with ``torch.vmap``; never
    forms ``H``.
    """
    if mode == "auto":
        has_bn = any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())
        mode = "forward-over-reverse" if has_bn else "reverse-over-reverse"

    def grad_fn(p: Params) -> Params:
        return torch.func.grad(lambda q: loss_at(model, q, x, y, loss_fn))(p)

    p = dict(params)
    if mode == "reverse-over-reverse":
        _, pullback = torch.func.vjp(grad_fn, p)
        return pullback(dict(v))[0]
    if mode == "forward-over-reverse":
        return torch.func.jvp(grad_fn, (p,), (dict(v),))[1]
    raise ValueError(
        f"mode must be 'auto', 'reverse-over-reverse' or 'forward-over-reverse', got {mode!r}")


def top_hessian_eigenvalue(
    model: nn.Module,
    params: Mapping[str, torch.Tensor],
    x: torch.Tensor,
    y: torch.Tensor,
    iterations: int = 30,
    loss_fn: LossFn = mse_loss,
) -> torch.Tensor:
    """The largest eigenvalue of ``H = ∇²_φ L(φ)`` of one task's loss on ``x (K, …)``,
    ``y (K, …)`` at ``φ = params``: its sharpest curvature (gradient descent with step ``α``
    on this loss is stable only while ``α λ_max < 2``).

    :func:`power_iteration` with :func:`hessian_vector_product` as the product, started from a
    vector of ones (deterministic; ``iterations`` power steps). ``H`` is never formed. Returns a
    scalar tensor; compose with ``torch.vmap`` over ``x (T, K, …)``, ``y (T, K, …)`` for ``(T,)``.
    """
    v0 = {name: torch.ones_like(p) for name, p in params.items()}
    return power_iteration(
        lambda v: hessian_vector_product(model, params, x, y, v, loss_fn), v0, iterations)


# --------------------------------------------------------------------------- iMAML


def proximal_adapt(
    model: nn.Module,
    params: Mapping[str, torch.Tensor],
    x: torch.Tensor,
    y: torch.Tensor,
    imaml_lambda: float,
    inner_steps: int,
    inner_lr: float,
    loss_fn: LossFn = mse_loss,
    detach: bool = True,
    backtrack: bool = False,
    return_trajectory: bool = False,
) -> Params | list[Params]:
    """``inner_steps`` gradient-descent steps (step ``inner_lr``) on ``L(φ) + λ/2 ‖φ − θ‖²``
    (``λ = imaml_lambda``) from ``φ = θ = params``.

    One task's data ``x (K, …)``, ``y (K, …)``. With ``detach=True`` (iMAML) ``θ`` is a
    constant, so no graph links ``φ`` to ``θ``; ``detach=False`` keeps the whole unrolled
    computation differentiable (used by :func:`unrolled_meta_gradient`).

    ``backtrack=True`` makes the solver monotone: a step that would increase the regularised
    loss is rejected and the task's step size halved (kept for later steps). Gradient descent
    with a fixed ``inner_lr`` diverges where the curvature exceeds ``2/inner_lr − λ``;
    meta-training can drive ``θ`` there, and the implicit gradient, which assumes a converged
    ``φ``, gives no signal
    to come back. Costs one extra forward pass per step. Works inside ``torch.vmap`` (the
    accept/reject decision is a mask). Returns ``φ``, or ``[φ⁽⁰⁾, …, φ⁽ᵏ⁾]`` with
    ``return_trajectory``.
    """
    if imaml_lambda <= 0:
        raise ValueError(f"imaml_lambda (the proximal strength λ) must be > 0, got {imaml_lambda}")
    if inner_steps < 0:
        raise ValueError(f"inner_steps must be ≥ 0, got {inner_steps}")
    theta = {k: (v.detach() if detach else v) for k, v in params.items()}

    def objective(phi: Params) -> torch.Tensor:
        prox = sum(((phi[k] - theta[k]) ** 2).sum() for k in phi)
        return loss_at(model, phi, x, y, loss_fn) + 0.5 * imaml_lambda * prox

    phi: Params = dict(theta)
    traj = [phi]  # grows only with return_trajectory: memory must not depend on inner_steps
    if not backtrack:
        grad_fn = torch.func.grad(objective)
        for _ in range(inner_steps):
            phi = sgd_step(phi, grad_fn(phi), inner_lr)
            if return_trajectory:
                traj.append(phi)
        return traj if return_trajectory else phi
    grad_and_value = torch.func.grad_and_value(objective)
    step = torch.full((), float(inner_lr), dtype=x.dtype, device=x.device)
    for _ in range(inner_steps):
        g, value = grad_and_value(phi)
        cand = sgd_step(phi, g, step)
        ok = objective(cand) <= value
        phi = {k: torch.where(ok, cand[k], phi[k]) for k in phi}
        step = torch.where(ok, step, 0.5 * step)
        if return_trajectory:
            traj.append(phi)
    return traj if return_trajectory else phi


def implicit_meta_gradient(
    model: nn.Module,
    phi: Mapping[str, torch.Tensor],
    x_support: torch.Tensor,
    y_support: torch.Tensor,
    x_query: torch.Tensor,
    y_query: torch.Tensor,
    imaml_lambda: float,
    cg_steps: int = 10,
    damping: float = 0.0,
    loss_fn: LossFn = mse_loss,
    hvp_mode: HVPMode = "auto",
) -> tuple[Params, torch.Tensor]:
    """One task's implicit meta-gradient ``((1+δ) I + H/λ)⁻¹ ∇L_q(φ)`` and its query loss.

    ``H`` is the Hessian of the *support* loss at the adapted ``phi``; the linear system is
    solved by ``cg_steps`` of :func:`conjugate_gradient` with :func:`hessian_vector_product`.
    Returns ``(grads, query_loss)``; works inside ``torch.vmap``.
    """
    phi = {k: v.detach() for k, v in phi.items()}
    g_query, query_loss = torch.func.grad_and_value(
        lambda p: loss_at(model, p, x_query, y_query, loss_fn))(phi)

    def matvec(v: Params) -> Params:
        hv = hessian_vector_product(model, phi, x_support, y_support, v, loss_fn, hvp_mode)
        return {k: (1.0 + damping) * v[k] + hv[k] / imaml_lambda for k in v}

    return conjugate_gradient(matvec, g_query, cg_steps), query_loss


def imaml_meta_gradient(
    model: nn.Module,
    params: Mapping[str, torch.Tensor],
    batch: TaskBatch,
    imaml_lambda: float = 1.0,
    inner_steps: int = 10,
    inner_lr: float = 0.02,
    cg_steps: int = 5,
    damping: float = 0.0,
    loss_fn: LossFn = mse_loss,
    hvp_mode: HVPMode = "auto",
    batched: bool = True,
    backtrack: bool = False,
) -> tuple[torch.Tensor, Params]:
    """``(loss, grads)``: iMAML's meta-gradient averaged over the ``T`` tasks of ``batch``.

    Per task: :func:`proximal_adapt` on the support set (``inner_steps`` GD steps, step
    ``inner_lr``, optionally with ``backtrack``), then :func:`implicit_meta_gradient`.
    ``batched=True`` maps over tasks with ``torch.vmap``; ``False`` loops (same numbers, less
    peak memory). ``loss`` is the mean query loss after adaptation; ``grads`` have the
    parameters' shapes and carry no graph (the protocol of
    :func:`course_pkg.algorithms.maml.meta_gradient`).
    """
    check_same_device(params, *batch)
    theta = {k: v.detach() for k, v in params.items()}

    def one(xs, ys, xq, yq):
        phi = proximal_adapt(model, theta, xs, ys, imaml_lambda, inner_steps, inner_lr, loss_fn,
                             backtrack=backtrack)
        return implicit_meta_gradient(model, phi, xs, ys, xq, yq, imaml_lambda, cg_steps, damping,
                                      loss_fn, hvp_mode)

    if batched:
        grads, losses = torch.vmap(one)(*batch)
        return losses.mean().detach(), {k: v.mean(0).detach() for k, v in grads.items()}
    total = {k: torch.zeros_like(v) for k, v in theta.items()}
    loss_sum = torch.zeros(())
    T = batch.num_tasks
    for i in range(T):
        g, loss = one(*(t[i] for t in batch))
        total = {k: total[k] + g[k].detach() for k in total}
        loss_sum = loss_sum + loss.detach().cpu()
    return (loss_sum / T).to(batch.device), {k: v / T for k, v in total.items()}


def unrolled_meta_gradient(
    model: nn.Module,
    params: Mapping[str, torch.Tensor],
    batch: TaskBatch,
    imaml_lambda: float = 1.0,
    inner_steps: int = 10,
    inner_lr: float = 0.02,
    loss_fn: LossFn = mse_loss,
) -> tuple[torch.Tensor, Params]:
    """Reference ``(loss, grads)``: backpropagate through all ``inner_steps`` proximal steps.

    Differentiates ``mean_i L_q,i(φ_i(θ))`` with ``φ_i`` from :func:`proximal_adapt`
    (``detach=False``): the quantity iMAML approximates without storing the inner loop. As
    ``inner_steps`` grows (and the inner problem converges) both agree. Memory grows linearly
    with ``inner_steps``.
    """
    theta = {k: v.detach() for k, v in params.items()}

    def meta_loss(p: Params) -> torch.Tensor:
        def one(xs, ys, xq, yq):
            phi = proximal_adapt(model, p, xs, ys, imaml_lambda, inner_steps, inner_lr, loss_fn,
                                 detach=False)
            return loss_at(model, phi, xq, yq, loss_fn)

        return torch.vmap(one)(*batch).mean()

    grads, loss = torch.func.grad_and_value(meta_loss)(theta)
    return loss.detach(), {k: v.detach() for k, v in grads.items()}


# --------------------------------------------------------------------------- meta_train plug-in


def make_imaml_grad_fn(model: nn.Module, config: MetaConfig, loss_fn: LossFn = mse_loss
                       ) -> MetaGradFn:
    """``meta_grad_fn`` of ``MetaConfig(method="imaml", options={"imaml_lambda": …, …})``
    (listed in :data:`course_pkg.algorithms.training.ALGORITHMS`).

    Uses ``config.inner_steps``/``config.inner_lr`` for the proximal inner loop and
    ``config.options`` keys ``imaml_lambda`` (1.0), ``cg_steps`` (5), ``damping`` (0.0),
    ``hvp_mode`` (``"auto"``) and ``backtrack`` (False).
    """
    opts = dict(config.options)
    unknown = set(opts) - {"imaml_lambda", "cg_steps", "damping", "hvp_mode", "backtrack"}
    if unknown:
        raise ValueError(f"unknown iMAML options {sorted(unknown)}; use imaml_lambda, cg_steps, "
                         "damping, hvp_mode, backtrack")

    def meta_grad_fn(meta_params: Params, batch: TaskBatch):
        return imaml_meta_gradient(
            model, meta_params, batch, imaml_lambda=float(opts.get("imaml_lambda", 1.0)),
            inner_steps=config.inner_steps, inner_lr=config.inner_lr,
            cg_steps=int(opts.get("cg_steps", 5)), damping=float(opts.get("damping", 0.0)),
            loss_fn=loss_fn, hvp_mode=opts.get("hvp_mode", "auto"),
            backtrack=bool(opts.get("backtrack", False)))

    return meta_grad_fn

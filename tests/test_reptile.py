"""Reptile: the outer step, serial = batched, the joint-training limit, and the Taylor argument."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from course_pkg.algorithms import reptile, toy
from course_pkg.algorithms.core import inner_adapt, loss_at
from course_pkg.algorithms.maml import meta_gradient, pretrained_gradient
from course_pkg.algorithms.training import MetaConfig, meta_train
from course_pkg.models import MLP, LinearToy
from course_pkg.models import params as model_params
from course_pkg.tasks import QuadraticTasks, SinusoidTasks, TaskBatch, landscape_tasks


def _double(batch: TaskBatch) -> TaskBatch:
    return TaskBatch(*(t.double() for t in batch), info=batch.info)


def _mlp_setup(T=4, K=6, Q=4, seed=0):
    torch.manual_seed(seed)
    model = MLP(1, (16, 16), 1).double()
    batch = _double(SinusoidTasks().sample(T, K, Q, generator=seed, device="cpu"))
    return model, model_params(model, detach=True), batch


# --------------------------------------------------------------------------- the algorithm


def test_update_is_mean_of_per_task_displacements():
    model, p, batch = _mlp_setup()
    delta = reptile.reptile_update(model, p, batch, inner_steps=3, inner_lr=0.01, data="support")
    phis = [inner_adapt(model, p, batch.x_support[i], batch.y_support[i], 3, 0.01)
            for i in range(batch.num_tasks)]
    for k in p:
        manual = torch.stack([phi[k] - p[k] for phi in phis]).mean(0)
        assert torch.allclose(delta[k], manual, atol=1e-12)
    new = reptile.reptile_step(p, delta, 0.5)
    assert all(torch.allclose(new[k], p[k] + 0.5 * delta[k]) for k in p)
    # with ε = 1 Reptile jumps to the average of the adapted weights
    avg = reptile.reptile_step(p, delta, 1.0)
    for k in p:
        assert torch.allclose(avg[k], torch.stack([phi[k] for phi in phis]).mean(0), atol=1e-12)


@pytest.mark.parametrize("data,batch_size", [("support+query", None), ("support", 3),
                                             ("support+query", 5)])
def test_serial_equals_batched(data, batch_size):
    model, p, batch = _mlp_setup()
    kw = dict(inner_steps=4, inner_lr=0.02, batch_size=batch_size, data=data)
    a = reptile.reptile_update(model, p, batch, batched=True, **kw)
    b = reptile.reptile_update(model, p, batch, batched=False, **kw)
    for k in p:
        assert torch.allclose(a[k], b[k], atol=1e-12)
        assert a[k].shape == p[k].shape and not a[k].requires_grad


def test_minibatches_cycle_in_order():
    model, p, batch = _mlp_setup(K=6)
    x, y = batch.x_support[0], batch.y_support[0]
    phi = reptile.reptile_adapt(model, p, x, y, inner_steps=3, inner_lr=0.05, batch_size=3)
    manual = dict(p)
    for sl in (slice(0, 3), slice(3, 6), slice(0, 3)):
        g = torch.func.grad(lambda q, sl=sl: loss_at(model, q, x[sl], y[sl]))(manual)
        manual = {k: manual[k] - 0.05 * g[k] for k in manual}
    assert all(torch.allclose(phi[k], manual[k], atol=1e-12) for k in p)
    with pytest.raises(ValueError, match="divide"):
        reptile.reptile_adapt(model, p, x, y, inner_steps=1, inner_lr=0.1, batch_size=4)


def test_one_inner_step_is_joint_training_sgd_up_to_scale():
    """k = 1: mean(φ − θ) = −α ∇ (mean_i L_i(θ)), the gradient of the pooled (joint) loss."""
    model, p, batch = _mlp_setup(T=5)
    alpha = 0.03
    delta = reptile.reptile_update(model, p, batch, inner_steps=1, inner_lr=alpha,
                                   data="support+query")
    _, joint = pretrained_gradient(model, p, batch)
    for k in p:
        assert torch.allclose(delta[k], -alpha * joint[k], atol=1e-12)
    # so an outer step ε is a joint-training SGD step with learning rate ε·α
    loss, pseudo = reptile.reptile_meta_gradient(model, p, batch, 1, alpha)
    for k in p:
        assert torch.allclose(pseudo[k], alpha * joint[k], atol=1e-12)
    # ... which is *not* true for k > 1
    delta2 = reptile.reptile_update(model, p, batch, inner_steps=2, inner_lr=alpha)
    gap = max(float((delta2[k] + 2 * alpha * joint[k]).abs().max()) for k in p)
    assert gap > 1e-6


@pytest.mark.parametrize("k", [1, 5, 40])
def test_reptile_on_quadratics_matches_closed_form(k):
    """On quadratic tasks φ_i = w_i + (I − αH_i)^k (θ − w_i) exactly, so
    Δ = mean_i ((I − αH_i)^k − I)(θ − w_i); for large k, θ + Δ → mean_i w_i."""
    model = LinearToy().double()
    batch = _double(QuadraticTasks().sample(4, 8, 8, generator=1, device="cpu"))
    theta = torch.tensor([0.7, -0.4], dtype=torch.float64)
    alpha = 0.3
    delta = reptile.reptile_update(model, {"theta": theta}, batch, inner_steps=k,
                                   inner_lr=alpha, data="support")["theta"]
    H = toy.quadratic_hessian(batch.x_support)  # (T, 2, 2)
    w = batch.info["w"].double()
    M = torch.linalg.matrix_power(torch.eye(2, dtype=torch.float64) - alpha * H, k)
    closed = ((M - torch.eye(2, dtype=torch.float64)) @ (theta - w)[..., None]).squeeze(-1)
    assert torch.allclose(delta, closed.mean(0), atol=1e-10)
    if k == 40:  # inner loops (nearly) converged: one ε = 1 step lands near the mean optimum
        assert torch.allclose(theta + delta, w.mean(0), atol=0.05)


def test_reptile_plugs_into_meta_train_as_sgd_on_the_pseudo_gradient():
    torch.manual_seed(0)
    model = MLP(1, (8,), 1)
    theta0 = model_params(model, detach=True)
    cfg = MetaConfig(iterations=3, meta_batch_size=3, k_support=4, k_query=4, inner_steps=2,
                     inner_lr=0.02, meta_lr=0.5, optimizer="sgd", method="reptile", seed=5,
                     options={"data": "support"})
    trained, hist = meta_train(model, SinusoidTasks(), cfg, params=theta0, progress=False,
                               device="cpu")
    gen = torch.Generator().manual_seed(5)
    p = dict(theta0)
    for _ in range(3):
        b = SinusoidTasks().sample(3, 4, 4, generator=gen, device="cpu")
        p = reptile.reptile_step(p, reptile.reptile_update(model, p, b, 2, 0.02, data="support"),
                                 0.5)
    assert all(torch.allclose(trained[k], p[k], atol=1e-6) for k in p)
    assert len(hist["loss"]) == 3


def test_reptile_learns_sinusoids():
    torch.manual_seed(0)
    model = MLP(1, (20, 20), 1)
    cfg = MetaConfig(iterations=120, meta_batch_size=8, k_support=10, k_query=10,
                     inner_steps=5, inner_lr=0.02, meta_lr=3e-3, method="reptile",
                     eval_every=60, eval_tasks=64)
    _, hist = meta_train(model, SinusoidTasks(), cfg, progress=False, device="cpu")
    assert hist["eval_loss"][-1] < 0.7 * hist["eval_loss"][0], hist["eval_loss"]


def test_bad_arguments_give_clear_errors():
    model, p, batch = _mlp_setup()
    with pytest.raises(ValueError, match="inner_steps"):
        reptile.reptile_update(model, p, batch, inner_steps=0)
    with pytest.raises(ValueError, match="data must be"):
        reptile.reptile_update(model, p, batch, data="query")
    with pytest.raises(ValueError, match="order"):
        reptile.taylor_predictions({}, 0.1, order=3)


# --------------------------------------------------------------------------- Taylor argument


def _curve_setup(theta=(0.3, 0.2), task=0):
    model, batch = landscape_tasks("curve", k_support=10, k_query=10, device="cpu")
    model, batch = model.double(), _double(batch)
    b = batch.task(task)
    return model, {"theta": torch.tensor(theta, dtype=torch.float64)}, [t[0] for t in b]


ALPHAS = np.logspace(-3, -1.5, 6)


def _slopes(model, p, data, order):
    terms = reptile.taylor_terms(model, p, *data)
    errs = {m: [] for m in ("fomaml", "reptile", "maml")}
    for a in ALPHAS:
        exact = reptile.two_batch_directions(model, p, *data, inner_lr=float(a))
        pred = reptile.taylor_predictions(terms, float(a), order)
        for m in errs:
            errs[m].append(float((exact[m] - pred[m]).norm()))
    return {m: np.polyfit(np.log(ALPHAS), np.log(e), 1)[0] for m, e in errs.items()}, errs


@pytest.mark.parametrize("theta,task", [((0.3, 0.2), 0), ((-0.8, 0.5), 1), ((1.5, -0.4), 2)])
def test_taylor_expansions_have_the_stated_order(theta, task):
    """Error of the expansion to O(α) scales like α², to O(α²) like α³ (fitted log-log slope)."""
    model, p, data = _curve_setup(theta, task)
    s1, e1 = _slopes(model, p, data, order=1)
    s2, e2 = _slopes(model, p, data, order=2)
    for m in s1:
        assert 1.8 < s1[m] < 2.2, (m, s1[m], e1[m])
        assert 2.7 < s2[m] < 3.3, (m, s2[m], e2[m])
        assert e2[m][-1] < e1[m][-1]


def test_exact_directions_match_the_package_implementations():
    """two_batch_directions agrees with MAML/FOMAML (maml.py) and Reptile (this module)."""
    model, p, (x0, y0, x1, y1) = _curve_setup()
    a = 0.05
    d = reptile.two_batch_directions(model, p, x0, y0, x1, y1, a)
    one = TaskBatch(x0[None], y0[None], x1[None], y1[None])
    _, g_maml = meta_gradient(model, p, one, 1, a)
    _, g_fo = meta_gradient(model, p, one, 1, a, first_order=True)
    both = TaskBatch(torch.cat([x0, x1])[None], torch.cat([y0, y1])[None], x1[None], y1[None])
    delta = reptile.reptile_update(model, p, both, inner_steps=2, inner_lr=a, data="support",
                                   batch_size=x0.shape[0])
    assert torch.allclose(d["maml"], g_maml["theta"], atol=1e-12)
    assert torch.allclose(d["fomaml"], g_fo["theta"], atol=1e-12)
    assert torch.allclose(d["reptile"], -delta["theta"] / a, atol=1e-12)


def test_A_and_B_terms_after_averaging_over_batch_order():
    """E over tasks and over the order of the two batches: FOMAML ≈ A − αB, MAML ≈ A − 2αB,
    Reptile ≈ 2A − αB, with A the mean gradient and B = ½ E[H⁽¹⁾g⁽⁰⁾ + H⁽⁰⁾g⁽¹⁾]."""
    model, batch = landscape_tasks("curve", k_support=10, k_query=10, device="cpu")
    model, batch = model.double(), _double(batch)
    p = {"theta": torch.tensor([0.1, -0.3], dtype=torch.float64)}
    pairs = []
    for i in range(batch.num_tasks):
        xs, ys, xq, yq = (t[i] for t in batch)
        pairs += [(xs, ys, xq, yq), (xq, yq, xs, ys)]
    terms = [reptile.taylor_terms(model, p, *d) for d in pairs]
    A = torch.stack([t["g0"] for t in terms]).mean(0)
    B = torch.stack([t["H1g0"] for t in terms]).mean(0)
    # the symmetrised B of the survey: same value as E[H⁽¹⁾g⁽⁰⁾] once both orders are averaged
    B_sym = torch.stack([0.5 * (t["H1g0"] + t["H0g1"]) for t in terms]).mean(0)
    assert torch.allclose(B, B_sym, atol=1e-12)
    predicted = {"fomaml": (1, 1), "maml": (1, 2), "reptile": (2, 1)}  # (coef of A, of αB)
    errs = {m: [] for m in predicted}
    for a in ALPHAS:
        exact = [reptile.two_batch_directions(model, p, *d, inner_lr=float(a)) for d in pairs]
        for m, (ca, cb) in predicted.items():
            mean = torch.stack([e[m] for e in exact]).mean(0)
            errs[m].append(float((mean - (ca * A - cb * a * B)).norm()))
    for m, e in errs.items():
        slope = np.polyfit(np.log(ALPHAS), np.log(e), 1)[0]
        assert 1.8 < slope < 2.2, (m, slope, e)

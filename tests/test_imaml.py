"""Implicit MAML: CG, Hessian-vector products, the implicit meta-gradient, toy closed forms."""

from __future__ import annotations

import pytest
import torch

from course_pkg.algorithms import imaml, toy
from course_pkg.algorithms.evaluation import evaluate_proximal_adaptation
from course_pkg.algorithms.training import MetaConfig, meta_train
from course_pkg.models import MLP, CurveToy, LinearToy
from course_pkg.models import params as model_params
from course_pkg.tasks import (
    LANDSCAPE_TASKS,
    QuadraticTasks,
    SinusoidTasks,
    TaskBatch,
    landscape_tasks,
)


def _double(batch: TaskBatch) -> TaskBatch:
    return TaskBatch(*(t.double() for t in batch), info=batch.info)


def _spd(n: int, seed: int, cond: float = 50.0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(n, n, generator=g, dtype=torch.float64))
    eig = torch.logspace(0, torch.log10(torch.tensor(cond)).item(), n, dtype=torch.float64)
    return q @ torch.diag(eig) @ q.T


def _flat(p):
    return torch.cat([v.reshape(-1) for v in p.values()])


# --------------------------------------------------------------------------- conjugate gradient


@pytest.mark.parametrize("n", [2, 7, 20])
def test_cg_matches_dense_solve(n):
    A = _spd(n, seed=n)
    b = torch.randn(n, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    x = imaml.conjugate_gradient(lambda v: A @ v, b, cg_steps=3 * n, tol=1e-14)
    assert torch.allclose(x, torch.linalg.solve(A, b), atol=1e-8, rtol=1e-8)


def test_cg_is_exact_in_n_steps_and_partial_before():
    n = 6
    A = _spd(n, seed=3, cond=10.0)
    b = torch.ones(n, dtype=torch.float64)
    exact = torch.linalg.solve(A, b)
    err = [float((imaml.conjugate_gradient(lambda v: A @ v, b, cg_steps=s) - exact).norm())
           for s in range(n + 1)]
    its = imaml.conjugate_gradient(lambda v: A @ v, b, cg_steps=n, return_iterates=True)
    assert len(its) == n + 1
    assert all(float((x - exact).norm()) == pytest.approx(e, abs=1e-12) for x, e in zip(its, err))
    assert err[n] < 1e-9
    assert err[1] > 1e-3 and err[0] == pytest.approx(float(exact.norm()))
    # the A-norm of the error never increases along CG iterations
    anorm = []
    for s in range(n + 1):
        e = imaml.conjugate_gradient(lambda v: A @ v, b, cg_steps=s) - exact
        anorm.append(float(e @ A @ e))
    assert all(a2 <= a1 + 1e-12 for a1, a2 in zip(anorm, anorm[1:]))


def test_cg_on_dicts_and_under_vmap():
    A1, A2 = _spd(3, 0), _spd(2, 1)
    b = {"w": torch.ones(3, dtype=torch.float64), "b": torch.arange(2.0, dtype=torch.float64)}
    x = imaml.conjugate_gradient(lambda v: {"w": A1 @ v["w"], "b": A2 @ v["b"]}, b, cg_steps=10)
    assert torch.allclose(x["w"], torch.linalg.solve(A1, b["w"]), atol=1e-10)
    assert torch.allclose(x["b"], torch.linalg.solve(A2, b["b"]), atol=1e-10)
    # a batch of independent systems solved at once; one is already solved (b = 0)
    As = torch.stack([_spd(4, s) for s in range(3)])
    bs = torch.randn(3, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    bs[1] = 0.0
    xs = torch.vmap(lambda A, bb: imaml.conjugate_gradient(lambda v: A @ v, bb, cg_steps=8))(As, bs)
    assert torch.allclose(xs, torch.linalg.solve(As, bs), atol=1e-9)
    assert torch.all(xs[1] == 0) and torch.isfinite(xs).all()


def test_cg_stops_on_negative_curvature_without_nans():
    A = torch.diag(torch.tensor([1.0, -1.0], dtype=torch.float64))
    x = imaml.conjugate_gradient(lambda v: A @ v, torch.tensor([1.0, 1.0], dtype=torch.float64))
    assert torch.isfinite(x).all()


# ------------------------------------------------------------------------- Hessian-vector products


@pytest.mark.parametrize("mode", ["reverse-over-reverse", "forward-over-reverse"])
def test_hvp_matches_dense_hessian(mode):
    torch.manual_seed(0)
    model = MLP(1, (6,), 1).double()
    p = model_params(model, detach=True)
    batch = _double(SinusoidTasks().sample(1, 8, 1, generator=0, device="cpu"))
    x, y = batch.x_support[0], batch.y_support[0]

    def sq_loss(pred, target):  # F.mse_loss has no forward-mode derivative of its backward
        return ((pred - target) ** 2).mean()

    names = list(p)
    shapes = [p[k].shape for k in names]
    sizes = [p[k].numel() for k in names]

    def flat_loss(w):
        parts = dict(zip(names, (c.reshape(s) for c, s in zip(w.split(sizes), shapes))))
        return sq_loss(torch.func.functional_call(model, parts, (x,)), y)

    H = torch.func.hessian(flat_loss)(_flat(p))
    v = {k: torch.randn_like(t) for k, t in p.items()}
    hv = imaml.hessian_vector_product(model, p, x, y, v, sq_loss, mode)
    assert torch.allclose(_flat(hv), H @ _flat(v), atol=1e-10)


def test_hvp_rejects_unknown_mode():
    model = LinearToy()
    p = {"theta": torch.zeros(2)}
    with pytest.raises(ValueError, match="mode"):
        imaml.hessian_vector_product(model, p, torch.ones(3, 2), torch.ones(3, 1), p,
                                     mode="backwards")


# --------------------------------------------------------------------------- toy closed forms


def test_quadratic_toy_closed_forms_match_autograd():
    batch = _double(QuadraticTasks().sample(3, 6, 4, generator=0, device="cpu"))
    model = LinearToy().double()
    theta = torch.tensor([0.2, -0.7], dtype=torch.float64)
    x, y = batch.x_support[0], batch.y_support[0]

    def loss(t):
        return ((torch.func.functional_call(model, {"theta": t}, (x,)) - y) ** 2).mean()

    assert torch.allclose(torch.func.hessian(loss)(theta), toy.quadratic_hessian(x), atol=1e-12)
    assert torch.allclose(torch.func.grad(loss)(theta), toy.quadratic_gradient(theta, x, y),
                          atol=1e-12)
    lam = 0.5
    phi = toy.proximal_solution(theta, x, y, lam)
    stationarity = toy.quadratic_gradient(phi, x, y) + lam * (phi - theta)
    assert stationarity.abs().max() < 1e-10
    # noise-free tasks: with λ → 0 the proximal solution is the task's own solution w_i
    assert torch.allclose(toy.proximal_solution(theta, x, y, 1e-9),
                          batch.info["w"][0].double(), atol=1e-6)
    with pytest.raises(ValueError, match="imaml_lambda"):
        toy.proximal_solution(theta, x, y, 0.0)


def test_toy_tasks_are_reproducible_and_validated():
    m1, b1 = landscape_tasks("curve", device="cpu")
    m2, b2 = landscape_tasks("curve", device="cpu")
    assert all(torch.equal(a, b) for a, b in zip(b1, b2))
    assert torch.allclose(b1.info["theta"], torch.tensor(LANDSCAPE_TASKS))
    assert isinstance(m1, CurveToy)
    with pytest.raises(ValueError, match="kind"):
        landscape_tasks("banana")
    with pytest.raises(ValueError, match=r"\(\.\.\., 1\)"):
        CurveToy()(torch.ones(3, 2))
    with pytest.raises(ValueError, match=r"\(\.\.\., 2\)"):
        LinearToy()(torch.ones(3, 1))
    A, B, grid = toy.param_grid((-1, 1), (-2, 2), n=5, device="cpu")
    assert A.shape == (5, 5) and grid.shape == (25, 2)
    model, batch = landscape_tasks("curve", device="cpu")
    z0 = toy.loss_surface(model, batch, grid)
    z1 = toy.loss_surface(model, batch, grid, inner_steps=3, inner_lr=0.3)
    assert z0.shape == (25,) and torch.isfinite(z1).all()
    # the grid loss at one point equals the task-averaged query loss computed directly
    theta = grid[7]
    direct = ((torch.tanh(theta[0] * batch.x_query + theta[1]) - batch.y_query) ** 2).mean()
    assert torch.allclose(z0[7], direct, atol=1e-6)


# --------------------------------------------------------------------------- implicit meta-gradient


@pytest.mark.parametrize("lam", [0.3, 2.0])
def test_implicit_gradient_equals_exact_gradient_of_proximal_objective(lam):
    """On quadratic tasks φ*(θ) has a closed form; iMAML's gradient must equal its derivative."""
    batch = _double(QuadraticTasks().sample(5, 8, 8, generator=2, device="cpu"))
    model = LinearToy().double()
    theta = torch.tensor([0.4, -1.1], dtype=torch.float64, requires_grad=True)
    exact, = torch.autograd.grad(toy.proximal_meta_objective(theta, batch, lam), theta)
    # (a) the implicit formula at the exact inner optimum
    phi = toy.proximal_solution(theta.detach(), batch.x_support, batch.y_support, lam)
    per_task, _ = torch.vmap(
        lambda ph, xs, ys, xq, yq: imaml.implicit_meta_gradient(
            model, {"theta": ph}, xs, ys, xq, yq, lam, cg_steps=2))(phi, *batch)
    assert torch.allclose(per_task["theta"].mean(0), exact, atol=1e-10)
    # (b) the full algorithm with a converged gradient-descent inner loop (1e-4 as specified)
    lr = 1.0 / float(torch.linalg.eigvalsh(toy.quadratic_hessian(batch.x_support)).max() + lam)
    loss, g = imaml.imaml_meta_gradient(model, {"theta": theta.detach()}, batch, imaml_lambda=lam,
                                        inner_steps=400, inner_lr=lr, cg_steps=2)
    assert (g["theta"] - exact).abs().max() < 1e-4
    assert float(loss) == pytest.approx(
        float(toy.proximal_meta_objective(theta.detach(), batch, lam)), rel=1e-6)


def test_unrolled_gradient_approaches_implicit_gradient_as_inner_steps_grow():
    """Backprop through k proximal GD steps → the implicit gradient as k → ∞ (non-quadratic toy)."""
    model, batch = landscape_tasks("curve", device="cpu")
    model, batch = model.double(), _double(batch)
    params = {"theta": torch.tensor([0.2, 0.1], dtype=torch.float64)}
    lam, lr = 1.0, 0.3
    _, implicit = imaml.imaml_meta_gradient(model, params, batch, imaml_lambda=lam,
                                            inner_steps=2000, inner_lr=lr, cg_steps=2)
    gaps = []
    for k in (1, 5, 20, 80, 320):
        _, unrolled = imaml.unrolled_meta_gradient(model, params, batch, lam, k, lr)
        gaps.append(float((unrolled["theta"] - implicit["theta"]).abs().max()))
    assert all(b < a for a, b in zip(gaps, gaps[1:])), gaps
    assert gaps[0] > 1e-2 and gaps[-1] < 1e-6, gaps


def test_imaml_on_a_network_matches_dense_implicit_formula_and_unrolled_reference():
    """A smooth (tanh) network, so that gradient descent converges exactly to φ*."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(1, 8), torch.nn.Tanh(),
                                torch.nn.Linear(8, 1)).double()
    params = model_params(model, detach=True)
    batch = _double(SinusoidTasks().sample(3, 10, 10, generator=4, device="cpu"))
    lam, lr, k = 2.0, 0.05, 300
    n = _flat(params).numel()
    _, g = imaml.imaml_meta_gradient(model, params, batch, imaml_lambda=lam, inner_steps=k,
                                     inner_lr=lr, cg_steps=n)
    # dense reference: adapt, form H explicitly, solve (I + H/λ) g = ∇L_q
    names, shapes = list(params), [v.shape for v in params.values()]
    sizes = [v.numel() for v in params.values()]

    def unflat(w):
        return dict(zip(names, (c.reshape(s) for c, s in zip(w.split(sizes), shapes))))

    ref = torch.zeros(n, dtype=torch.float64)
    for i in range(3):
        xs, ys, xq, yq = (t[i] for t in batch)
        phi = imaml.proximal_adapt(model, params, xs, ys, lam, k, lr)
        def sq(w, x, y):
            return ((torch.func.functional_call(model, unflat(w), (x,)) - y) ** 2).mean()

        H = torch.func.hessian(sq)(_flat(phi), xs, ys)
        gq = torch.func.grad(sq)(_flat(phi), xq, yq)
        ref += torch.linalg.solve(torch.eye(n, dtype=torch.float64) + H / lam, gq) / 3
    assert torch.allclose(_flat(g), ref, atol=1e-7)
    _, unrolled = imaml.unrolled_meta_gradient(model, params, batch, lam, k, lr)
    assert (_flat(unrolled) - ref).abs().max() < 1e-4


def test_damping_solves_the_damped_system():
    batch = _double(QuadraticTasks().sample(1, 6, 6, generator=5, device="cpu"))
    model = LinearToy().double()
    phi = {"theta": torch.tensor([0.3, 0.3], dtype=torch.float64)}
    lam, delta = 0.7, 0.25
    g, _ = imaml.implicit_meta_gradient(model, phi, *(t[0] for t in batch), imaml_lambda=lam,
                                        cg_steps=2, damping=delta)
    H = toy.quadratic_hessian(batch.x_support[0])
    gq = toy.quadratic_gradient(phi["theta"], batch.x_query[0], batch.y_query[0])
    ref = torch.linalg.solve((1 + delta) * torch.eye(2, dtype=torch.float64) + H / lam, gq)
    assert torch.allclose(g["theta"], ref, atol=1e-10)


def test_batched_equals_serial_and_is_deterministic():
    torch.manual_seed(0)
    model = MLP(1, (10, 10), 1)
    params = model_params(model, detach=True)
    batch = SinusoidTasks().sample(4, 5, 5, generator=7, device="cpu")
    kw = dict(imaml_lambda=1.0, inner_steps=5, inner_lr=0.02, cg_steps=4, damping=0.1)
    l1, g1 = imaml.imaml_meta_gradient(model, params, batch, **kw)
    l2, g2 = imaml.imaml_meta_gradient(model, params, batch, batched=False, **kw)
    l3, g3 = imaml.imaml_meta_gradient(model, params, batch, **kw)
    assert torch.allclose(l1, l2, atol=1e-6)
    for k in g1:
        assert torch.allclose(g1[k], g2[k], atol=1e-6)
        assert torch.equal(g1[k], g3[k])
        assert g1[k].shape == params[k].shape and not g1[k].requires_grad


def test_bad_arguments_give_clear_errors():
    model = LinearToy()
    batch = QuadraticTasks().sample(2, 4, 4, generator=0, device="cpu")
    with pytest.raises(ValueError, match="imaml_lambda"):
        imaml.imaml_meta_gradient(model, {"theta": torch.zeros(2)}, batch, imaml_lambda=0.0)
    with pytest.raises(ValueError, match="steps"):
        imaml.conjugate_gradient(lambda v: v, torch.ones(2), cg_steps=-1)
    with pytest.raises(ValueError, match="imaml_lambda"):  # an old key is not silently ignored
        imaml.make_imaml_grad_fn(model, MetaConfig(method="imaml", options={"lam": 1.0}))


def test_imaml_plugs_into_meta_train():
    """meta_train(method="imaml", optimizer="sgd") is θ ← θ − β·(iMAML gradient)."""
    torch.manual_seed(0)
    model = MLP(1, (10, 10), 1)
    theta0 = model_params(model, detach=True)
    opts = {"imaml_lambda": 0.5, "cg_steps": 3, "damping": 0.1}
    cfg = MetaConfig(iterations=3, meta_batch_size=4, k_support=5, k_query=5, inner_steps=4,
                     inner_lr=0.02, meta_lr=0.1, optimizer="sgd", method="imaml", seed=3,
                     options=opts)
    trained, hist = meta_train(model, SinusoidTasks(), cfg, params=theta0, progress=False,
                               device="cpu")
    gen = torch.Generator().manual_seed(3)
    p = {k: v.clone() for k, v in theta0.items()}
    for it in range(3):
        batch = SinusoidTasks().sample(4, 5, 5, generator=gen, device="cpu")
        loss, g = imaml.imaml_meta_gradient(model, p, batch, imaml_lambda=0.5, inner_steps=4,
                                            inner_lr=0.02, cg_steps=3, damping=0.1)
        assert hist["loss"][it] == pytest.approx(float(loss), rel=1e-5)
        p = {k: p[k] - 0.1 * g[k] for k in p}
    for k in p:
        assert torch.allclose(trained[k], p[k], atol=1e-6)


def test_imaml_meta_training_reduces_post_adaptation_loss():
    torch.manual_seed(0)
    model = MLP(1, (20, 20), 1)
    cfg = MetaConfig(iterations=200, meta_batch_size=8, k_support=10, k_query=10,
                     inner_steps=20, inner_lr=0.01, meta_lr=3e-3, method="imaml",
                     eval_every=100, eval_tasks=64,
                     options={"imaml_lambda": 10.0, "cg_steps": 5, "backtrack": True})
    _, hist = meta_train(model, SinusoidTasks(), cfg, progress=False, device="cpu")
    assert hist["eval_loss"][-1] < 0.7 * hist["eval_loss"][0], hist["eval_loss"]


def test_backtracking_keeps_the_inner_solver_stable():
    """A step size far above 2/(h_max + λ): plain GD diverges, backtracking still converges."""
    batch = _double(QuadraticTasks().sample(2, 8, 8, generator=9, device="cpu"))
    model = LinearToy().double()
    theta = {"theta": torch.tensor([0.3, -0.2], dtype=torch.float64)}
    lam = 0.5
    h_max = float(torch.linalg.eigvalsh(toy.quadratic_hessian(batch.x_support)).max())
    big = 8.0 / (h_max + lam)
    for i in range(2):
        xs, ys = batch.x_support[i], batch.y_support[i]
        exact = toy.proximal_solution(theta["theta"], xs, ys, lam)
        plain = imaml.proximal_adapt(model, theta, xs, ys, lam, 60, big)["theta"]
        safe = imaml.proximal_adapt(model, theta, xs, ys, lam, 300, big, backtrack=True)["theta"]
        assert not torch.allclose(plain, exact, atol=1e-3)  # diverged or oscillating
        assert torch.allclose(safe, exact, atol=1e-6)
        # with a safe step size backtracking never triggers: identical iterates
        small = 1.0 / (h_max + lam)
        a = imaml.proximal_adapt(model, theta, xs, ys, lam, 20, small)["theta"]
        b = imaml.proximal_adapt(model, theta, xs, ys, lam, 20, small, backtrack=True)["theta"]
        assert torch.allclose(a, b, atol=1e-12)
    # and inside vmap, one decision per task
    out = torch.vmap(lambda xs, ys: imaml.proximal_adapt(model, theta, xs, ys, lam, 300, big,
                                                         backtrack=True)["theta"])(
        batch.x_support, batch.y_support)
    exact = toy.proximal_solution(theta["theta"], batch.x_support, batch.y_support, lam)
    assert torch.allclose(out, exact, atol=1e-6)


def test_evaluate_proximal_adaptation_matches_manual_loop():
    model = LinearToy().double()
    batch = _double(QuadraticTasks().sample(3, 6, 5, generator=4, device="cpu"))
    theta = {"theta": torch.tensor([0.2, 0.4], dtype=torch.float64)}
    curve = evaluate_proximal_adaptation(model, theta, batch, inner_steps=4, inner_lr=0.1,
                                         imaml_lambda=2.0)
    assert curve.shape == (3, 5)
    for i in range(3):
        xs, ys, xq, yq = (t[i] for t in batch)
        for s in range(5):
            phi = imaml.proximal_adapt(model, theta, xs, ys, 2.0, s, 0.1, backtrack=True)
            want = ((xq @ phi["theta"][:, None] - yq) ** 2).mean()
            assert torch.allclose(curve[i, s], want, atol=1e-12)


def test_top_hessian_eigenvalue_of_a_linear_model_is_exact():
    """For ``L(w) = mean((x w - y)²)`` the Hessian is ``2 xᵀx / K``: the routine gives its top
    eigenvalue, one task at a time and under ``vmap``."""
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 1, bias=False).double()
    p = {k: v.detach() for k, v in model.named_parameters()}
    x = torch.randn(2, 8, 3, dtype=torch.float64)
    y = torch.randn(2, 8, 1, dtype=torch.float64)
    want = torch.stack([torch.linalg.eigvalsh(2 * xi.T @ xi / 8)[-1] for xi in x])
    one = imaml.top_hessian_eigenvalue(model, p, x[0], y[0], iterations=200)
    assert one.item() == pytest.approx(want[0].item(), rel=1e-6)
    both = torch.vmap(lambda a, b: imaml.top_hessian_eigenvalue(model, p, a, b, 200))(x, y)
    torch.testing.assert_close(both, want, rtol=1e-6, atol=0)

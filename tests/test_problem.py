"""course_pkg.algorithms.problem: disjoint splits, meta-objective, kernel regression, ridge head."""

from __future__ import annotations

import math

import pytest
import torch

from course_pkg.algorithms.problem import (
    feature_ridge_predict,
    kernel_regression,
    meta_objective,
    meta_train_feature_ridge,
    ridge_features,
    ridge_head,
    split_support_query,
)
from course_pkg.models import MLP, params
from course_pkg.tasks import SinusoidTasks, TaskBatch


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny tensors: one intra-op thread avoids synchronisation overhead (much faster on a busy
    machine); restored afterwards."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def test_split_is_disjoint_and_complete():
    x = torch.arange(4 * 9, dtype=torch.float32).reshape(4, 9, 1)
    y = -x
    b = split_support_query(x, y, 3, generator=0)
    assert b.x_support.shape == (4, 3, 1) and b.x_query.shape == (4, 6, 1)
    for t in range(4):
        s = set(b.x_support[t].flatten().tolist())
        q = set(b.x_query[t].flatten().tolist())
        assert not s & q
        assert s | q == set(x[t].flatten().tolist())
    assert torch.equal(b.y_support, -b.x_support) and torch.equal(b.y_query, -b.x_query)
    # the recorded indices point at the examples
    assert torch.equal(torch.gather(x[..., 0], 1, b.info["support_index"]), b.x_support[..., 0])


def test_split_is_seeded_and_differs_between_tasks():
    x = torch.arange(50 * 20, dtype=torch.float32).reshape(50, 20)
    x = x.unsqueeze(-1)
    a = split_support_query(x, x, 5, generator=1)
    b = split_support_query(x, x, 5, generator=1)
    c = split_support_query(x, x, 5, generator=2)
    assert torch.equal(a.info["support_index"], b.info["support_index"])
    assert not torch.equal(a.info["support_index"], c.info["support_index"])
    perms = {tuple(r.tolist()) for r in a.info["support_index"]}
    assert len(perms) > 1


def test_split_rejects_bad_sizes():
    x = torch.zeros(2, 5, 1)
    with pytest.raises(ValueError, match="between 1 and 4"):
        split_support_query(x, x, 5)
    with pytest.raises(ValueError, match="same first two"):
        split_support_query(x, torch.zeros(2, 4, 1), 2)


def test_meta_objective_matches_hand_computation():
    b = SinusoidTasks().sample(3, 4, 6, generator=0, device="cpu")

    def adapt(xs, ys):
        return ys.mean()  # φ = mean of the support targets

    def predict(phi, xq):
        return phi.expand(xq.shape[0], 1)

    expected = sum(
        ((b.y_query[i] - b.y_support[i].mean()) ** 2).mean() for i in range(3)
    ) / 3
    got = meta_objective(adapt, predict, b)
    assert torch.allclose(got, expected)
    per = meta_objective(adapt, predict, b, per_task=True)
    assert per.shape == (3,) and torch.allclose(per.mean(), got)


def test_meta_objective_checks_prediction_shape():
    b = SinusoidTasks().sample(2, 3, 4, generator=0, device="cpu")
    with pytest.raises(ValueError, match="predict returned shape"):
        meta_objective(lambda xs, ys: 0.0, lambda phi, xq: torch.zeros(xq.shape[0]), b)
    with pytest.raises(TypeError):
        meta_objective(lambda xs, ys: 0.0, lambda phi, xq: xq, (1, 2))


def test_kernel_regression_matches_formula_and_limits():
    g = torch.Generator().manual_seed(0)
    xs, ys = torch.randn(2, 5, 1, generator=g), torch.randn(2, 5, 1, generator=g)
    xq = torch.randn(2, 7, 1, generator=g)
    h = 0.7
    got = kernel_regression(xs, ys, xq, h)
    for t in range(2):
        for q in range(7):
            k = torch.exp(-((xq[t, q] - xs[t, :, 0]) ** 2) / (2 * h * h))
            assert torch.allclose(got[t, q, 0], (k * ys[t, :, 0]).sum() / k.sum(), atol=1e-6)
    # tiny bandwidth: nearest neighbour; huge bandwidth: mean of the support targets
    nn_pred = kernel_regression(xs, ys, xs, 1e-3)
    assert torch.allclose(nn_pred, ys, atol=1e-5)
    wide = kernel_regression(xs, ys, xq, 1e4)
    assert torch.allclose(wide, ys.mean(1, keepdim=True).expand_as(wide), atol=1e-5)
    with pytest.raises(ValueError, match="positive"):
        kernel_regression(xs, ys, xq, 0.0)


def test_kernel_bandwidth_gradient_matches_finite_differences():
    b = SinusoidTasks().sample(4, 5, 10, generator=3, device="cpu")
    b = TaskBatch(*(t.double() for t in b))
    log_h = torch.tensor(0.1, dtype=torch.float64, requires_grad=True)

    def objective(lh):
        return meta_objective(
            lambda xs, ys: (xs, ys),
            lambda phi, xq: kernel_regression(phi[0], phi[1], xq, lh.exp()),
            b,
        )

    (grad,) = torch.autograd.grad(objective(log_h), log_h)
    eps = 1e-6
    with torch.no_grad():
        fd = (objective(log_h + eps) - objective(log_h - eps)) / (2 * eps)
    assert math.isclose(grad.item(), fd.item(), rel_tol=1e-5, abs_tol=1e-9)


def test_ridge_head_equals_primal_solution_and_is_differentiable():
    g = torch.Generator().manual_seed(0)
    f = torch.randn(2, 3, 4, generator=g, dtype=torch.float64)
    y = torch.randn(2, 3, 1, generator=g, dtype=torch.float64)
    lam = 0.3
    w = ridge_head(f, y, lam)
    primal = torch.linalg.solve(f.transpose(-1, -2) @ f + lam * torch.eye(4, dtype=f.dtype),
                                f.transpose(-1, -2) @ y)
    assert torch.allclose(w, primal, atol=1e-10)
    # stationarity of ‖Fw − y‖² + λ‖w‖²
    grad = 2 * f.transpose(-1, -2) @ (f @ w - y) + 2 * lam * w
    assert grad.abs().max() < 1e-10
    f.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda a: ridge_head(a, y, lam), (f,))
    with pytest.raises(ValueError):
        ridge_head(f, y, 0.0)


def test_feature_ridge_shapes_and_bias_feature():
    torch.manual_seed(0)
    model = MLP(1, (8,), 4)
    p = params(model)
    b = SinusoidTasks().sample(3, 5, 7, generator=0, device="cpu")
    feats = ridge_features(model, p, b.x_support)
    assert feats.shape == (3, 5, 5) and torch.all(feats[..., -1] == 1)
    pred = feature_ridge_predict(model, p, b.x_support, b.y_support, b.x_query)
    assert pred.shape == b.y_query.shape


def test_meta_training_lowers_the_query_loss_and_is_deterministic():
    tasks = SinusoidTasks()
    torch.manual_seed(0)
    model = MLP(1, (20,), 10)
    p0 = params(model, detach=True)
    test = tasks.sample(50, 5, 50, generator=123, device="cpu")

    def query_mse(p):
        with torch.no_grad():
            pred = feature_ridge_predict(model, p, test.x_support, test.y_support, test.x_query)
            return ((pred - test.y_query) ** 2).mean().item()

    kw = dict(meta_batch_size=10, meta_lr=5e-3, seed=0, device="cpu", progress=False)
    p1, hist = meta_train_feature_ridge(model, p0, tasks, iterations=80, **kw)
    assert len(hist) == 80
    assert query_mse(p1) < 0.7 * query_mse(p0)
    a, ha = meta_train_feature_ridge(model, p0, tasks, iterations=5, **kw)
    b, hb = meta_train_feature_ridge(model, p0, tasks, iterations=5, **kw)
    assert ha == hb == hist[:5] and all(torch.equal(a[k], b[k]) for k in a)


def test_query_is_support_trains_on_the_support_set_only():
    tasks = SinusoidTasks()
    torch.manual_seed(0)
    model = MLP(1, (20,), 10)
    p0 = params(model, detach=True)
    kw = dict(iterations=3, meta_batch_size=4, seed=0, device="cpu", progress=False)
    _, h_disjoint = meta_train_feature_ridge(model, p0, tasks, **kw)
    _, h_support = meta_train_feature_ridge(model, p0, tasks, query_is_support=True, **kw)
    # same tasks, but the support-scored loss is the (much smaller) training error of the head
    assert h_support[0] < h_disjoint[0]
    b = tasks.sample(4, 5, 10, generator=torch.Generator().manual_seed(0), device="cpu")
    fit = feature_ridge_predict(model, p0, b.x_support, b.y_support, b.x_support)
    assert abs(h_support[0] - ((fit - b.y_support) ** 2).mean().item()) < 1e-5

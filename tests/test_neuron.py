"""Tests of course_pkg.algorithms.neuron: the single-neuron worked example of chapter 1.

Every equation of the chapter is checked numerically three ways: the closed form of the worked
example, plain autograd through the inner steps, and the course's general MAML code
(inner_adapt / maml.meta_gradient on nn.Linear(1, 1, bias=False)).
"""

from __future__ import annotations

import pytest
import torch

from course_pkg.algorithms import neuron as nr

ALPHA, BETA, THETA0 = 0.1, 0.5, 1.0


def close(a, b, rel=1e-9, abs_=1e-6) -> bool:
    a, b = float(a), float(b)
    return abs(a - b) <= max(abs_, rel * abs(b))


@pytest.fixture
def tasks() -> list[nr.NeuronTask]:
    return nr.seed_tasks()


def random_task(gen: torch.Generator, k: int = 3, q: int = 2, scale: float = 1.0) -> nr.NeuronTask:
    xs, ys = scale * torch.randn(k, generator=gen, dtype=torch.float64), torch.randn(
        k, generator=gen, dtype=torch.float64)
    xq, yq = torch.randn(q, generator=gen, dtype=torch.float64), torch.randn(
        q, generator=gen, dtype=torch.float64)
    return nr.NeuronTask(xs, ys, xq, yq)


# --------------------------------------------------------------------------- supervised part
def test_loss_and_gradient_closed_form_match_autograd():
    gen = torch.Generator().manual_seed(0)
    for _ in range(20):
        x = torch.randn(5, generator=gen, dtype=torch.float64)
        y = torch.randn(5, generator=gen, dtype=torch.float64)
        theta = float(torch.randn((), generator=gen, dtype=torch.float64))
        assert close(nr.loss(theta, x, y), ((y - theta * x) ** 2).sum())
        assert close(nr.loss_grad(theta, x, y), nr.autograd_loss_grad(theta, x, y), rel=1e-12)


def test_loss_broadcasts_over_a_theta_grid():
    x, y = nr.as_data(nr.SGD_EXAMPLE)
    grid = torch.linspace(-2, 2, 7, dtype=torch.float64)
    vals = nr.loss(grid, x, y)
    assert vals.shape == grid.shape
    for th, v in zip(grid, vals):
        assert close(v, nr.loss(float(th), x, y))
    assert nr.loss_grad(grid.reshape(7, 1), x, y).shape == (7, 1)


def test_one_sgd_step_gives_0_8_three_ways():
    x, y = nr.as_data(nr.SGD_EXAMPLE)
    assert x.dtype == torch.float64
    assert close(nr.loss(THETA0, x, y), 9.0)
    assert close(nr.loss_grad(THETA0, x, y), 2.0)
    for w1 in (nr.gradient_step(THETA0, x, y, ALPHA), nr.adapt(THETA0, x, y, 1, ALPHA),
               nr.autograd_adapt(THETA0, x, y, 1, ALPHA), nr.general_adapt(THETA0, x, y, 1, ALPHA)):
        assert close(w1, 0.8)


def test_least_squares_weight_is_the_minimum():
    x, y = nr.as_data(nr.SGD_EXAMPLE)
    w = nr.least_squares_weight(x, y)
    assert close(w, 13 / 14)
    assert abs(float(nr.loss_grad(w, x, y))) < 1e-12


# --------------------------------------------------------------------------- the walk-through
def test_task_adaptation_phi(tasks):
    expected = (0.6, -8.2)
    for t, phi in zip(tasks, expected):
        for f in (nr.adapt, nr.autograd_adapt, nr.general_adapt):
            assert close(f(THETA0, *t.support, 1, ALPHA), phi), f.__name__


def test_per_task_meta_gradients(tasks):
    expected = (4.48, 3028.48)
    for t, g in zip(tasks, expected):
        for f in (nr.task_meta_gradient, nr.autograd_task_meta_gradient,
                  nr.general_task_meta_gradient):
            assert close(f(THETA0, t, 1, ALPHA), g), f.__name__
    # eq. 15 is the product of eq. 14 and eq. 13
    t1, t2 = tasks
    assert close(nr.adaptation_derivative(t1.x_support, 1, ALPHA), -1.6)
    assert close(nr.adaptation_derivative(t2.x_support, 1, ALPHA), -11.2)
    assert close(nr.loss_grad(0.6, *t1.query), -2.8)
    assert close(nr.loss_grad(-8.2, *t2.query), -270.4)


def test_meta_update_is_minus_1515_48_not_minus_295_32(tasks):
    for f in (nr.meta_update, nr.autograd_meta_update, nr.general_meta_update):
        th1 = f(THETA0, tasks, 1, ALPHA, BETA)
        assert close(th1, -1515.48), f.__name__
        assert not close(th1, -295.32)
    assert close(nr.meta_gradient(THETA0, tasks, 1, ALPHA), 4.48 + 3028.48)


# --------------------------------------------------------------------------- k steps (eq. 21–28)
@pytest.mark.parametrize("k", [1, 2, 3, 4, 5])
def test_eq28_adaptation_derivative_matches_autograd_on_random_data(k):
    gen = torch.Generator().manual_seed(100 + k)
    for _ in range(5):
        t = random_task(gen)
        alpha = float(torch.rand((), generator=gen)) * 0.3
        theta = float(torch.randn((), generator=gen))
        closed = nr.adaptation_derivative(t.x_support, k, alpha)
        assert close(closed, (1 - 2 * alpha * (t.x_support**2).sum()) ** k, rel=1e-12)
        assert close(closed, nr.autograd_adaptation_derivative(theta, *t.support, k, alpha),
                     rel=1e-9, abs_=1e-12)


@pytest.mark.parametrize("k", [0, 1, 2, 3, 5])
def test_k_step_meta_gradient_matches_autograd_and_general_path(k):
    gen = torch.Generator().manual_seed(7 + k)
    ts = [random_task(gen) for _ in range(3)]
    alpha = 0.05
    theta = 0.3
    closed = nr.meta_gradient(theta, ts, k, alpha)
    assert close(closed, nr.autograd_meta_gradient(theta, ts, k, alpha), rel=1e-9, abs_=1e-10)
    assert close(closed, nr.general_meta_gradient(theta, ts, k, alpha), rel=1e-9, abs_=1e-10)
    for t in ts:
        g = nr.task_meta_gradient(theta, t, k, alpha)
        assert close(g, nr.autograd_task_meta_gradient(theta, t, k, alpha), rel=1e-9, abs_=1e-10)
        w = nr.adapt(theta, *t.support, k, alpha)
        assert close(w, nr.general_adapt(theta, *t.support, k, alpha), rel=1e-12, abs_=1e-12)
        assert close(w, nr.autograd_adapt(theta, *t.support, k, alpha), rel=1e-12, abs_=1e-12)


def test_walkthrough_k_steps_explodes_for_task_2(tasks):
    t1, t2 = tasks
    for k in range(1, 6):
        assert close(nr.adaptation_derivative(t2.x_support, k, ALPHA), (-11.2) ** k)
        assert close(nr.autograd_adaptation_derivative(THETA0, *t2.support, k, ALPHA),
                     (-11.2) ** k)
        assert close(nr.autograd_adaptation_derivative(THETA0, *t1.support, k, ALPHA),
                     (-1.6) ** k)
    assert close(nr.stable_lr_bound(t2.x_support), 1 / 61)
    assert close(nr.stable_lr_bound(t1.x_support), 1 / 13)
    # below the bound the factor shrinks, above it grows
    assert abs(float(nr.adaptation_derivative(t2.x_support, 1, 0.99 / 61))) < 1
    assert abs(float(nr.adaptation_derivative(t2.x_support, 1, 1.01 / 61))) > 1


def test_uneven_task_sizes_go_through_the_general_path():
    gen = torch.Generator().manual_seed(3)
    ts = [random_task(gen, k=2, q=1), random_task(gen, k=4, q=3)]
    assert close(nr.general_meta_gradient(0.2, ts, 2, 0.05), nr.meta_gradient(0.2, ts, 2, 0.05),
                 rel=1e-9, abs_=1e-10)


# --------------------------------------------------------------------------- minima
@pytest.mark.parametrize("k", [1, 2])
def test_meta_loss_minimizer_and_curvature(tasks, k):
    th_star = nr.meta_loss_minimizer(tasks, k, ALPHA)
    assert abs(float(nr.meta_gradient(th_star, tasks, k, ALPHA))) < 1e-6 * float(
        nr.meta_loss_curvature(tasks, k, ALPHA))
    # the meta-loss is a parabola with the stated curvature
    h = 1e-3
    ml = [nr.meta_loss(th_star + d, tasks, k, ALPHA) for d in (h, 0.0, -h)]
    second = (ml[0] - 2 * ml[1] + ml[2]) / h**2
    assert close(second, nr.meta_loss_curvature(tasks, k, ALPHA), rel=1e-5)
    grid = torch.linspace(float(th_star) - 1, float(th_star) + 1, 2001, dtype=torch.float64)
    assert abs(float(grid[nr.meta_loss(grid, tasks, k, ALPHA).argmin()] - th_star)) <= 1e-3


def test_one_meta_step_overshoots_by_the_curvature_factor(tasks):
    th_star = nr.meta_loss_minimizer(tasks, 1, ALPHA)
    curv = nr.meta_loss_curvature(tasks, 1, ALPHA)
    th1 = nr.meta_update(THETA0, tasks, 1, ALPHA, BETA)
    assert close(th1 - th_star, (1 - BETA * curv) * (THETA0 - th_star), rel=1e-9)


def test_multitask_minimum_is_pooled_least_squares(tasks):
    x = torch.cat([t.pooled[0] for t in tasks])
    y = torch.cat([t.pooled[1] for t in tasks])
    w = nr.least_squares_weight(x, y)
    assert close(nr.multitask_loss(THETA0, tasks), 58.0)
    grid = torch.linspace(-1, 1, 20001, dtype=torch.float64)
    assert abs(float(grid[nr.multitask_loss(grid, tasks).argmin()] - w)) <= 1e-4


# --------------------------------------------------------------------------- bad input
def test_mis_shaped_inputs_give_clear_errors():
    with pytest.raises(ValueError, match=r"pairs of shape \(N, 2\)"):
        nr.as_data([(1, 2, 3), (4, 5, 6)])
    with pytest.raises(ValueError, match="same length"):
        nr.loss(1.0, torch.ones(3), torch.ones(2))
    with pytest.raises(ValueError, match="1-D tensor"):
        nr.loss(1.0, torch.ones(3, 2), torch.ones(3, 2))
    with pytest.raises(ValueError, match="empty"):
        nr.as_data(torch.ones(0), torch.ones(0))
    with pytest.raises(ValueError, match="steps must be an integer"):
        nr.adapt(1.0, torch.ones(2), torch.ones(2), inner_steps=-1, inner_lr=0.1)
    with pytest.raises(ValueError, match="scalar theta"):
        nr.autograd_loss_grad(torch.ones(3), torch.ones(2), torch.ones(2))
    with pytest.raises(ValueError, match="different"):
        nr.to_task_batch([nr.NeuronTask.from_pairs([(1, 1)], [(2, 2)]),
                          nr.NeuronTask.from_pairs([(1, 1), (2, 2)], [(2, 2)])])
    with pytest.raises(TypeError, match="NeuronTask.from_pairs"):
        nr.meta_gradient(1.0, [((1, 1), (2, 2))], 1, 0.1)
    with pytest.raises(ValueError, match="at least one task"):
        nr.meta_update(1.0, [], 1, 0.1, 0.5)
    with pytest.raises(ValueError, match="all inputs are 0"):
        nr.least_squares_weight(torch.zeros(2), torch.ones(2))


def test_column_vectors_and_integer_pairs_are_accepted():
    x, y = nr.as_data([[1], [2]], [[3], [4]])
    assert x.shape == (2,) and x.dtype == torch.float64
    t = nr.NeuronTask.from_pairs([(2, 4), (3, 1)], [(1, 2)])
    assert t.x_support.tolist() == [2.0, 3.0] and t.y_query.tolist() == [2.0]

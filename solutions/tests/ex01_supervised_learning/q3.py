from otter.test_files import test_case

OK_FORMAT = False

name = "q3"
points = 5

@test_case(points=None, hidden=False)
def test_q3_adapted_weights(adapt):
    import numpy as np
    phi1 = adapt(1.0, np.array([2.0, 3.0]), np.array([4.0, 1.0]), 0.1, 1)
    phi2 = adapt(1.0, np.array([5.0, 6.0]), np.array([3.0, 0.0]), 0.1, 1)
    assert phi1 is not None and phi2 is not None, 'adapt returned None: replace the ... by your code'
    assert np.isclose(float(phi1), 0.6), f'phi_1 should be 0.6, got {float(phi1)}'
    assert np.isclose(float(phi2), -8.2), f'phi_2 should be -8.2, got {float(phi2)}'

@test_case(points=None, hidden=False)
def test_q3_meta_gradients_worked_example(meta_gradient):
    import numpy as np
    t1 = (np.array([2.0, 3.0]), np.array([4.0, 1.0]), np.array([1.0]), np.array([2.0]))
    t2 = (np.array([5.0, 6.0]), np.array([3.0, 0.0]), np.array([4.0]), np.array([1.0]))
    g1, g2 = (meta_gradient(1.0, *t1, 0.1, 1), meta_gradient(1.0, *t2, 0.1, 1))
    assert g1 is not None and g2 is not None, 'meta_gradient returned None'
    assert np.isclose(float(g1), 4.48), f'task 1 meta-gradient should be 4.48, got {float(g1)}'
    assert np.isclose(float(g2), 3028.48), f'task 2 meta-gradient should be 3028.48, got {float(g2)}'

@test_case(points=None, hidden=False)
def test_q3_meta_update_worked_example(meta_update):
    import numpy as np
    tasks = [(np.array([2.0, 3.0]), np.array([4.0, 1.0]), np.array([1.0]), np.array([2.0])), (np.array([5.0, 6.0]), np.array([3.0, 0.0]), np.array([4.0]), np.array([1.0]))]
    got = meta_update(1.0, tasks, 0.1, 0.5, 1)
    assert got is not None, 'meta_update returned None'
    assert np.isclose(float(got), -1515.48), f'theta(1) should be -1515.48, got {float(got)}'

@test_case(points=1, hidden=True)
def test_q3_k_steps_match_autograd(meta_gradient):
    import numpy as np
    import torch

    def autograd_meta_gradient(theta, xs, ys, xq, yq, alpha, k):
        xs, ys, xq, yq = (torch.from_numpy(a) for a in (xs, ys, xq, yq))
        th = torch.tensor(theta, dtype=torch.float64, requires_grad=True)
        w = th
        for _ in range(k):
            g, = torch.autograd.grad(torch.sum((ys - w * xs) ** 2), w, create_graph=True)
            w = w - alpha * g
        torch.sum((yq - w * xq) ** 2).backward()
        return th.grad.item()
    tasks = [(np.array([2.0, 3.0]), np.array([4.0, 1.0]), np.array([1.0]), np.array([2.0])), (np.array([5.0, 6.0]), np.array([3.0, 0.0]), np.array([4.0]), np.array([1.0]))]
    for j, task in enumerate(tasks, start=1):
        for k in range(1, 6):
            expected = autograd_meta_gradient(1.0, *task, 0.1, k)
            got = float(meta_gradient(1.0, *(a.copy() for a in task), 0.1, k))
            assert np.isclose(got, expected, rtol=1e-08), f'task {j}, k={k}: autograd {expected}, got {got}'

@test_case(points=1, hidden=True)
def test_q3_random_tasks_and_zero_steps(meta_gradient, adapt):
    import numpy as np
    import torch
    rng = np.random.default_rng(4)
    for k in (0, 1, 3):
        xs, ys, xq, yq = (rng.normal(size=3), rng.normal(size=3), rng.normal(size=2), rng.normal(size=2))
        theta, alpha = (float(rng.normal()), 0.05)
        th = torch.tensor(theta, dtype=torch.float64, requires_grad=True)
        w = th
        for _ in range(k):
            g = -2.0 * torch.sum(torch.from_numpy(xs) * (torch.from_numpy(ys) - w * torch.from_numpy(xs)))
            w = w - alpha * g
        torch.sum((torch.from_numpy(yq) - w * torch.from_numpy(xq)) ** 2).backward()
        got = float(meta_gradient(theta, xs.copy(), ys.copy(), xq.copy(), yq.copy(), alpha, k))
        assert np.isclose(got, th.grad.item(), rtol=1e-08, atol=1e-10), f'k={k}: autograd {th.grad.item()}, got {got}'
        assert np.isclose(float(adapt(theta, xs.copy(), ys.copy(), alpha, k)), w.item()), f'adapt is wrong for k={k}'

@test_case(points=1, hidden=True)
def test_q3_meta_update_two_steps(meta_update):
    import numpy as np
    import torch
    tasks = [(np.array([2.0, 3.0]), np.array([4.0, 1.0]), np.array([1.0]), np.array([2.0])), (np.array([5.0, 6.0]), np.array([3.0, 0.0]), np.array([4.0]), np.array([1.0]))]
    theta, alpha, beta, k = (0.3, 0.01, 0.02, 2)
    th = torch.tensor(theta, dtype=torch.float64, requires_grad=True)
    meta_loss = 0.0
    for xs, ys, xq, yq in tasks:
        xs, ys, xq, yq = (torch.from_numpy(a) for a in (xs, ys, xq, yq))
        w = th
        for _ in range(k):
            g, = torch.autograd.grad(torch.sum((ys - w * xs) ** 2), w, create_graph=True)
            w = w - alpha * g
        meta_loss = meta_loss + torch.sum((yq - w * xq) ** 2)
    meta_loss.backward()
    expected = theta - beta * th.grad.item()
    got = float(meta_update(theta, tasks, alpha, beta, k))
    assert np.isclose(got, expected, rtol=1e-08), f'expected {expected}, got {got}'


from otter.test_files import test_case

OK_FORMAT = False

name = "q3"
points = 2

@test_case(points=None, hidden=False)
def test_q3_matches_reptile(reptile_direction):
    import torch
    from course_pkg.algorithms.reptile import reptile_meta_gradient
    from course_pkg.models import LinearToy
    from course_pkg.tasks import TaskBatch
    g = torch.Generator().manual_seed(1)
    Xs, ys = (torch.randn(6, 2, generator=g, dtype=torch.float64), torch.randn(6, generator=g, dtype=torch.float64))
    Xq, yq = (torch.randn(6, 2, generator=g, dtype=torch.float64), torch.randn(6, generator=g, dtype=torch.float64))
    theta = torch.tensor([0.5, -1.0], dtype=torch.float64)
    got = reptile_direction(theta, torch.cat([Xs, Xq]), torch.cat([ys, yq]), 0.1, 3)
    assert got is not None, 'reptile_direction returned None'
    b = TaskBatch(Xs[None], ys[None, :, None], Xq[None], yq[None, :, None])
    _, ref = reptile_meta_gradient(LinearToy().double(), {'theta': theta}, b, 3, 0.1)
    assert torch.allclose(got, ref['theta'], atol=1e-10), f"expected {ref['theta']}, got {got}"

@test_case(points=None, hidden=True)
def test_q3_one_step_is_scaled_gradient(reptile_direction):
    import torch
    g = torch.Generator().manual_seed(4)
    X, y = (torch.randn(9, 2, generator=g, dtype=torch.float64), torch.randn(9, generator=g, dtype=torch.float64))
    theta = torch.randn(2, generator=g, dtype=torch.float64)
    grad = 2.0 * X.T @ (X @ theta - y) / 9
    assert torch.allclose(reptile_direction(theta, X, y, 0.2, 1), 0.2 * grad, atol=1e-12), 'with k = 1, θ − φ = α ∇L(θ)'
    far = reptile_direction(theta, X, y, 0.2, 400)
    w_star = torch.linalg.lstsq(X, y[:, None]).solution[:, 0]
    assert torch.allclose(far, theta - w_star, atol=1e-06), 'with many steps φ reaches the least-squares solution'


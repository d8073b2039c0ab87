from otter.test_files import test_case

OK_FORMAT = False

name = "q3"
points = 2

@test_case(points=None, hidden=False)
def test_q3_three_steps(quadratic_maml_k_steps):
    import torch
    from course_pkg.algorithms.maml import meta_gradient
    from course_pkg.tasks import TaskBatch
    g = torch.Generator().manual_seed(5)
    Xs, ys = (torch.randn(6, 3, generator=g, dtype=torch.float64), torch.randn(6, generator=g, dtype=torch.float64))
    Xq, yq = (torch.randn(4, 3, generator=g, dtype=torch.float64), torch.randn(4, generator=g, dtype=torch.float64))
    theta = torch.randn(3, generator=g, dtype=torch.float64)
    lin = torch.nn.Linear(3, 1, bias=False, dtype=torch.float64)
    b = TaskBatch(Xs[None], ys[None, :, None], Xq[None], yq[None, :, None])
    _, ref = meta_gradient(lin, {'weight': theta[None]}, b, 3, 0.03, lambda p, t: 0.5 * ((p - t) ** 2).sum())
    got = quadratic_maml_k_steps(theta, Xs, ys, Xq, yq, 0.03, 3)
    assert got is not None, 'replace the ... by your code'
    assert torch.allclose(torch.as_tensor(got).flatten(), ref['weight'][0]), '3-step MAML meta-gradient differs'

@test_case(points=1, hidden=True)
def test_q3_k_zero_to_five(quadratic_maml_k_steps):
    import torch
    from course_pkg.algorithms.maml import meta_gradient
    from course_pkg.tasks import TaskBatch
    g = torch.Generator().manual_seed(6)
    Xs, ys = (torch.randn(5, 4, generator=g, dtype=torch.float64), torch.randn(5, generator=g, dtype=torch.float64))
    Xq, yq = (torch.randn(5, 4, generator=g, dtype=torch.float64), torch.randn(5, generator=g, dtype=torch.float64))
    theta = torch.randn(4, generator=g, dtype=torch.float64)
    lin = torch.nn.Linear(4, 1, bias=False, dtype=torch.float64)
    b = TaskBatch(Xs[None], ys[None, :, None], Xq[None], yq[None, :, None])
    for k in range(6):
        _, ref = meta_gradient(lin, {'weight': theta[None]}, b, k, 0.02, lambda p, t: 0.5 * ((p - t) ** 2).sum())
        got = torch.as_tensor(quadratic_maml_k_steps(theta, Xs, ys, Xq, yq, 0.02, k)).flatten()
        assert torch.allclose(got, ref['weight'][0]), f'k = {k}: meta-gradient differs'


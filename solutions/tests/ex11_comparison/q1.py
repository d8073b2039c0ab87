from otter.test_files import test_case

OK_FORMAT = False

name = "q1"
points = 3

@test_case(points=None, hidden=False)
def test_q1_matches_maml(maml_direction):
    import torch
    from course_pkg.algorithms.maml import meta_gradient
    from course_pkg.models import LinearToy
    from course_pkg.tasks import TaskBatch
    g = torch.Generator().manual_seed(1)
    Xs, ys = (torch.randn(6, 2, generator=g, dtype=torch.float64), torch.randn(6, generator=g, dtype=torch.float64))
    Xq, yq = (torch.randn(5, 2, generator=g, dtype=torch.float64), torch.randn(5, generator=g, dtype=torch.float64))
    theta = torch.tensor([0.5, -1.0], dtype=torch.float64)
    got = maml_direction(theta, Xs, ys, Xq, yq, 0.1, 3)
    assert got is not None, 'maml_direction returned None'
    b = TaskBatch(Xs[None], ys[None, :, None], Xq[None], yq[None, :, None])
    _, ref = meta_gradient(LinearToy().double(), {'theta': theta}, b, 3, 0.1)
    assert torch.allclose(got, ref['theta'], atol=1e-10), f"expected {ref['theta']}, got {got}"

@test_case(points=None, hidden=True)
def test_q1_other_settings(maml_direction):
    import torch
    from course_pkg.algorithms.maml import meta_gradient
    from course_pkg.models import LinearToy
    from course_pkg.tasks import TaskBatch
    g = torch.Generator().manual_seed(2)
    for k, alpha in ((1, 0.05), (5, 0.2), (0, 0.1)):
        Xs, ys = (torch.randn(4, 2, generator=g, dtype=torch.float64), torch.randn(4, generator=g, dtype=torch.float64))
        Xq, yq = (torch.randn(7, 2, generator=g, dtype=torch.float64), torch.randn(7, generator=g, dtype=torch.float64))
        theta = torch.randn(2, generator=g, dtype=torch.float64)
        b = TaskBatch(Xs[None], ys[None, :, None], Xq[None], yq[None, :, None])
        _, ref = meta_gradient(LinearToy().double(), {'theta': theta}, b, k, alpha)
        got = maml_direction(theta, Xs, ys, Xq, yq, alpha, k)
        assert torch.allclose(got, ref['theta'], atol=1e-10), f"k = {k}, α = {alpha}: {got} != {ref['theta']}"


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


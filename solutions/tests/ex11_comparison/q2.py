from otter.test_files import test_case

OK_FORMAT = False

name = "q2"
points = 2

@test_case(points=None, hidden=False)
def test_q2_matches_fomaml(fomaml_direction):
    import torch
    from course_pkg.algorithms.maml import meta_gradient
    from course_pkg.models import LinearToy
    from course_pkg.tasks import TaskBatch
    g = torch.Generator().manual_seed(1)
    Xs, ys = (torch.randn(6, 2, generator=g, dtype=torch.float64), torch.randn(6, generator=g, dtype=torch.float64))
    Xq, yq = (torch.randn(5, 2, generator=g, dtype=torch.float64), torch.randn(5, generator=g, dtype=torch.float64))
    theta = torch.tensor([0.5, -1.0], dtype=torch.float64)
    got = fomaml_direction(theta, Xs, ys, Xq, yq, 0.1, 3)
    assert got is not None, 'fomaml_direction returned None'
    b = TaskBatch(Xs[None], ys[None, :, None], Xq[None], yq[None, :, None])
    _, ref = meta_gradient(LinearToy().double(), {'theta': theta}, b, 3, 0.1, first_order=True)
    assert torch.allclose(got, ref['theta'], atol=1e-10), f"expected {ref['theta']}, got {got}"

@test_case(points=None, hidden=True)
def test_q2_k0_is_plain_gradient(fomaml_direction):
    import torch
    g = torch.Generator().manual_seed(3)
    Xs, ys = (torch.randn(4, 2, generator=g, dtype=torch.float64), torch.randn(4, generator=g, dtype=torch.float64))
    Xq, yq = (torch.randn(4, 2, generator=g, dtype=torch.float64), torch.randn(4, generator=g, dtype=torch.float64))
    theta = torch.randn(2, generator=g, dtype=torch.float64)
    want = 2.0 * Xq.T @ (Xq @ theta - yq) / 4
    assert torch.allclose(fomaml_direction(theta, Xs, ys, Xq, yq, 0.3, 0), want), "with k = 0 FOMAML's direction is the query gradient at θ"
    phi = theta - 0.3 * 2.0 * Xs.T @ (Xs @ theta - ys) / 4
    phi = phi - 0.3 * 2.0 * Xs.T @ (Xs @ phi - ys) / 4
    want2 = 2.0 * Xq.T @ (Xq @ phi - yq) / 4
    assert torch.allclose(fomaml_direction(theta, Xs, ys, Xq, yq, 0.3, 2), want2, atol=1e-12)


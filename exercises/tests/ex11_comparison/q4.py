from otter.test_files import test_case

OK_FORMAT = False

name = "q4"
points = 3

@test_case(points=None, hidden=False)
def test_q4_matches_closed_form_autograd(imaml_direction):
    import torch
    from course_pkg.algorithms.toy import proximal_meta_objective
    from course_pkg.tasks import TaskBatch
    g = torch.Generator().manual_seed(1)
    Xs, ys = (torch.randn(6, 2, generator=g, dtype=torch.float64), torch.randn(6, generator=g, dtype=torch.float64))
    Xq, yq = (torch.randn(5, 2, generator=g, dtype=torch.float64), torch.randn(5, generator=g, dtype=torch.float64))
    theta = torch.tensor([0.5, -1.0], dtype=torch.float64, requires_grad=True)
    b = TaskBatch(Xs[None], ys[None, :, None], Xq[None], yq[None, :, None])
    ref, = torch.autograd.grad(proximal_meta_objective(theta, b, 0.7), theta)
    got = imaml_direction(theta.detach(), Xs, ys, Xq, yq, 0.7)
    assert got is not None, 'imaml_direction returned None'
    assert torch.allclose(got, ref, atol=1e-10), f'expected {ref}, got {got}'


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

@test_case(points=None, hidden=True)
def test_q4_limits(imaml_direction):
    import torch
    from course_pkg.algorithms.imaml import imaml_meta_gradient
    from course_pkg.models import LinearToy
    from course_pkg.tasks import TaskBatch
    g = torch.Generator().manual_seed(6)
    Xs, ys = (torch.randn(5, 2, generator=g, dtype=torch.float64), torch.randn(5, generator=g, dtype=torch.float64))
    Xq, yq = (torch.randn(5, 2, generator=g, dtype=torch.float64), torch.randn(5, generator=g, dtype=torch.float64))
    theta = torch.randn(2, generator=g, dtype=torch.float64)
    big = imaml_direction(theta, Xs, ys, Xq, yq, 100000000.0)
    assert torch.allclose(big, 2.0 * Xq.T @ (Xq @ theta - yq) / 5, atol=1e-06), 'as λ → ∞, φ* → θ and the direction is the query gradient at θ'
    b = TaskBatch(Xs[None], ys[None, :, None], Xq[None], yq[None, :, None])
    H = 2.0 * Xs.T @ Xs / 5
    lr = 1.0 / (torch.linalg.eigvalsh(H).max().item() + 2.0)
    _, ref = imaml_meta_gradient(LinearToy().double(), {'theta': theta}, b, imaml_lambda=2.0, inner_steps=500, inner_lr=lr, cg_steps=2)
    assert torch.allclose(imaml_direction(theta, Xs, ys, Xq, yq, 2.0), ref['theta'], atol=1e-08)


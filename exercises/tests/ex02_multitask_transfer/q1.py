from otter.test_files import test_case

OK_FORMAT = False

name = "q1"
points = 3

@test_case(points=None, hidden=False)
def test_q1_matches_loop(multitask_loss):
    import torch
    from course_pkg.models import MLP
    torch.manual_seed(0)
    trunk = torch.nn.Sequential(MLP(1, (8,), 3), torch.nn.ReLU())
    w, b = (torch.randn(4, 3, 1), torch.randn(4, 1))
    x, y = (torch.randn(4, 6, 1), torch.randn(4, 6, 1))
    got = multitask_loss(trunk, w, b, x, y)
    assert got is not None, 'multitask_loss returned None: replace the ... by your code'
    want = sum((((trunk(x[i]) @ w[i] + b[i] - y[i]) ** 2).mean() for i in range(4)))
    assert torch.is_tensor(got) and got.dim() == 0, 'return a scalar tensor'
    assert torch.allclose(got, want, rtol=1e-05, atol=1e-06), f'expected {want.item():.5f}, got {got.item():.5f}'


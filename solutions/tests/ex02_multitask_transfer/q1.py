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

@test_case(points=None, hidden=True)
def test_q1_heads_are_per_task_and_differentiable(multitask_loss):
    import torch
    from course_pkg.grading import in_kernel
    from course_pkg.models import MLP

    def loss_and_head_grads(multitask_loss, trunk, w, b, x, y):
        """Runs next to the notebook's code: the loss and its gradients w.r.t. the heads."""
        import torch
        loss = multitask_loss(trunk, w, b, x, y)
        if not (isinstance(loss, torch.Tensor) and loss.requires_grad):
            return (loss, None)
        return (loss, torch.autograd.grad(loss, (w, b), allow_unused=True))
    torch.manual_seed(1)
    trunk = torch.nn.Sequential(MLP(2, (5,), 4), torch.nn.ReLU())
    w = torch.randn(3, 4, 2, requires_grad=True)
    b = torch.randn(3, 2, requires_grad=True)
    x, y = (torch.randn(3, 5, 2), torch.randn(3, 5, 2))
    loss, grads = in_kernel(loss_and_head_grads, multitask_loss, trunk, w, b, x, y)
    want = sum((((trunk(x[i]) @ w[i] + b[i] - y[i]) ** 2).sum(-1).mean() for i in range(3)))
    assert torch.allclose(torch.as_tensor(loss), want, rtol=1e-05, atol=1e-06), 'sum the squared error over outputs, average over points, sum over tasks'
    ok = grads is not None and all((g is not None and g.abs().sum() > 0 for g in grads))
    assert ok, 'the loss must be differentiable w.r.t. the heads'
    swapped = multitask_loss(trunk, w.flip(0).detach(), b.flip(0).detach(), x, y)
    assert not torch.allclose(torch.as_tensor(swapped), want), 'task i must use head i'


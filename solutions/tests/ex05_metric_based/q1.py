from otter.test_files import test_case

OK_FORMAT = False

name = "q1"
points = 4

@test_case(points=None, hidden=False)
def test_q1_value(prototypical_loss):
    import torch
    zs = torch.tensor([[0.0, 0.0], [2.0, 0.0], [0.0, 3.0], [0.0, 5.0]])
    ys = torch.tensor([0, 0, 1, 1])
    zq = torch.tensor([[1.0, 1.0]])
    yq = torch.tensor([0])
    got = prototypical_loss(zq, yq, zs, ys, 2)
    assert got is not None and got is not Ellipsis, 'prototypical_loss returned nothing'
    expected = torch.log1p(torch.exp(torch.tensor(-9.0)))
    assert torch.isclose(torch.as_tensor(got, dtype=torch.float32), expected, atol=1e-06), f'expected {expected.item():.6f}, got {float(got):.6f}'

@test_case(points=None, hidden=False)
def test_q1_matches_course_pkg(prototypical_loss):
    import torch
    from course_pkg.algorithms.metric import prototypical_loss as reference
    g = torch.Generator().manual_seed(1)
    zs, zq = (torch.randn(6, 5, generator=g), torch.randn(12, 5, generator=g))
    ys = torch.tensor([0, 0, 1, 1, 2, 2])
    yq = torch.arange(3).repeat_interleave(4)
    got = float(prototypical_loss(zq, yq, zs, ys, 3))
    ref = float(reference(zq, yq, zs, ys, 3))
    assert abs(got - ref) < 1e-05, f'course_pkg gives {ref:.6f}, you give {got:.6f}'

@test_case(points=1, hidden=True)
def test_q1_gradients_and_unordered_labels(prototypical_loss):
    import torch
    from course_pkg.algorithms.metric import prototypical_loss as reference
    from course_pkg.grading import in_kernel

    def loss_and_grads(prototypical_loss, zq, yq, zs, ys):
        """Runs next to the notebook's code: the loss and its gradients w.r.t. the embeddings."""
        import torch
        mine = prototypical_loss(zq, yq, zs, ys, 4)
        if not (isinstance(mine, torch.Tensor) and mine.requires_grad):
            return (mine, None)
        return (mine, torch.autograd.grad(mine, [zq, zs], allow_unused=True))
    g = torch.Generator().manual_seed(7)
    ys = torch.tensor([2, 0, 1, 3, 1, 0, 3, 2, 0, 1, 2, 3])
    zs = torch.randn(12, 8, generator=g, requires_grad=True)
    zq = torch.randn(10, 8, generator=g, requires_grad=True)
    yq = torch.randint(0, 4, (10,), generator=g)
    mine, grads = in_kernel(loss_and_grads, prototypical_loss, zq, yq, zs, ys)
    ref = reference(zq, yq, zs, ys, 4)
    rq, rs = torch.autograd.grad(ref, [zq, zs])
    assert torch.allclose(torch.as_tensor(mine), ref, atol=1e-05), f'value {float(mine)} vs {float(ref)}'
    msg = "the gradients differ from course_pkg's: is the loss differentiable (no .item(), no numpy) and a mean over the queries?"
    assert grads is not None and all((x is not None for x in grads)), msg
    assert torch.allclose(grads[0], rq, atol=1e-05) and torch.allclose(grads[1], rs, atol=1e-05), msg

@test_case(points=1, hidden=True)
def test_q1_invariant_to_support_order(prototypical_loss):
    import torch
    g = torch.Generator().manual_seed(3)
    zs, zq = (torch.randn(10, 4, generator=g), torch.randn(6, 4, generator=g))
    ys = torch.arange(5).repeat_interleave(2)
    yq = torch.tensor([0, 1, 2, 3, 4, 0])
    perm = torch.randperm(10, generator=g)
    a = float(prototypical_loss(zq, yq, zs, ys, 5))
    b = float(prototypical_loss(zq, yq, zs[perm], ys[perm], 5))
    assert abs(a - b) < 1e-05, 'the loss must not depend on the order of the support set'


from otter.test_files import test_case

OK_FORMAT = False

name = "q3"
points = 3

@test_case(points=None, hidden=False)
def test_q3_shapes_and_bias(protonet_linear_head):
    import torch
    zs = torch.tensor([[0.0, 0.0], [2.0, 0.0], [0.0, 3.0], [0.0, 5.0]])
    out = protonet_linear_head(zs, torch.tensor([0, 0, 1, 1]), 2)
    assert out is not None and out is not Ellipsis, 'protonet_linear_head returned nothing'
    W, b = out
    assert tuple(W.shape) == (2, 2) and tuple(b.shape) == (2,), 'W must be (N, D), b (N,)'
    assert torch.allclose(W, torch.tensor([[2.0, 0.0], [0.0, 8.0]])), f'W = 2 c_n, got {W}'
    assert torch.allclose(b, torch.tensor([-1.0, -16.0])), f'b = -|c_n|^2, got {b}'

@test_case(points=1, hidden=True)
def test_q3_same_probabilities_as_protonet(protonet_linear_head):
    import torch
    from course_pkg.algorithms.metric import prototypical_logits
    g = torch.Generator().manual_seed(4)
    ys = torch.tensor([1, 0, 2, 4, 3, 0, 1, 2, 3, 4])
    zs, zq = (torch.randn(10, 6, generator=g), torch.randn(8, 6, generator=g))
    W, b = protonet_linear_head(zs, ys, 5)
    mine = torch.softmax(zq @ W.T + b, -1)
    ref = torch.softmax(prototypical_logits(zq, zs, ys, 5), -1)
    assert torch.allclose(mine, ref, atol=1e-05), "the probabilities differ from ProtoNet's"


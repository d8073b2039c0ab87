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


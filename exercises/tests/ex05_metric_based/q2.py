from otter.test_files import test_case

OK_FORMAT = False

name = "q2"
points = 4

@test_case(points=None, hidden=False)
def test_q2_shape_and_rows(matching_probabilities):
    import torch
    g = torch.Generator().manual_seed(0)
    zs, zq = (torch.randn(6, 5, generator=g), torch.randn(4, 5, generator=g))
    ys = torch.tensor([0, 1, 2, 0, 1, 2])
    p = matching_probabilities(zq, zs, ys, 3, 2.0)
    assert p is not None and p is not Ellipsis, 'matching_probabilities returned nothing'
    assert tuple(p.shape) == (4, 3), f'expected shape (4, 3), got {tuple(p.shape)}'
    assert torch.allclose(p.sum(-1), torch.ones(4), atol=1e-05), 'rows must sum to one'

@test_case(points=None, hidden=False)
def test_q2_known_value(matching_probabilities):
    import math
    import torch
    zs = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    zq = torch.tensor([[2.0, 0.0]])
    p = matching_probabilities(zq, zs, torch.tensor([0, 1]), 2, 1.0)
    expected = math.e / (math.e + 1.0)
    assert abs(float(p[0, 0]) - expected) < 1e-05, f'P(y=0) should be e/(e+1), got {float(p[0, 0])}'


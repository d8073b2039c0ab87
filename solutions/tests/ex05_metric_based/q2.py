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

@test_case(points=1, hidden=True)
def test_q2_matches_course_pkg(matching_probabilities):
    import torch
    from course_pkg.algorithms.metric import matching_log_probs
    g = torch.Generator().manual_seed(5)
    zs, zq = (torch.randn(12, 7, generator=g), torch.randn(9, 7, generator=g))
    ys = torch.tensor([3, 1, 0, 2, 2, 0, 1, 3, 0, 1, 2, 3])
    for scale in (1.0, 4.0, 10.0):
        p = matching_probabilities(zq, zs, ys, 4, scale)
        ref = matching_log_probs(zq, zs, ys, 4, scale).exp()
        assert torch.allclose(p, ref, atol=1e-05), f'scale {scale}: differs from course_pkg'

@test_case(points=1, hidden=True)
def test_q2_cosine_ignores_length_and_large_scale_is_nearest_neighbour(matching_probabilities):
    import torch
    g = torch.Generator().manual_seed(9)
    zs, zq = (torch.randn(6, 4, generator=g), torch.randn(5, 4, generator=g))
    ys = torch.tensor([0, 0, 1, 1, 2, 2])
    a = matching_probabilities(zq, zs, ys, 3, 3.0)
    b = matching_probabilities(7.0 * zq, 0.5 * zs, ys, 3, 3.0)
    assert torch.allclose(a, b, atol=1e-05), 'use the cosine: rescaling vectors must not matter'
    sharp = matching_probabilities(zq, zs, ys, 3, 10000.0)
    cos = torch.nn.functional.cosine_similarity(zq[:, None], zs[None], dim=-1)
    nearest = ys[cos.argmax(-1)]
    assert torch.equal(sharp.argmax(-1), nearest), 'a huge scale should give the nearest neighbour'


from otter.test_files import test_case

OK_FORMAT = False

name = "q1"
points = 3

@test_case(points=None, hidden=False)
def test_q1_shapes_and_disjoint(split_support_query):
    import torch
    x = torch.arange(3 * 8, dtype=torch.float32).reshape(3, 8, 1)
    y = 10 * x
    out = split_support_query(x, y, 3, seed=0)
    assert out is not None and len(out) == 4, 'return (x_support, y_support, x_query, y_query)'
    xs, ys, xq, yq = out
    assert tuple(xs.shape) == (3, 3, 1) and tuple(ys.shape) == (3, 3, 1), f'support shapes should be (3, 3, 1), got {tuple(xs.shape)} and {tuple(ys.shape)}'
    assert tuple(xq.shape) == (3, 5, 1) and tuple(yq.shape) == (3, 5, 1), f'query shapes should be (3, 5, 1), got {tuple(xq.shape)} and {tuple(yq.shape)}'
    for t in range(3):
        s, q = (set(xs[t].flatten().tolist()), set(xq[t].flatten().tolist()))
        assert not s & q, f'task {t}: support and query share examples {sorted(s & q)}'
        assert s | q == set(x[t].flatten().tolist()), f'task {t}: some examples are missing'
    assert torch.equal(ys, 10 * xs) and torch.equal(yq, 10 * xq), 'each y must stay with its x'

@test_case(points=None, hidden=False)
def test_q1_seeded(split_support_query):
    import torch
    x = torch.randn(5, 12, 2, generator=torch.Generator().manual_seed(0))
    a = split_support_query(x, x, 4, seed=3)
    b = split_support_query(x, x, 4, seed=3)
    assert all((torch.equal(u, v) for u, v in zip(a, b))), 'the same seed must give the same split'


from otter.test_files import test_case

OK_FORMAT = False

name = "q4"
points = 2

@test_case(points=None, hidden=False)
def test_q4_values(first_order_error):
    import torch
    g = torch.Generator().manual_seed(7)
    Xs, ys = (torch.randn(6, 3, generator=g, dtype=torch.float64), torch.randn(6, generator=g, dtype=torch.float64))
    Xq, yq = (torch.randn(4, 3, generator=g, dtype=torch.float64), torch.randn(4, generator=g, dtype=torch.float64))
    theta = torch.randn(3, generator=g, dtype=torch.float64)
    out = first_order_error(Xs, Xq, yq, theta, ys, 0.02)
    assert isinstance(out, tuple) and len(out) == 2, 'return the pair (relative_error, bound)'
    H = Xs.T @ Xs
    phi = theta - 0.02 * Xs.T @ (Xs @ theta - ys)
    g_fo = Xq.T @ (Xq @ phi - yq)
    rel = (0.02 * H @ g_fo).norm() / g_fo.norm()
    bound = 0.02 * torch.linalg.eigvalsh(H).max()
    assert abs(float(out[0]) - rel.item()) < 1e-09, f'relative error should be {rel.item():.6f}'
    assert abs(float(out[1]) - bound.item()) < 1e-09, f'bound should be {bound.item():.6f}'
    assert float(out[0]) <= float(out[1]) + 1e-12, 'the relative error must not exceed the bound'

@test_case(points=1, hidden=True)
def test_q4_bound_holds_and_is_tight(first_order_error):
    import torch
    g = torch.Generator().manual_seed(8)
    for trial in range(20):
        d = 1 + trial % 4
        Xs, ys = (torch.randn(5, d, generator=g, dtype=torch.float64), torch.randn(5, generator=g, dtype=torch.float64))
        Xq, yq = (torch.randn(5, d, generator=g, dtype=torch.float64), torch.randn(5, generator=g, dtype=torch.float64))
        theta = torch.randn(d, generator=g, dtype=torch.float64)
        rel, bound = first_order_error(Xs, Xq, yq, theta, ys, 0.01)
        assert float(rel) <= float(bound) + 1e-12, f'trial {trial}: {float(rel)} > {float(bound)}'
        if d == 1:
            assert abs(float(rel) - float(bound)) < 1e-09, 'in one dimension the error equals α H'


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


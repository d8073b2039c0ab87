from otter.test_files import test_case

OK_FORMAT = False

name = "q2"
points = 3

@test_case(points=None, hidden=False)
def test_q2_quadratic(hvp):
    import torch
    A = torch.tensor([[3.0, 1.0], [1.0, 2.0]], dtype=torch.float64)

    def f(x):
        return 0.5 * x @ A @ x
    v = torch.tensor([1.0, -1.0], dtype=torch.float64)
    got = hvp(f, torch.tensor([0.3, 0.7], dtype=torch.float64), v)
    assert got is not None, 'hvp returned None'
    assert torch.allclose(got, A @ v), f'for f = ½ xᵀAx, Hv = Av = {A @ v}, got {got}'

@test_case(points=None, hidden=True)
def test_q2_network_loss(hvp):
    import torch
    g = torch.Generator().manual_seed(2)
    X = torch.randn(12, 4, generator=g, dtype=torch.float64)
    y = torch.randn(12, generator=g, dtype=torch.float64)

    def f(w):
        W1 = w[:12].reshape(4, 3)
        w2 = w[12:]
        return ((torch.tanh(X @ W1) @ w2 - y) ** 2).mean()
    x = torch.randn(15, generator=g, dtype=torch.float64)
    v = torch.randn(15, generator=g, dtype=torch.float64)
    H = torch.func.hessian(f)(x)
    got = hvp(f, x, v)
    assert got.shape == (15,), f'expected shape (15,), got {tuple(got.shape)}'
    assert torch.allclose(got, H @ v, atol=1e-10), 'Hv differs from the dense Hessian times v'


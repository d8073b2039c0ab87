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


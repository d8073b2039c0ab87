from otter.test_files import test_case

OK_FORMAT = False

name = "q1"
points = 3

@test_case(points=None, hidden=False)
def test_q1_dense_solve(conjugate_gradient):
    import torch
    g = torch.Generator().manual_seed(0)
    M = torch.randn(5, 5, generator=g, dtype=torch.float64)
    A = M @ M.T + 0.5 * torch.eye(5, dtype=torch.float64)
    b = torch.randn(5, generator=g, dtype=torch.float64)
    x = conjugate_gradient(lambda v: A @ v, b, 5)
    assert x is not None, 'conjugate_gradient returned None: replace the ... by your code'
    want = torch.linalg.solve(A, b)
    assert torch.allclose(x, want, atol=1e-08), f'after n = 5 steps expected {want}, got {x}'


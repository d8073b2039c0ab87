from otter.test_files import test_case

OK_FORMAT = False

name = "q2"
points = 3

@test_case(points=None, hidden=False)
def test_q2_worked_example(sgd_step):
    import numpy as np
    x, y = (np.array([1.0, 2.0, 3.0]), np.array([2.0, 4.0, 1.0]))
    got = sgd_step(1.0, x, y, 0.1)
    assert got is not None, 'sgd_step returned None: replace the ... by your code'
    assert np.isclose(float(got), 0.8), f'w(1) should be 0.8, got {float(got)}'

@test_case(points=None, hidden=False)
def test_q2_zero_step_size(sgd_step):
    import numpy as np
    x, y = (np.array([1.0, 2.0, 3.0]), np.array([2.0, 4.0, 1.0]))
    got = float(sgd_step(0.37, x, y, 0.0))
    assert np.isclose(got, 0.37), f'with alpha = 0 the weight must not move, got {got}'

@test_case(points=1, hidden=True)
def test_q2_matches_autograd_step(sgd_step):
    import numpy as np
    import torch
    rng = np.random.default_rng(3)
    for n, w0, alpha in ((2, 0.5, 0.01), (5, -1.5, 0.05), (9, 2.0, 0.001)):
        x, y = (rng.normal(size=n), rng.normal(size=n))
        w = torch.tensor(w0, dtype=torch.float64, requires_grad=True)
        torch.sum((torch.from_numpy(y) - w * torch.from_numpy(x)) ** 2).backward()
        expected = w0 - alpha * w.grad.item()
        got = float(sgd_step(w0, x.copy(), y.copy(), alpha))
        assert np.isclose(got, expected, rtol=1e-08), f'n={n}: expected {expected}, got {got}'

@test_case(points=1, hidden=True)
def test_q2_converges_to_least_squares(sgd_step):
    import numpy as np
    x, y = (np.array([1.0, 2.0, 3.0]), np.array([2.0, 4.0, 1.0]))
    w = 1.0
    for _ in range(60):
        w = float(sgd_step(w, x, y, 0.03))
    w_star = np.sum(x * y) / np.sum(x ** 2)
    assert np.isclose(w, w_star, atol=1e-08), f'60 steps with alpha=0.03 should reach {w_star}, got {w}'


from otter.test_files import test_case

OK_FORMAT = False

name = "q1"
points = 3

@test_case(points=None, hidden=False)
def test_q1_value_on_D(loss_grad):
    import numpy as np
    x, y = (np.array([1.0, 2.0, 3.0]), np.array([2.0, 4.0, 1.0]))
    got = loss_grad(1.0, x, y)
    assert got is not None, 'loss_grad returned None: replace the ... by your code'
    assert np.isclose(float(got), 2.0), f'dL/dw at w = 1 on D̂ should be 2.0, got {float(got)}'

@test_case(points=None, hidden=False)
def test_q1_matches_autograd_on_D(loss_grad):
    import numpy as np
    import torch
    x, y = (np.array([1.0, 2.0, 3.0]), np.array([2.0, 4.0, 1.0]))
    w = torch.tensor(-0.5, dtype=torch.float64, requires_grad=True)
    torch.sum((torch.from_numpy(y) - w * torch.from_numpy(x)) ** 2).backward()
    got = float(loss_grad(-0.5, x, y))
    assert np.isclose(got, w.grad.item()), f'at w = -0.5 autograd gives {w.grad.item()}, got {got}'

@test_case(points=1, hidden=True)
def test_q1_matches_autograd_random(loss_grad):
    import numpy as np
    import torch
    rng = np.random.default_rng(1)
    for n in (1, 4, 7):
        x, y = (rng.normal(size=n), rng.normal(size=n))
        for w0 in (-2.0, 0.0, 0.7, 3.5):
            w = torch.tensor(w0, dtype=torch.float64, requires_grad=True)
            torch.sum((torch.from_numpy(y) - w * torch.from_numpy(x)) ** 2).backward()
            got = float(loss_grad(w0, x.copy(), y.copy()))
            assert np.isclose(got, w.grad.item(), rtol=1e-08, atol=1e-10), f'n={n}, w={w0}: autograd {w.grad.item()}, loss_grad {got}'

@test_case(points=1, hidden=True)
def test_q1_zero_at_least_squares_minimiser(loss_grad):
    import numpy as np
    rng = np.random.default_rng(2)
    x, y = (rng.normal(size=6), rng.normal(size=6))
    w_star = np.sum(x * y) / np.sum(x ** 2)
    got = float(loss_grad(w_star, x, y))
    assert abs(got) < 1e-09, f'the gradient must vanish at the minimiser w* = {w_star}, got {got}'


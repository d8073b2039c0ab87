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


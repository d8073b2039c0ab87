from otter.test_files import test_case

OK_FORMAT = False

name = "q3"
points = 3

@test_case(points=None, hidden=False)
def test_q3_mean_predictor(meta_objective):
    import torch
    x_s = torch.tensor([[[0.0], [1.0]], [[2.0], [3.0]]])
    y_s = torch.tensor([[[1.0], [3.0]], [[0.0], [0.0]]])
    x_q = torch.tensor([[[5.0]], [[6.0]]])
    y_q = torch.tensor([[[4.0]], [[-1.0]]])
    got = meta_objective(lambda xs, ys: ys.mean(), lambda phi, xq: phi.expand(xq.shape[0], 1), x_s, y_s, x_q, y_q)
    assert got is not None, 'meta_objective returned None: replace the ... by your code'
    assert torch.is_tensor(got) and got.dim() == 0, 'return a 0-dimensional tensor'
    assert abs(float(got) - 2.5) < 1e-06, f'expected (4 + 1) / 2 = 2.5, got {float(got)}'


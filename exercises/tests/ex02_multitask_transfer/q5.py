from otter.test_files import test_case

OK_FORMAT = False

name = "q5"
points = 3

@test_case(points=None, hidden=False)
def test_q5_values(query_accuracy, mean_ci):
    import math
    import torch
    model = torch.nn.Linear(2, 3)
    p = {'weight': torch.eye(3, 2), 'bias': torch.zeros(3)}
    x = torch.tensor([[1.0, 0.0], [0.0, 1.0], [2.0, 0.0], [0.0, 3.0]])
    y = torch.tensor([0, 1, 1, 2])
    acc = query_accuracy(model, p, x, y)
    assert acc is not None and math.isclose(float(acc), 0.5), f'expected 0.5, got {acc}'
    out = mean_ci(torch.tensor([0.0, 1.0, 1.0, 0.0]))
    assert out is not None and len(out) == 2, 'return (mean, half_width)'
    assert math.isclose(out[0], 0.5) and math.isclose(out[1], 1.96 * math.sqrt(1 / 3) / 2, rel_tol=1e-06)


from otter.test_files import test_case

OK_FORMAT = False

name = "q1"
points = 2

@test_case(points=None, hidden=False)
def test_q1_known_values(reptile_outer_step):
    import torch
    theta = torch.tensor([0.0, 1.0])
    phis = torch.tensor([[2.0, 1.0], [0.0, 3.0]])
    got = reptile_outer_step(theta, phis, 0.5)
    assert got is not None, 'reptile_outer_step returned None: replace the ... by your code'
    assert torch.allclose(got, torch.tensor([0.5, 1.5])), f'expected [0.5, 1.5], got {got}'


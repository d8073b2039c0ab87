from otter.test_files import test_case

OK_FORMAT = False

name = "q2"
points = 6

@test_case(points=None, hidden=False)
def test_q2_joint_training_minimum(accumulated_landscape, landscape_minimum):
    import torch
    a = torch.linspace(-1.5, 2.0, 36)
    b = torch.linspace(-1.5, 2.0, 36)
    values = accumulated_landscape(0, 0.1, a, b)
    assert values is not None, 'accumulated_landscape returned None'
    values = torch.as_tensor(values)
    assert values.shape == (36, 36), f'expected shape (36, 36), got {tuple(values.shape)}'
    got = torch.as_tensor(landscape_minimum(values, a, b), dtype=torch.float32)
    assert torch.allclose(got, torch.tensor([0.579, 0.435]), atol=0.1), f'got minimum {got}'


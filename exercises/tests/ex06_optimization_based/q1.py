from otter.test_files import test_case

OK_FORMAT = False

name = "q1"
points = 4

@test_case(points=None, hidden=False)
def test_q1_shape_and_known_value(adapted_params):
    import torch
    got = adapted_params(torch.tensor([1.2, -0.6]), 1.0)
    assert got is not None, 'adapted_params returned None: replace the ... by your code'
    got = torch.as_tensor(got, dtype=torch.float32)
    assert got.shape == (2, 2), f'expected shape (2, 2), got {tuple(got.shape)}'
    expected = torch.tensor([[-0.5194, -1.2104], [1.764, -0.1593]])
    assert torch.allclose(got, expected, atol=0.002), f'expected {expected}, got {got}'


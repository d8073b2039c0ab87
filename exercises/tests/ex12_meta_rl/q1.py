from otter.test_files import test_case

OK_FORMAT = False

name = "q1"
points = 3

@test_case(points=None, hidden=False)
def test_q1_small_example(discounted_returns):
    import torch
    got = discounted_returns(torch.tensor([1.0, 1.0, 1.0]), 0.5)
    assert got is not None, 'discounted_returns returned None: replace the ... by your code'
    expected = torch.tensor([1.75, 1.5, 1.0])
    assert torch.allclose(torch.as_tensor(got, dtype=torch.float32), expected), f'expected {expected.tolist()}, got {got}'

@test_case(points=None, hidden=False)
def test_q1_keeps_shape(discounted_returns):
    import torch
    r = torch.ones(2, 3, 4)
    got = discounted_returns(r, 0.9)
    assert tuple(got.shape) == (2, 3, 4), f'expected shape (2, 3, 4), got {tuple(got.shape)}'


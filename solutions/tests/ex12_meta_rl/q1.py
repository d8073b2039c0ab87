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

@test_case(points=1, hidden=True)
def test_q1_matches_reference_batched(discounted_returns):
    import torch
    from course_pkg.rl import discounted_returns as reference
    g = torch.Generator().manual_seed(0)
    r = torch.randn(3, 5, 50, generator=g, dtype=torch.float64)
    for gamma in (0.0, 0.5, 0.99, 1.0):
        got = discounted_returns(r.clone(), gamma)
        assert torch.allclose(torch.as_tensor(got, dtype=torch.float64), reference(r, gamma)), f'wrong returns for gamma = {gamma}'

@test_case(points=1, hidden=True)
def test_q1_navigation_rewards(discounted_returns):
    import torch
    r = -torch.linspace(0.5, 0.0, 100)
    got = torch.as_tensor(discounted_returns(r, 1.0), dtype=torch.float32)
    assert torch.allclose(got[0], r.sum(), atol=0.0001), 'with gamma = 1, G_0 is the return'
    assert torch.allclose(got[-1], r[-1]), 'G_{H-1} is the last reward'


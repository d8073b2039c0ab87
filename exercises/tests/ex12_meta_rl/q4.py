from otter.test_files import test_case

OK_FORMAT = False

name = "q4"
points = 3

@test_case(points=None, hidden=False)
def test_q4_small_cases(ucb1_choice):
    import torch
    pulls = torch.tensor([[1.0, 0.0, 2.0], [3.0, 3.0, 3.0]])
    wins = torch.tensor([[1.0, 0.0, 0.0], [1.0, 2.0, 3.0]])
    got = ucb1_choice(pulls, wins, 9)
    assert got is not None, 'ucb1_choice returned None'
    assert torch.as_tensor(got).tolist() == [1, 2], f'expected [1, 2], got {got}'


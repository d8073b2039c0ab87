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

@test_case(points=2, hidden=True)
def test_q4_reproduces_package_ucb1(ucb1_choice):
    import torch
    from course_pkg.rl import BernoulliBandits, play_ucb1
    probs, u = BernoulliBandits(5, 60).sample(50, generator=8)
    ref = play_ucb1(probs, u)['arms']
    pulls, wins = (torch.zeros(50, 5), torch.zeros(50, 5))
    for t in range(60):
        arm = torch.as_tensor(ucb1_choice(pulls.clone(), wins.clone(), t)).long()
        assert torch.equal(arm, ref[:, t]), f"pull {t}: your arms differ from UCB1's"
        r = BernoulliBandits.pull(probs, u[:, t], arm)
        pulls[torch.arange(50), arm] += 1
        wins[torch.arange(50), arm] += r


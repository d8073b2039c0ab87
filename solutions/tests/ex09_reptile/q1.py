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

@test_case(points=None, hidden=True)
def test_q1_limits_and_random(reptile_outer_step):
    import torch
    g = torch.Generator().manual_seed(3)
    theta, phis = (torch.randn(7, generator=g), torch.randn(5, 7, generator=g))
    assert torch.allclose(reptile_outer_step(theta, phis, 0.0), theta), 'ε = 0 must keep θ'
    assert torch.allclose(reptile_outer_step(theta, phis, 1.0), phis.mean(0), atol=1e-06), 'ε = 1 must jump to the mean of the φ_i'
    want = theta + 0.3 * (phis - theta).mean(0)
    assert torch.allclose(reptile_outer_step(theta, phis, 0.3), want, atol=1e-06)
    one = reptile_outer_step(theta, phis[:1], 0.25)
    assert one.shape == (7,), f'the result must have shape (d,), got {tuple(one.shape)}'


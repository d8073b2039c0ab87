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

@test_case(points=3, hidden=True)
def test_q2_matches_course_pkg(accumulated_landscape, landscape_minimum):
    import torch
    from course_pkg.viz.landscapes import accumulated_landscapes
    grid = {'a': (-1.0, 2.0, 13), 'b': (-1.0, 2.0, 13)}
    ref = accumulated_landscapes(4, 0.2, grid)
    a = torch.linspace(-1.0, 2.0, 13)
    for m in (0, 1, 4):
        got = torch.as_tensor(accumulated_landscape(m, 0.2, a, a), dtype=torch.float32)
        assert torch.allclose(got, ref[m], rtol=0.0001, atol=1e-05), f'm={m}: values differ'
    values = torch.rand(5, 7, generator=torch.Generator().manual_seed(0))
    values[3, 2] = -1.0
    got = torch.as_tensor(landscape_minimum(values, torch.arange(7.0), torch.arange(5.0) * 10))
    assert torch.allclose(got.float(), torch.tensor([2.0, 30.0])), f'minimum at {got}'


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

@test_case(points=2, hidden=True)
def test_q1_matches_course_pkg(adapted_params):
    import torch
    from course_pkg.algorithms.core import inner_adapt
    from course_pkg.viz.landscapes import softplus_tasks
    model, batch = softplus_tasks()
    for theta, alpha in (([0.0, 0.0], 0.5), ([-1.0, 1.5], 0.1), ([2.0, -1.0], 1.7)):
        got = torch.as_tensor(adapted_params(torch.tensor(theta), alpha), dtype=torch.float32)
        for i in range(2):
            ref = inner_adapt(model, {'theta': torch.tensor(theta)}, batch.x_support[i], batch.y_support[i], 1, alpha)['theta']
            assert torch.allclose(got[i], ref, atol=0.0001), f'task {i}, θ={theta}, α={alpha}: expected {ref}, got {got[i]}'


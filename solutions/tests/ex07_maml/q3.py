from otter.test_files import test_case

OK_FORMAT = False

name = "q3"
points = 2

@test_case(points=None, hidden=False)
def test_q3_shape_and_values(adaptation_curve):
    import torch
    from course_pkg.grading.checks import assert_close
    from course_pkg.algorithms.evaluation import evaluate_adaptation
    from course_pkg.models import MLP, params
    from course_pkg.tasks import SinusoidTasks
    torch.manual_seed(6)
    net = MLP(1, (10,), 1)
    p = {k: v.detach().clone().requires_grad_(True) for k, v in params(net).items()}
    b = SinusoidTasks().sample(3, 5, 8, generator=6, device='cpu')
    got = adaptation_curve(net, p, b, 4, 0.02)
    assert tuple(got.shape) == (3, 5), f'expected shape (3, 5), got {tuple(got.shape)}'
    ref = evaluate_adaptation(net, p, b, 4, 0.02)
    assert_close(got, ref, 'adaptation_curve(...)', rtol=0, atol=1e-05)

@test_case(points=1, hidden=True)
def test_q3_other_sizes(adaptation_curve):
    import torch
    from course_pkg.algorithms.evaluation import evaluate_adaptation
    from course_pkg.models import MLP, params
    from course_pkg.tasks import SinusoidTasks
    torch.manual_seed(7)
    net = MLP(1, (16, 16), 1)
    p = params(net, detach=True)
    b = SinusoidTasks().sample(6, 10, 4, generator=7, device='cpu')
    got = adaptation_curve(net, p, b, 7, 0.01)
    assert tuple(got.shape) == (6, 8), f'expected shape (6, 8), got {tuple(got.shape)}'
    assert torch.allclose(got, evaluate_adaptation(net, p, b, 7, 0.01), atol=1e-05)
    assert torch.allclose(adaptation_curve(net, p, b, 0, 0.01)[:, 0], got[:, 0]), 'steps = 0 must give column 0'


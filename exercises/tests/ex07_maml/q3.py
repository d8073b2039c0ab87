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


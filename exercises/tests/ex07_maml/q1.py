from otter.test_files import test_case

OK_FORMAT = False

name = "q1"
points = 3

@test_case(points=None, hidden=False)
def test_q1_values_match_reference(inner_loop):
    import torch
    from course_pkg.algorithms.core import inner_adapt
    from course_pkg.models import MLP, params
    from course_pkg.tasks import SinusoidTasks
    torch.manual_seed(1)
    net = MLP(1, (8, 8), 1)
    p = {k: v.detach().clone().requires_grad_(True) for k, v in params(net).items()}
    b = SinusoidTasks().sample(1, 5, 5, generator=1, device='cpu')
    got = inner_loop(net, p, b.x_support[0], b.y_support[0], 2, 0.05)
    assert isinstance(got, dict), f'inner_loop must return a dict of tensors, got {type(got).__name__}'
    ref = inner_adapt(net, p, b.x_support[0], b.y_support[0], 2, 0.05)
    for k in ref:
        assert torch.allclose(got[k], ref[k], atol=1e-06), f'adapted parameter {k!r} differs from the reference'


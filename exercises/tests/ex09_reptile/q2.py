from otter.test_files import test_case

OK_FORMAT = False

name = "q2"
points = 4

@test_case(points=None, hidden=False)
def test_q2_matches_reference(reptile_delta_serial):
    import torch
    from course_pkg.algorithms.reptile import reptile_update
    from course_pkg.models import MLP, params
    from course_pkg.tasks import SinusoidTasks
    torch.manual_seed(1)
    net = MLP(1, (10, 10), 1)
    p = params(net, detach=True)
    b = SinusoidTasks().sample(3, 5, 5, generator=1, device='cpu')
    got = reptile_delta_serial(net, p, b, 3, 0.02)
    assert isinstance(got, dict), 'return a dict {name: tensor}'
    ref = reptile_update(net, p, b, inner_steps=3, inner_lr=0.02, data='support')
    for k in ref:
        assert got[k].shape == ref[k].shape, f'{k}: shape {tuple(got[k].shape)} != {tuple(ref[k].shape)}'
        assert torch.allclose(got[k], ref[k], atol=1e-06), f'Δ[{k!r}] differs from the reference'


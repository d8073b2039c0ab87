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

@test_case(points=None, hidden=True)
def test_q2_other_sizes(reptile_delta_serial):
    import torch
    from course_pkg.algorithms.reptile import reptile_update
    from course_pkg.models import MLP, params
    from course_pkg.tasks import SinusoidTasks
    torch.manual_seed(4)
    net = MLP(1, (8,), 1)
    p = params(net, detach=True)
    for T, steps, lr in ((1, 1, 0.05), (5, 4, 0.01)):
        b = SinusoidTasks().sample(T, 6, 2, generator=T, device='cpu')
        got = reptile_delta_serial(net, p, b, steps, lr)
        ref = reptile_update(net, p, b, inner_steps=steps, inner_lr=lr, data='support')
        for k in ref:
            assert torch.allclose(got[k], ref[k], atol=1e-06), f'T={T}, k={steps}: Δ[{k!r}] differs'
    for k, v in p.items():
        assert torch.equal(v, params(net)[k].detach()), 'params must not be modified in place'


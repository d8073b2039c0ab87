from otter.test_files import test_case

OK_FORMAT = False

name = "q3"
points = 2

@test_case(points=None, hidden=False)
def test_q3_matches_reference(reptile_delta_batched):
    import torch
    from course_pkg.algorithms.reptile import reptile_update
    from course_pkg.models import MLP, params
    from course_pkg.tasks import SinusoidTasks
    torch.manual_seed(1)
    net = MLP(1, (10, 10), 1)
    p = params(net, detach=True)
    b = SinusoidTasks().sample(3, 5, 5, generator=1, device='cpu')
    got = reptile_delta_batched(net, p, b, 3, 0.02)
    ref = reptile_update(net, p, b, inner_steps=3, inner_lr=0.02, data='support')
    for k in ref:
        assert got[k].shape == ref[k].shape, f'{k}: shape {tuple(got[k].shape)}; average over tasks'
        assert torch.allclose(got[k], ref[k], atol=1e-06), f'Δ[{k!r}] differs from the reference'

@test_case(points=None, hidden=True)
def test_q3_many_tasks(reptile_delta_batched):
    import torch
    from course_pkg.algorithms.reptile import reptile_update
    from course_pkg.models import MLP, params
    from course_pkg.tasks import SinusoidTasks
    torch.manual_seed(5)
    net = MLP(1, (12,), 1)
    p = params(net, detach=True)
    b = SinusoidTasks().sample(16, 4, 1, generator=5, device='cpu')
    got = reptile_delta_batched(net, p, b, 2, 0.03)
    ref = reptile_update(net, p, b, inner_steps=2, inner_lr=0.03, data='support')
    for k in ref:
        assert torch.allclose(got[k], ref[k], atol=1e-06), f'Δ[{k!r}] differs for 16 tasks'

@test_case(points=None, hidden=True)
def test_q3_model_runs_once_per_step_for_all_tasks(reptile_delta_batched):
    import torch
    from course_pkg.grading import in_kernel
    from course_pkg.models import MLP, params
    from course_pkg.tasks import SinusoidTasks

    def count_model_calls(reptile_delta_batched, net, p, b, steps, lr):
        """Runs next to the notebook's code: the result and how often the model ran (a
        forward hook counts it; the count comes back as plain data)."""
        calls = []
        handle = net.register_forward_pre_hook(lambda module, args: calls.append(1))
        try:
            out = reptile_delta_batched(net, p, b, steps, lr)
        finally:
            handle.remove()
        return (out, len(calls))
    torch.manual_seed(6)
    net = MLP(1, (8,), 1)
    p = params(net, detach=True)
    b = SinusoidTasks().sample(6, 4, 1, generator=6, device='cpu')
    _, n_calls = in_kernel(count_model_calls, reptile_delta_batched, net, p, b, 3, 0.02)
    assert n_calls <= 3 + 1, f'the model ran {n_calls} times for 6 tasks and 3 steps: map over the tasks with torch.vmap (the model then runs once per step for all tasks), not a Python loop'


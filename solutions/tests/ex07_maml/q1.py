from otter.test_files import test_case

OK_FORMAT = False

name = "q1"
points = 3

@test_case(points=None, hidden=False)
def test_q1_values_match_reference(inner_loop):
    import torch
    from course_pkg.grading.checks import assert_close
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
        assert_close(got[k], ref[k], f'inner_loop(...)[{k!r}] after 2 steps', rtol=0, atol=1e-06)

@test_case(points=1, hidden=True)
def test_q1_zero_steps_and_no_graph(inner_loop):
    import torch
    from course_pkg.grading.checks import assert_close
    from course_pkg.algorithms.core import inner_adapt
    from course_pkg.models import MLP, params
    from course_pkg.tasks import SinusoidTasks
    torch.manual_seed(2)
    net = MLP(1, (8,), 1)
    p = {k: v.detach().clone().requires_grad_(True) for k, v in params(net).items()}
    b = SinusoidTasks().sample(1, 6, 5, generator=2, device='cpu')
    same = inner_loop(net, p, b.x_support[0], b.y_support[0], 0, 0.1)
    for k in p:
        assert torch.equal(same[k], p[k]), 'with steps = 0 the parameters must be returned unchanged'
    got = inner_loop(net, p, b.x_support[0], b.y_support[0], 3, 0.02, create_graph=False)
    ref = inner_adapt(net, p, b.x_support[0], b.y_support[0], 3, 0.02)
    for k in ref:
        assert_close(got[k], ref[k], f'inner_loop(..., create_graph=False)[{k!r}]', rtol=0, atol=1e-06)

@test_case(points=None, hidden=False)
def test_q1_second_order_graph_is_kept(inner_loop):
    import torch
    from course_pkg.algorithms.maml import meta_gradient
    from course_pkg.grading import in_kernel
    from course_pkg.models import MLP, params
    from course_pkg.tasks import SinusoidTasks

    def grads_through(inner_loop, net, p, b):
        """Runs next to the notebook's code: differentiates the query loss through inner_loop."""
        import torch
        from course_pkg.algorithms.core import loss_at
        phi = inner_loop(net, p, b.x_support[0], b.y_support[0], 2, 0.1, create_graph=True)
        query = loss_at(net, phi, b.x_query[0], b.y_query[0])
        if not query.requires_grad:
            return None
        return list(torch.autograd.grad(query, list(p.values()), allow_unused=True))
    torch.manual_seed(3)
    net = MLP(1, (10, 10), 1)
    p = {k: v.detach().clone().requires_grad_(True) for k, v in params(net).items()}
    b = SinusoidTasks().sample(1, 5, 5, generator=3, device='cpu')
    grads = in_kernel(grads_through, inner_loop, net, p, b)
    hint = "is not MAML's second-order meta-gradient: did you pass create_graph=True to torch.autograd.grad and avoid detach()?"
    assert grads is not None and all((g is not None for g in grads)), f'the query loss after your inner loop does not depend on params: it {hint}'
    _, ref = meta_gradient(net, p, b, 2, 0.1)
    for k, g in zip(p, grads):
        assert torch.allclose(g, ref[k], atol=1e-05), f'the gradient through your inner loop w.r.t. {k!r} {hint}'


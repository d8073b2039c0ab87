from otter.test_files import test_case

OK_FORMAT = False

name = "q1"
points = 3

@test_case(points=None, hidden=False)
def test_q1_matches_reference(fomaml_meta_gradient):
    import torch
    from course_pkg.algorithms.maml import meta_gradient
    from course_pkg.models import MLP, params
    from course_pkg.tasks import SinusoidTasks
    torch.manual_seed(1)
    net = MLP(1, (12, 12), 1)
    p = params(net, detach=True)
    b = SinusoidTasks().sample(3, 5, 6, generator=1, device='cpu')
    out = fomaml_meta_gradient(net, p, b, 1, 0.05)
    assert isinstance(out, tuple) and len(out) == 2, 'return a tuple (loss, grads)'
    loss, grads = out
    ref_loss, ref = meta_gradient(net, p, b, 1, 0.05, first_order=True)
    assert abs(float(loss) - ref_loss.item()) <= 1e-05 * max(1.0, abs(ref_loss.item())), f'mean query loss {float(loss)} != {ref_loss.item()}'
    for k in ref:
        assert torch.allclose(grads[k], ref[k], rtol=0.0001, atol=1e-05), f'FOMAML gradient of {k!r} differs'

@test_case(points=2, hidden=True)
def test_q1_several_steps_and_not_second_order(fomaml_meta_gradient):
    import torch
    from course_pkg.algorithms.maml import meta_gradient
    from course_pkg.models import MLP, params
    from course_pkg.tasks import SinusoidTasks
    torch.manual_seed(2)
    net = MLP(1, (16, 8), 1)
    p = params(net, detach=True)
    b = SinusoidTasks().sample(5, 4, 7, generator=2, device='cpu')
    loss, grads = fomaml_meta_gradient(net, p, b, 3, 0.1)
    ref_loss, ref = meta_gradient(net, p, b, 3, 0.1, first_order=True)
    _, second = meta_gradient(net, p, b, 3, 0.1)
    assert abs(float(loss) - ref_loss.item()) <= 1e-05 * max(1.0, abs(ref_loss.item()))
    for k in ref:
        hint = ' — it equals the second-order MAML gradient' if torch.allclose(grads[k], second[k], atol=1e-07) else ''
        assert torch.allclose(grads[k], ref[k], rtol=0.0001, atol=1e-05), f'FOMAML gradient of {k!r} differs{hint}'


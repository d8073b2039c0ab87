from otter.test_files import test_case

OK_FORMAT = False

name = "q2"
points = 3

@test_case(points=None, hidden=False)
def test_q2_one_step_matches_reference(maml_meta_gradient):
    import torch
    from course_pkg.algorithms.maml import meta_gradient
    from course_pkg.models import MLP, params
    from course_pkg.tasks import SinusoidTasks
    torch.manual_seed(4)
    net = MLP(1, (12, 12), 1)
    p = {k: v.detach().clone().requires_grad_(True) for k, v in params(net).items()}
    b = SinusoidTasks().sample(3, 5, 6, generator=4, device='cpu')
    out = maml_meta_gradient(net, p, b, 1, 0.05)
    assert isinstance(out, tuple) and len(out) == 2, 'return a tuple (loss, grads)'
    loss, grads = out
    ref_loss, ref = meta_gradient(net, p, b, 1, 0.05)
    assert abs(float(loss) - ref_loss.item()) <= 1e-05 * max(1.0, abs(ref_loss.item())), f'meta-loss {float(loss)} != {ref_loss.item()}'
    for k in ref:
        assert torch.allclose(grads[k], ref[k], rtol=0.0001, atol=1e-05), f'meta-gradient of {k!r} differs'


from otter.test_files import test_case

OK_FORMAT = False

name = "q4"
points = 2

@test_case(points=None, hidden=False)
def test_q4_joint_gradient(joint_gradient):
    import torch
    from course_pkg.algorithms.core import loss_at
    from course_pkg.models import MLP, params
    from course_pkg.tasks import SinusoidTasks
    torch.manual_seed(2)
    net = MLP(1, (6,), 1)
    p = params(net, detach=True)
    b = SinusoidTasks().sample(3, 4, 1, generator=2, device='cpu')
    got = joint_gradient(net, p, b)
    leaf = {k: v.clone().requires_grad_(True) for k, v in p.items()}
    total = sum((loss_at(net, leaf, b.x_support[i], b.y_support[i]) for i in range(3))) / 3
    ref = torch.autograd.grad(total, list(leaf.values()))
    for (k, v), r in zip(leaf.items(), ref):
        assert torch.allclose(got[k], r, atol=1e-06), f'joint gradient of {k!r} differs'


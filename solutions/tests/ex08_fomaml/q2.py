from otter.test_files import test_case

OK_FORMAT = False

name = "q2"
points = 3

@test_case(points=None, hidden=False)
def test_q2_matches_autograd(quadratic_meta_gradients):
    import torch

    def _reference_quadratic(theta, Xs, ys, Xq, yq, alpha, k, first_order):
        from course_pkg.algorithms.maml import meta_gradient
        from course_pkg.tasks import TaskBatch
        lin = torch.nn.Linear(len(theta), 1, bias=False, dtype=torch.float64)
        b = TaskBatch(Xs[None], ys[None, :, None], Xq[None], yq[None, :, None])
        half_sse = lambda pred, target: 0.5 * ((pred - target) ** 2).sum()
        _, g = meta_gradient(lin, {'weight': theta[None]}, b, k, alpha, half_sse, first_order=first_order)
        return g['weight'][0]
    g = torch.Generator().manual_seed(3)
    Xs, ys = (torch.randn(6, 3, generator=g, dtype=torch.float64), torch.randn(6, generator=g, dtype=torch.float64))
    Xq, yq = (torch.randn(4, 3, generator=g, dtype=torch.float64), torch.randn(4, generator=g, dtype=torch.float64))
    theta = torch.randn(3, generator=g, dtype=torch.float64)
    out = quadratic_meta_gradients(theta, Xs, ys, Xq, yq, 0.05)
    assert isinstance(out, tuple) and len(out) == 2, 'return the pair (g_maml, g_fo)'
    g_maml, g_fo = out
    assert torch.allclose(torch.as_tensor(g_fo).flatten(), _reference_quadratic(theta, Xs, ys, Xq, yq, 0.05, 1, True)), 'g_fo is wrong'
    assert torch.allclose(torch.as_tensor(g_maml).flatten(), _reference_quadratic(theta, Xs, ys, Xq, yq, 0.05, 1, False)), 'g_maml is wrong'

@test_case(points=1, hidden=True)
def test_q2_other_dimensions(quadratic_meta_gradients):
    import torch

    def _reference_quadratic(theta, Xs, ys, Xq, yq, alpha, k, first_order):
        from course_pkg.algorithms.maml import meta_gradient
        from course_pkg.tasks import TaskBatch
        lin = torch.nn.Linear(len(theta), 1, bias=False, dtype=torch.float64)
        b = TaskBatch(Xs[None], ys[None, :, None], Xq[None], yq[None, :, None])
        half_sse = lambda pred, target: 0.5 * ((pred - target) ** 2).sum()
        _, g = meta_gradient(lin, {'weight': theta[None]}, b, k, alpha, half_sse, first_order=first_order)
        return g['weight'][0]
    g = torch.Generator().manual_seed(4)
    for d, a in ((1, 0.1), (5, 0.01), (5, 0.3)):
        Xs, ys = (torch.randn(7, d, generator=g, dtype=torch.float64), torch.randn(7, generator=g, dtype=torch.float64))
        Xq, yq = (torch.randn(3, d, generator=g, dtype=torch.float64), torch.randn(3, generator=g, dtype=torch.float64))
        theta = torch.randn(d, generator=g, dtype=torch.float64)
        g_maml, g_fo = quadratic_meta_gradients(theta, Xs, ys, Xq, yq, a)
        assert torch.allclose(torch.as_tensor(g_fo).flatten(), _reference_quadratic(theta, Xs, ys, Xq, yq, a, 1, True)), f'd={d}, α={a}: g_fo'
        assert torch.allclose(torch.as_tensor(g_maml).flatten(), _reference_quadratic(theta, Xs, ys, Xq, yq, a, 1, False)), f'd={d}, α={a}: g_maml'


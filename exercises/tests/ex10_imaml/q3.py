from otter.test_files import test_case

OK_FORMAT = False

name = "q3"
points = 4

@test_case(points=None, hidden=False)
def test_q3_exact_gradient_on_quadratic(implicit_meta_gradient):
    import torch
    from course_pkg.algorithms.toy import proximal_solution
    from course_pkg.tasks import QuadraticTasks
    task = QuadraticTasks().sample(1, 8, 8, generator=1, device='cpu')
    Xs, ys = (task.x_support[0].double(), task.y_support[0].double())
    Xq, yq = (task.x_query[0].double(), task.y_query[0].double())

    def ls(w):
        return ((Xs @ w[:, None] - ys) ** 2).mean()

    def lq(w):
        return ((Xq @ w[:, None] - yq) ** 2).mean()
    lam = 1.0
    theta = torch.tensor([0.5, -0.3], dtype=torch.float64, requires_grad=True)
    phi = proximal_solution(theta, Xs, ys, lam)
    exact, = torch.autograd.grad(lq(phi), theta)
    got = implicit_meta_gradient(ls, lq, phi.detach(), lam, 2)
    assert got is not None, 'implicit_meta_gradient returned None'
    assert torch.allclose(got, exact, atol=1e-08), f'expected d L_Q(φ*(θ))/dθ = {exact}, got {got}'


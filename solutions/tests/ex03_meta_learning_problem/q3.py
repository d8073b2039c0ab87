from otter.test_files import test_case

OK_FORMAT = False

name = "q3"
points = 3

@test_case(points=None, hidden=False)
def test_q3_mean_predictor(meta_objective):
    import torch
    x_s = torch.tensor([[[0.0], [1.0]], [[2.0], [3.0]]])
    y_s = torch.tensor([[[1.0], [3.0]], [[0.0], [0.0]]])
    x_q = torch.tensor([[[5.0]], [[6.0]]])
    y_q = torch.tensor([[[4.0]], [[-1.0]]])
    got = meta_objective(lambda xs, ys: ys.mean(), lambda phi, xq: phi.expand(xq.shape[0], 1), x_s, y_s, x_q, y_q)
    assert got is not None, 'meta_objective returned None: replace the ... by your code'
    assert torch.is_tensor(got) and got.dim() == 0, 'return a 0-dimensional tensor'
    assert abs(float(got) - 2.5) < 1e-06, f'expected (4 + 1) / 2 = 2.5, got {float(got)}'

@test_case(points=1, hidden=True)
def test_q3_matches_course_pkg_and_is_differentiable(meta_objective):
    import torch
    from course_pkg.grading import in_kernel
    from course_pkg.algorithms.problem import kernel_regression
    from course_pkg.algorithms.problem import meta_objective as reference
    from course_pkg.tasks import SinusoidTasks

    def value_and_grad(meta_objective, b, log_h0):
        """Runs next to the notebook's code: the objective and its gradient w.r.t. log h."""
        import torch
        from course_pkg.algorithms.problem import kernel_regression
        log_h = torch.tensor(log_h0, requires_grad=True)

        def adapt(xs, ys):
            return (xs, ys)

        def predict(phi, xq):
            return kernel_regression(phi[0], phi[1], xq, log_h.exp())
        got = meta_objective(adapt, predict, *b)
        if not (isinstance(got, torch.Tensor) and got.requires_grad):
            return (got, None)
        return (got, torch.autograd.grad(got, log_h)[0])
    b = SinusoidTasks().sample(6, 5, 8, generator=7, device='cpu')
    log_h = torch.tensor(-0.3, requires_grad=True)

    def adapt(xs, ys):
        return (xs, ys)

    def predict(phi, xq):
        return kernel_regression(phi[0], phi[1], xq, log_h.exp())
    got, g_got = in_kernel(value_and_grad, meta_objective, b, -0.3)
    want = reference(adapt, predict, b)
    assert torch.allclose(torch.as_tensor(got), want, rtol=1e-05, atol=1e-06), f'expected {want.item()}, got {got}'
    g_want, = torch.autograd.grad(want, log_h)
    assert g_got is not None and torch.allclose(g_got, g_want, rtol=0.0001, atol=1e-06), 'the gradient does not flow'

@test_case(points=1, hidden=True)
def test_q3_average_over_tasks_of_mean_errors(meta_objective):
    import torch
    y_q = torch.tensor([1.0, 2.0, 3.0]).reshape(3, 1, 1).expand(3, 4, 1)
    x_q = torch.zeros(3, 4, 1)
    x_s, y_s = (torch.zeros(3, 2, 1), torch.zeros(3, 2, 1))
    got = meta_objective(lambda xs, ys: None, lambda phi, xq: torch.zeros(xq.shape[0], 1), x_s, y_s, x_q, y_q)
    assert abs(float(got) - (1 + 4 + 9) / 3) < 1e-06, f'average of the per-task MSEs is 14/3, got {float(got)} (sum instead of mean?)'


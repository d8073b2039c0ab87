from otter.test_files import test_case

OK_FORMAT = False

name = "q1"
points = 3

@test_case(points=None, hidden=False)
def test_q1_dense_solve(conjugate_gradient):
    import torch
    g = torch.Generator().manual_seed(0)
    M = torch.randn(5, 5, generator=g, dtype=torch.float64)
    A = M @ M.T + 0.5 * torch.eye(5, dtype=torch.float64)
    b = torch.randn(5, generator=g, dtype=torch.float64)
    x = conjugate_gradient(lambda v: A @ v, b, 5)
    assert x is not None, 'conjugate_gradient returned None: replace the ... by your code'
    want = torch.linalg.solve(A, b)
    assert torch.allclose(x, want, atol=1e-08), f'after n = 5 steps expected {want}, got {x}'

@test_case(points=None, hidden=True)
def test_q1_larger_partial_and_zero(conjugate_gradient):
    import torch
    g = torch.Generator().manual_seed(7)
    n = 30
    q, _ = torch.linalg.qr(torch.randn(n, n, generator=g, dtype=torch.float64))
    A = q @ torch.diag(torch.linspace(1.0, 20.0, n, dtype=torch.float64)) @ q.T
    b = torch.randn(n, generator=g, dtype=torch.float64)
    want = torch.linalg.solve(A, b)
    from course_pkg.grading import in_kernel

    def solve_and_count(conjugate_gradient, A, b, steps):
        """Runs next to the notebook's code: the result and how many matvecs it took (the
        count comes back as plain data; a counter in this test would stay empty)."""
        calls = []

        def mv(v):
            calls.append(1)
            return A @ v
        return (conjugate_gradient(mv, b, steps), len(calls))
    x = conjugate_gradient(lambda v: A @ v, b, 60)
    assert torch.allclose(x, want, atol=1e-08), 'CG with enough steps must match the dense solve'
    _, n_matvecs = in_kernel(solve_and_count, conjugate_gradient, A, b, 10)
    assert n_matvecs <= 11, f'use one matvec per iteration: 10 steps took {n_matvecs} matvecs'
    from course_pkg.algorithms.imaml import conjugate_gradient as ref
    x3 = conjugate_gradient(lambda v: A @ v, b, 3)
    assert torch.allclose(x3, ref(lambda v: A @ v, b, cg_steps=3), atol=1e-08), "after 3 steps the iterate differs from CG's"
    z = conjugate_gradient(lambda v: A @ v, torch.zeros(n, dtype=torch.float64), 5)
    assert torch.isfinite(z).all() and torch.all(z == 0), 'b = 0 must give x = 0 (no NaN)'


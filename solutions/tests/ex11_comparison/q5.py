from otter.test_files import test_case

OK_FORMAT = False

name = "q5"
points = 2

@test_case(points=None, hidden=False)
def test_q5_predictions(first_order_predictions):
    import torch
    from course_pkg.algorithms.reptile import taylor_predictions, taylor_terms
    from course_pkg.models import LinearToy
    g = torch.Generator().manual_seed(1)
    Xs, ys = (torch.randn(6, 2, generator=g, dtype=torch.float64), torch.randn(6, generator=g, dtype=torch.float64))
    Xq, yq = (torch.randn(6, 2, generator=g, dtype=torch.float64), torch.randn(6, generator=g, dtype=torch.float64))
    theta = torch.tensor([0.5, -1.0], dtype=torch.float64)
    got = first_order_predictions(theta, Xs, ys, Xq, yq, 0.05)
    assert isinstance(got, dict), 'return a dict with keys fomaml, maml, reptile'
    terms = taylor_terms(LinearToy().double(), {'theta': theta}, Xs, ys[:, None], Xq, yq[:, None])
    ref = taylor_predictions(terms, 0.05, order=1)
    for k in ('fomaml', 'maml', 'reptile'):
        assert torch.allclose(got[k], ref[k], atol=1e-10), f'{k}: expected {ref[k]}, got {got[k]}'

@test_case(points=None, hidden=True)
def test_q5_which_are_exact(exact_on_quadratics):
    import torch
    from course_pkg.algorithms.reptile import taylor_predictions, taylor_terms, two_batch_directions
    from course_pkg.models import LinearToy
    assert isinstance(exact_on_quadratics, (set, frozenset, list, tuple)), 'give a set of names'
    g = torch.Generator().manual_seed(8)
    Xs, ys = (torch.randn(6, 2, generator=g, dtype=torch.float64), torch.randn(6, 1, generator=g, dtype=torch.float64))
    Xq, yq = (torch.randn(6, 2, generator=g, dtype=torch.float64), torch.randn(6, 1, generator=g, dtype=torch.float64))
    model, p = (LinearToy().double(), {'theta': torch.tensor([0.3, 0.9], dtype=torch.float64)})
    terms = taylor_terms(model, p, Xs, ys, Xq, yq)
    exact = two_batch_directions(model, p, Xs, ys, Xq, yq, 0.1)
    pred = taylor_predictions(terms, 0.1, order=1)
    truly = {k for k in pred if torch.allclose(exact[k], pred[k], atol=1e-12)}
    assert set(exact_on_quadratics) == truly, 'not the right set: compare each expansion with the exact direction at α = 0.1'


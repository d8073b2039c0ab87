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


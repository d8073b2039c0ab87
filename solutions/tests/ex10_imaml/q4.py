from otter.test_files import test_case

OK_FORMAT = False

name = "q4"
points = 2

@test_case(points=None, hidden=False)
def test_q4_diagonal(imaml_condition_number):
    import torch
    H = torch.diag(torch.tensor([0.0, 9.0], dtype=torch.float64))
    got = imaml_condition_number(H, 1.0)
    assert got is not None, 'imaml_condition_number returned None'
    assert abs(float(got) - 10.0) < 1e-09, f'κ(I + diag(0, 9)) = 10, got {got}'

@test_case(points=None, hidden=True)
def test_q4_rotated_negative_and_invalid(imaml_condition_number):
    import torch
    g = torch.Generator().manual_seed(0)
    q, _ = torch.linalg.qr(torch.randn(4, 4, generator=g, dtype=torch.float64))
    H = q @ torch.diag(torch.tensor([-0.5, 1.0, 3.0, 19.0], dtype=torch.float64)) @ q.T
    got = float(imaml_condition_number(H, 2.0))
    assert abs(got - (1 + 19 / 2) / (1 - 0.5 / 2)) < 1e-08, f'got {got}'
    assert abs(float(imaml_condition_number(H, 100.0)) - 1.19 / 0.995) < 1e-08
    D = torch.diag(torch.tensor([-0.5, 1.0, 3.0, 19.0], dtype=torch.float64))
    for bad_H, bad_lam, what in ((H, 0.4, 'an eigenvalue below -lam'), (D, 0.5, 'an eigenvalue exactly -lam')):
        try:
            got = imaml_condition_number(bad_H, bad_lam)
        except ValueError:
            continue
        raise AssertionError(f'with {what} (lam = {bad_lam}) the matrix I + H/lam is not positive definite: raise a ValueError (got {got})')


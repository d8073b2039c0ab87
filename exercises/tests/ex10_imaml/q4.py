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


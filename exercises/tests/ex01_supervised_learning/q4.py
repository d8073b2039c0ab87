from otter.test_files import test_case

OK_FORMAT = False

name = "q4"
points = 3

@test_case(points=None, hidden=False)
def test_q4_task1(max_stable_alpha):
    import numpy as np
    got = max_stable_alpha(np.array([2.0, 3.0]))
    assert got is not None, 'max_stable_alpha returned None: replace the ... by your code'
    assert np.isclose(float(got), 1 / 13), f'for S_1 (sum of x^2 = 13) expected 1/13, got {float(got)}'


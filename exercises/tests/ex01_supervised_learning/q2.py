from otter.test_files import test_case

OK_FORMAT = False

name = "q2"
points = 3

@test_case(points=None, hidden=False)
def test_q2_worked_example(sgd_step):
    import numpy as np
    x, y = (np.array([1.0, 2.0, 3.0]), np.array([2.0, 4.0, 1.0]))
    got = sgd_step(1.0, x, y, 0.1)
    assert got is not None, 'sgd_step returned None: replace the ... by your code'
    assert np.isclose(float(got), 0.8), f'w(1) should be 0.8, got {float(got)}'

@test_case(points=None, hidden=False)
def test_q2_zero_step_size(sgd_step):
    import numpy as np
    x, y = (np.array([1.0, 2.0, 3.0]), np.array([2.0, 4.0, 1.0]))
    got = float(sgd_step(0.37, x, y, 0.0))
    assert np.isclose(got, 0.37), f'with alpha = 0 the weight must not move, got {got}'


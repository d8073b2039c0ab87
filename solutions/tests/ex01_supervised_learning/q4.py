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

@test_case(points=1, hidden=True)
def test_q4_boundary_random(max_stable_alpha):
    import numpy as np
    rng = np.random.default_rng(5)
    for n in (1, 3, 8):
        x = rng.normal(size=n)
        a = float(max_stable_alpha(x.copy()))
        s = np.sum(x ** 2)
        assert abs(1 - 2 * a * s) <= 1 + 1e-09, f'alpha={a} is not stable for x={x}'
        assert abs(1 - 2 * 1.001 * a * s) > 1, f'alpha={a} is not the largest stable step size'

@test_case(points=1, hidden=True)
def test_q4_both_tasks(alpha_max_both):
    import numpy as np
    assert alpha_max_both is not None and alpha_max_both is not Ellipsis, 'set alpha_max_both'
    assert np.isclose(float(alpha_max_both), 1 / 61), f'task 2 (sum of x^2 = 61) is the binding one: expected 1/61, got {alpha_max_both}'


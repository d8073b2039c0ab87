from otter.test_files import test_case

OK_FORMAT = False

name = "q3"
points = 5

@test_case(points=None, hidden=False)
def test_q3_adapted_weights(adapt):
    import numpy as np
    phi1 = adapt(1.0, np.array([2.0, 3.0]), np.array([4.0, 1.0]), 0.1, 1)
    phi2 = adapt(1.0, np.array([5.0, 6.0]), np.array([3.0, 0.0]), 0.1, 1)
    assert phi1 is not None and phi2 is not None, 'adapt returned None: replace the ... by your code'
    assert np.isclose(float(phi1), 0.6), f'phi_1 should be 0.6, got {float(phi1)}'
    assert np.isclose(float(phi2), -8.2), f'phi_2 should be -8.2, got {float(phi2)}'

@test_case(points=None, hidden=False)
def test_q3_meta_gradients_worked_example(meta_gradient):
    import numpy as np
    t1 = (np.array([2.0, 3.0]), np.array([4.0, 1.0]), np.array([1.0]), np.array([2.0]))
    t2 = (np.array([5.0, 6.0]), np.array([3.0, 0.0]), np.array([4.0]), np.array([1.0]))
    g1, g2 = (meta_gradient(1.0, *t1, 0.1, 1), meta_gradient(1.0, *t2, 0.1, 1))
    assert g1 is not None and g2 is not None, 'meta_gradient returned None'
    assert np.isclose(float(g1), 4.48), f'task 1 meta-gradient should be 4.48, got {float(g1)}'
    assert np.isclose(float(g2), 3028.48), f'task 2 meta-gradient should be 3028.48, got {float(g2)}'

@test_case(points=None, hidden=False)
def test_q3_meta_update_worked_example(meta_update):
    import numpy as np
    tasks = [(np.array([2.0, 3.0]), np.array([4.0, 1.0]), np.array([1.0]), np.array([2.0])), (np.array([5.0, 6.0]), np.array([3.0, 0.0]), np.array([4.0]), np.array([1.0]))]
    got = meta_update(1.0, tasks, 0.1, 0.5, 1)
    assert got is not None, 'meta_update returned None'
    assert np.isclose(float(got), -1515.48), f'theta(1) should be -1515.48, got {float(got)}'


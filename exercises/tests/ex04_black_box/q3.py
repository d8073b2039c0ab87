from otter.test_files import test_case

OK_FORMAT = False

name = "q3"
points = 3

@test_case(points=None, hidden=False)
def test_q3_sinusoid_network(hypernetwork_cost):
    out = hypernetwork_cost([1, 40, 40, 1], 64)
    assert out is not None and out is not Ellipsis, 'hypernetwork_cost returned nothing'
    assert tuple(out) == (1761, 65 * 1761), f'expected (1761, 114465), got {out}'


from otter.test_files import test_case

OK_FORMAT = False

name = "q3"
points = 3

@test_case(points=None, hidden=False)
def test_q3_sinusoid_network(hypernetwork_cost):
    out = hypernetwork_cost([1, 40, 40, 1], 64)
    assert out is not None and out is not Ellipsis, 'hypernetwork_cost returned nothing'
    assert tuple(out) == (1761, 65 * 1761), f'expected (1761, 114465), got {out}'

@test_case(points=1, hidden=True)
def test_q3_matches_course_pkg(hypernetwork_cost):
    from course_pkg.algorithms.blackbox import hypernetwork_parameter_count
    from course_pkg.models import MLP
    for sizes, width in (([3, 5, 2], 8), ([784, 256, 128, 10], 64), ([1, 1], 1)):
        ref = hypernetwork_parameter_count(MLP(sizes[0], tuple(sizes[1:-1]), sizes[-1]), width)
        got = hypernetwork_cost(sizes, width)
        assert tuple(got) == (ref['target'], ref['output_layer']), f'{sizes}, w={width}: {got}'


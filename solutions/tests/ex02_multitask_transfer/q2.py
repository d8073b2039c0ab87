from otter.test_files import test_case

OK_FORMAT = False

name = "q2"
points = 3

@test_case(points=None, hidden=False)
def test_q2_values(layer_rates):
    import math
    from course_pkg.models import Conv4, params
    p = params(Conv4(out_dim=5, hidden=8))
    r = layer_rates(p, 0.3, 0.5)
    assert r is not None and set(r) == set(p), 'return one rate per parameter name'
    assert math.isclose(r['head.weight'], 0.3) and math.isclose(r['head.bias'], 0.3)
    assert math.isclose(r['features.3.0.weight'], 0.15), f"block 4 should get 0.3 * 0.5, got {r['features.3.0.weight']}"
    assert math.isclose(r['features.0.0.weight'], 0.3 * 0.5 ** 4), 'block 1 should get head_lr * decay ** 4'

@test_case(points=None, hidden=True)
def test_q2_matches_course_pkg(layer_rates):
    import math
    from course_pkg.algorithms.finetune import CONV4_LAYERS, layerwise_lrs
    from course_pkg.models import Conv4, params
    p = params(Conv4(out_dim=5, hidden=8))
    groups = {g: 0.2 * 0.1 ** (4 - i) for i, g in enumerate(CONV4_LAYERS)}
    groups['block1'] = groups['block3'] = 0.0
    want = layerwise_lrs(p, groups)
    got = layer_rates(p, 0.2, 0.1, frozen_blocks=(1, 3))
    for k in p:
        assert math.isclose(float(got[k]), float(want[k]), rel_tol=1e-06, abs_tol=1e-12), f'{k}: expected {float(want[k])}, got {got[k]}'


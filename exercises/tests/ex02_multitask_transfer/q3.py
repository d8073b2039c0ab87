from otter.test_files import test_case

OK_FORMAT = False

name = "q3"
points = 2

@test_case(points=None, hidden=False)
def test_q3_shapes_and_range(new_head):
    import torch
    out = new_head(5, 64, torch.Generator().manual_seed(0))
    assert out is not None and len(out) == 2, 'return (w, b)'
    w, b = out
    assert tuple(w.shape) == (5, 64) and tuple(b.shape) == (5,), f'got shapes {tuple(w.shape)}, {tuple(b.shape)}'
    assert w.abs().max() <= 1 / 8 and b.abs().max() <= 1 / 8, 'values must lie in ±1/sqrt(64)'


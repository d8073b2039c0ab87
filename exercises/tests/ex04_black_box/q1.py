from otter.test_files import test_case

OK_FORMAT = False

name = "q1"
points = 3

@test_case(points=None, hidden=False)
def test_q1_small_example(label_offset_inputs):
    import torch
    z = torch.arange(6.0).view(1, 3, 2)
    u = label_offset_inputs(z, torch.tensor([[2, 0, 1]]), 3)
    assert u is not None and u is not Ellipsis, 'label_offset_inputs returned nothing'
    expected = torch.tensor([[[0, 1, 0, 0, 0], [2, 3, 0, 0, 1], [4, 5, 1, 0, 0]]]).float()
    assert tuple(u.shape) == (1, 3, 5), f'expected shape (1, 3, 5), got {tuple(u.shape)}'
    assert torch.equal(u.float(), expected), f'expected\n{expected}\ngot\n{u}'


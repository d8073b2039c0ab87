from otter.test_files import test_case

OK_FORMAT = False

name = "q2"
points = 4

@test_case(points=None, hidden=False)
def test_q2_small_example(lru_write):
    import torch
    memory = torch.ones(1, 3, 2)
    w_read = torch.tensor([[0.0, 1.0, 0.0]])
    usage = torch.tensor([[0.5, 0.9, 0.1]])
    key = torch.tensor([[2.0, -2.0]])
    out = lru_write(memory, w_read, usage, key, torch.tensor([[0.25]]))
    assert out is not None and out is not Ellipsis, 'lru_write returned nothing'
    new_memory, w_write = out
    assert torch.allclose(w_write, torch.tensor([[0.0, 0.25, 0.75]])), f'w_write = {w_write}'
    expected = torch.tensor([[[1.0, 1.0], [1.5, 0.5], [1.5, -1.5]]])
    assert torch.allclose(new_memory, expected), f'expected\n{expected}\ngot\n{new_memory}'

@test_case(points=2, hidden=True)
def test_q2_matches_the_course_mann_core(lru_write):
    import torch
    from course_pkg.algorithms.blackbox import MANNCore
    torch.manual_seed(1)
    core = MANNCore(input_dim=5, state=6, slots=4, width=3)
    state = core.initial_state(2, torch.zeros(1))
    _, state = core.step(torch.randn(2, 5), state)
    h, c, memory, w_read, usage, read = state
    u = torch.randn(2, 5)
    h_new, _ = core.cell(torch.cat([u, read], -1), (h, c))
    key = torch.tanh(core.key(h_new))
    gate = torch.sigmoid(core.gate(h_new))
    _, (_, _, ref_memory, _, _, _) = core.step(u, state)
    with torch.no_grad():
        got, _ = lru_write(memory, w_read, usage, key, gate)
    assert torch.allclose(got, ref_memory.detach(), atol=1e-06), "differs from MANNCore's write"


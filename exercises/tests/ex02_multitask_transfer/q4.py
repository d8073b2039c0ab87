from otter.test_files import test_case

OK_FORMAT = False

name = "q4"
points = 4

@test_case(points=None, hidden=False)
def test_q4_one_step(finetune):
    import torch
    from course_pkg.models import Conv4, params
    torch.manual_seed(0)
    model = Conv4(out_dim=3, hidden=8)
    p0 = {k: v.detach().clone() for k, v in params(model).items()}
    x, y = (torch.rand(6, 1, 28, 28), torch.tensor([0, 0, 1, 1, 2, 2]))
    rates = {k: 0.0 if k.startswith('features.0.') else 0.1 for k in p0}
    out = finetune(model, p0, rates, x, y, 1)
    assert out is not None and set(out) == set(p0), 'return a dict with the same keys'
    loss = torch.nn.functional.cross_entropy(model(x), y)
    grads = dict(zip([k for k, _ in model.named_parameters()], torch.autograd.grad(loss, list(model.parameters()))))
    for k in p0:
        want = p0[k] - rates[k] * grads[k]
        assert torch.allclose(out[k], want, rtol=0.0001, atol=1e-06), f'{k} differs from φ - α ∇L after one step'


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

@test_case(points=None, hidden=True)
def test_q4_matches_course_pkg_and_no_side_effects(finetune):
    import torch
    from course_pkg.algorithms.finetune import finetune_task, layerwise_lrs
    from course_pkg.grading import in_kernel
    from course_pkg.models import Conv4, params

    def run_and_watch(finetune, model, p0, rates, x, y):
        """Runs next to the notebook's code: the result, and params as they are after the call
        (plain data: whether they changed is decided by the test, never in the notebook)."""
        got = finetune(model, p0, rates, x, y, 3)
        return (got, dict(p0))
    torch.manual_seed(1)
    model = Conv4(out_dim=4, hidden=8)
    p0 = {k: v.detach().clone() for k, v in params(model).items()}
    x, y = (torch.rand(8, 1, 28, 28), torch.arange(4).repeat(2))
    groups = {'block2': 0.01, 'block3': 0.03, 'block4': 0.1, 'head': 0.3}
    rates = {k: float(v) for k, v in layerwise_lrs(p0, groups).items()}
    before = {k: v.clone() for k, v in p0.items()}
    got, after = in_kernel(run_and_watch, finetune, model, p0, rates, x, y)
    changed = [k for k in p0 if not torch.equal(after[k], before[k])]
    want = finetune_task(model, p0, x, y, 3, layerwise_lrs(p0, groups))
    for k in p0:
        assert torch.allclose(got[k], want[k], rtol=0.0001, atol=1e-05), f'{k} differs after 3 steps'
    assert not changed, f'do not modify params in place (changed: {changed})'

@test_case(points=None, hidden=True)
def test_q4_finetuning_the_pretrained_head_learns(finetune):
    import torch
    import course_pkg.data as data
    from course_pkg.algorithms.finetune import new_head as reference_head
    from course_pkg.experiments import load_model
    from course_pkg.models import Conv4
    pre = load_model('pretrained', device='cpu').model
    model = Conv4(out_dim=5, hidden=pre.embedding_dim)
    batch = data.eval_episodes(k_support=1, num_tasks=4, device='cpu')
    accs = []
    for t in range(4):
        w, b = reference_head(5, pre.embedding_dim, 'zero')
        p = {k: v.detach() for k, v in pre.state_dict().items() if not k.startswith('head.')}
        p.update({'head.weight': w, 'head.bias': b})
        rates = {k: 0.1 if k.startswith('head.') else 0.0 for k in p}
        phi = finetune(model, p, rates, batch.x_support[t], batch.y_support[t], 10)
        with torch.no_grad():
            pred = torch.func.functional_call(model, phi, (batch.x_query[t],)).argmax(1)
        accs.append((pred == batch.y_query[t]).float().mean().item())
    assert sum(accs) / 4 > 0.6, f'head-only fine-tuning of the pre-trained Conv4 should beat 60 % (chance 20 %), got {accs}'


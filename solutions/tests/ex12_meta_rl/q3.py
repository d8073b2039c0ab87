from otter.test_files import test_case

OK_FORMAT = False

name = "q3"
points = 4

@test_case(points=None, hidden=False)
def test_q3_matches_reference(adapted_returns):
    import torch
    from course_pkg.models import params as module_params
    from course_pkg.experiments.rl import load_model
    from course_pkg.rl import adapted_rollout
    loaded = load_model('maml-nav', scale='cpu', train_if_missing=False)
    model, meta = (loaded.model, loaded.meta)
    theta = module_params(model, detach=True)
    goal = torch.tensor([0.4, -0.3])
    got = adapted_returns(model, theta, goal, 10, meta['config']['inner_lr'], 0)
    assert got is not None and len(got) == 2, 'return a pair (before, after)'
    before, after = adapted_rollout(model, theta, goal, 10, meta['config']['inner_lr'], 0)
    exp = (before.returns.mean().item(), after.returns.mean().item())
    assert abs(float(got[0]) - exp[0]) < 0.001, f'return before should be {exp[0]:.3f}, got {got[0]}'
    assert abs(float(got[1]) - exp[1]) < 0.001, f'return after should be {exp[1]:.3f}, got {got[1]}'

@test_case(points=2, hidden=True)
def test_q3_adaptation_helps_on_average(adapted_returns):
    import torch
    from course_pkg.models import params as module_params
    from course_pkg.experiments.rl import load_model
    from course_pkg.rl import adapted_rollout, sample_goals
    loaded = load_model('maml-nav', scale='cpu', train_if_missing=False)
    model, meta = (loaded.model, loaded.meta)
    theta = module_params(model, detach=True)
    gains = []
    for i, goal in enumerate(sample_goals(6, 123)):
        pre, post = adapted_returns(model, theta, goal, 10, meta['config']['inner_lr'], 10 + i)
        b, a = adapted_rollout(model, theta, goal, 10, meta['config']['inner_lr'], 10 + i)
        assert abs(float(post) - a.returns.mean().item()) < 0.001, f'goal {goal.tolist()} differs'
        gains.append(float(post) - float(pre))
    assert sum(gains) / len(gains) > 5, f'adaptation should help on average, gains {gains}'


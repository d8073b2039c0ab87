from otter.test_files import test_case

OK_FORMAT = False

name = "q2"
points = 4

@test_case(points=None, hidden=False)
def test_q2_matches_reference_step(inner_step):
    import torch
    from course_pkg.rl import gaussian_log_prob, reinforce_loss
    from course_pkg.models import params as module_params
    from course_pkg.rl import advantages, sample_goals, sample_trajectories
    from course_pkg.rl.maml import make_policy
    model = make_policy({'seed': 0, 'hidden': [16, 16], 'init_std': 1.0})
    theta = {k: v.detach().clone().requires_grad_(True) for k, v in module_params(model).items()}
    traj = sample_trajectories(model, theta, sample_goals(1, 3), 6, generator=4, horizon=30)
    adv = advantages(traj, normalize=True)
    obs, act, adv = (traj.obs[0], traj.actions[0], adv[0])
    got = inner_step(model, theta, obs, act, adv, 0.1)
    assert isinstance(got, dict), 'inner_step must return a dict of tensors'
    loss = reinforce_loss(gaussian_log_prob(model, theta, obs, act), adv)
    grads = torch.autograd.grad(loss, list(theta.values()))
    for (k, p), g in zip(theta.items(), grads):
        assert k in got, f'missing parameter {k!r} in the result'
        assert torch.allclose(got[k], p - 0.1 * g, atol=1e-06), f'parameter {k!r} is wrong'

@test_case(points=2, hidden=True)
def test_q2_is_differentiable_second_order(inner_step):
    import torch
    from course_pkg.grading import in_kernel
    from course_pkg.models import params as module_params
    from course_pkg.rl import advantages, gaussian_log_prob, sample_goals, sample_trajectories
    from course_pkg.rl.maml import make_policy

    def meta_grad_through(inner_step, model, theta, obs, act, adv):
        """Runs next to the notebook's code: differentiates an outer loss through inner_step."""
        import torch
        from course_pkg.rl import gaussian_log_prob
        phi = inner_step(model, theta, obs, act, adv, 0.5)
        outer = gaussian_log_prob(model, phi, obs[:, :10], act[:, :10]).mean()
        if not outer.requires_grad:
            return None
        return torch.autograd.grad(outer, list(theta.values()), allow_unused=True)
    model = make_policy({'seed': 0, 'hidden': [16, 16], 'init_std': 1.0})
    theta = {k: v.detach().clone().requires_grad_(True) for k, v in module_params(model).items()}
    traj = sample_trajectories(model, theta, sample_goals(1, 3), 6, generator=4, horizon=30)
    adv = advantages(traj, normalize=True)
    obs, act, adv = (traj.obs[0], traj.actions[0], adv[0])
    got = in_kernel(meta_grad_through, inner_step, model, theta, obs, act, adv)
    assert got is not None and all((g is not None for g in got)), 'phi must depend differentiably on theta (create_graph=True)'
    th2 = {k: v.detach().clone().requires_grad_(True) for k, v in theta.items()}
    loss = -(gaussian_log_prob(model, th2, obs, act) * adv).mean()
    g = torch.autograd.grad(loss, list(th2.values()), create_graph=True)
    phi2 = {k: p - 0.5 * gi for (k, p), gi in zip(th2.items(), g)}
    outer2 = gaussian_log_prob(model, phi2, obs[:, :10], act[:, :10]).mean()
    ref = torch.autograd.grad(outer2, list(th2.values()))
    for a, b in zip(got, ref):
        assert torch.allclose(a, b, atol=1e-05), 'the meta-gradient through your step is wrong'

@test_case(points=1, hidden=True)
def test_q2_zero_step_and_sign(inner_step):
    import torch
    from course_pkg.rl import gaussian_log_prob
    from course_pkg.models import params as module_params
    from course_pkg.rl import advantages, sample_goals, sample_trajectories
    from course_pkg.rl.maml import make_policy
    model = make_policy({'seed': 0, 'hidden': [16, 16], 'init_std': 1.0})
    theta = {k: v.detach().clone().requires_grad_(True) for k, v in module_params(model).items()}
    traj = sample_trajectories(model, theta, sample_goals(1, 3), 6, generator=4, horizon=30)
    adv = advantages(traj, normalize=True)
    obs, act, adv = (traj.obs[0], traj.actions[0], adv[0])
    same = inner_step(model, theta, obs, act, adv, 0.0)
    for k, p in theta.items():
        assert torch.allclose(same[k], p), 'with alpha = 0 the parameters must not move'
    phi = inner_step(model, theta, obs, act, adv, 0.001)
    with torch.no_grad():
        before = (gaussian_log_prob(model, theta, obs, act) * adv).mean()
        after = (gaussian_log_prob(model, phi, obs, act) * adv).mean()
    assert after > before, 'a small step must increase the surrogate mean(log pi * A)'


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


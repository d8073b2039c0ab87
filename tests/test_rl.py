"""Tests of course_pkg.rl: environments, returns, policy-gradient estimators, MAML-PG and RL²."""

from __future__ import annotations

import itertools
import math
import warnings

import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import check_env

from course_pkg.experiments.rl import config_for, load_model
from course_pkg.models import params as module_params
from course_pkg.rl import (
    BernoulliBandits,
    PointNavEnv,
    VecPointNav,
    adapt_step,
    adaptation_returns,
    advantages,
    discounted_returns,
    fit_linear_baseline,
    gae,
    gaussian_log_prob,
    meta_pg_surrogate,
    play_oracle,
    play_random,
    play_rl2,
    play_thompson,
    play_ucb1,
    reinforce_loss,
    sample_goals,
    sample_trajectories,
    train_maml_nav,
)
from course_pkg.rl.maml import make_policy
from course_pkg.rl.toy import exact_meta_objective, meta_gradient_estimates

# ------------------------------------------------------------------------------ environments


@pytest.mark.parametrize("goal", [None, np.array([0.3, -0.2], dtype=np.float32)])
def test_gymnasium_env_checker_passes(goal):
    env = PointNavEnv(goal=goal)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the checker reports problems as warnings: fail on them
        check_env(env, skip_render_check=True)


def test_gym_env_basic_dynamics_and_truncation():
    env = PointNavEnv(goal=np.array([0.5, 0.0]), horizon=3)
    obs, info = env.reset(seed=0)
    assert np.allclose(obs, 0) and np.allclose(info["goal"], [0.5, 0.0])
    obs, r, term, trunc, _ = env.step(np.array([1.0, -0.05]))  # clipped to (0.1, -0.05)
    assert np.allclose(obs, [0.1, -0.05])
    assert math.isclose(r, -math.hypot(0.4, 0.05), rel_tol=1e-6)
    assert not term and not trunc
    env.step(np.zeros(2))
    *_, trunc, _ = env.step(np.zeros(2))
    assert trunc


def test_unfixed_goal_is_resampled_reproducibly():
    env = PointNavEnv()
    _, a = env.reset(seed=3)
    _, b = env.reset(seed=3)
    _, c = env.reset()
    assert np.allclose(a["goal"], b["goal"]) and not np.allclose(a["goal"], c["goal"])
    assert np.all(np.abs(a["goal"]) <= 0.5)


def test_vectorised_env_equals_gymnasium_env_step_for_step():
    goals = sample_goals(3, generator=11)
    n, horizon = 4, 100
    rng = np.random.default_rng(0)
    actions = rng.normal(0.0, 0.15, size=(horizon, 3, n, 2)).astype(np.float32)  # many clipped
    vec = VecPointNav(goals, n, horizon)
    vobs = [vec.reset()]
    vrew, vtrunc = [], []
    for t in range(horizon):
        o, r, tr = vec.step(torch.from_numpy(actions[t]))
        vobs.append(o)
        vrew.append(r)
        vtrunc.append(tr)
    for i in range(3):
        env = PointNavEnv(goal=goals[i])
        for j in range(n):
            o, _ = env.reset(seed=j)
            assert np.allclose(o, vobs[0][i, j].numpy())
            for t in range(horizon):
                o, r, term, trunc, _ = env.step(actions[t, i, j])
                assert np.allclose(o, vobs[t + 1][i, j].numpy(), atol=1e-6), (i, j, t)
                assert math.isclose(r, vrew[t][i, j].item(), abs_tol=1e-6), (i, j, t)
                assert trunc == vtrunc[t] and not term


def test_vectorised_env_rejects_bad_input():
    vec = VecPointNav(sample_goals(2, 0), 3)
    vec.reset()
    with pytest.raises(ValueError, match="actions must have shape"):
        vec.step(torch.zeros(3, 2, 2))
    with pytest.raises(ValueError, match="goals must have shape"):
        VecPointNav(torch.zeros(2, 3), 3)


def test_bernoulli_bandit_rewards_follow_probabilities():
    bandits = BernoulliBandits(n_arms=3, horizon=2000)
    probs, u = bandits.sample(4, generator=1)
    arms = torch.full((4,), 2)
    rates = torch.stack([BernoulliBandits.pull(probs, u[:, t], arms) for t in range(2000)]).mean(0)
    assert torch.allclose(rates, probs[:, 2], atol=0.04)


# --------------------------------------------------------------------- returns and baselines


def test_discounted_returns_and_gae_match_loops():
    g = torch.Generator().manual_seed(0)
    r = torch.randn(2, 3, 7, generator=g, dtype=torch.float64)
    v = torch.randn(2, 3, 7, generator=g, dtype=torch.float64)
    gamma, lam = 0.9, 0.8
    ret = torch.zeros_like(r)
    adv = torch.zeros_like(r)
    running, running_adv = torch.zeros(2, 3, dtype=r.dtype), torch.zeros(2, 3, dtype=r.dtype)
    for t in reversed(range(7)):
        running = r[..., t] + gamma * running
        ret[..., t] = running
        nxt = v[..., t + 1] if t + 1 < 7 else torch.zeros(2, 3, dtype=r.dtype)
        running_adv = r[..., t] + gamma * nxt - v[..., t] + gamma * lam * running_adv
        adv[..., t] = running_adv
    assert torch.allclose(discounted_returns(r, gamma), ret)
    assert torch.allclose(gae(r, v, gamma, lam), adv)
    assert torch.allclose(gae(r, v, gamma, 1.0), ret - v)  # λ = 1: returns minus baseline


def test_linear_baseline_fits_a_linear_target_exactly():
    g = torch.Generator().manual_seed(0)
    obs = torch.randn(2, 5, 10, 2, generator=g, dtype=torch.float64)
    t = torch.arange(10, dtype=torch.float64) / 10
    target = 3 * obs[..., 0] - obs[..., 1] ** 2 + 2 * t**2 + 1.0
    fitted = fit_linear_baseline(obs, target, reg=1e-10)
    assert torch.allclose(fitted, target, atol=1e-6)


# --------------------------------------------------------------- policy-gradient estimators


def test_policy_gradient_estimator_is_unbiased_on_a_bandit():
    """REINFORCE (``reinforce_loss``) vs the exact gradient of Σ_a softmax(θ)_a p_a."""
    p = torch.tensor([0.1, 0.5, 0.9], dtype=torch.float64)
    theta = torch.tensor([0.5, 0.0, -0.5], dtype=torch.float64, requires_grad=True)
    exact = torch.autograd.grad((theta.softmax(-1) * p).sum(), theta)[0]
    g = torch.Generator().manual_seed(0)
    n = 20000
    arms = torch.multinomial(theta.detach().softmax(-1), n, replacement=True, generator=g)
    rewards = (torch.rand(n, generator=g, dtype=torch.float64) < p[arms]).double()

    # one copy of θ per sample, so one backward pass gives every per-sample estimate;
    # the constant baseline 0.5 keeps the estimator unbiased
    copies = theta.detach().expand(n, 3).clone().requires_grad_(True)
    logp = copies.log_softmax(-1).gather(1, arms[:, None]).squeeze(1)
    loss = reinforce_loss(logp, rewards - 0.5)  # −mean_n log π(a_n) (r_n − b)
    per_sample = -n * torch.autograd.grad(loss, copies)[0]
    mean, se = per_sample.mean(0), per_sample.std(0) / math.sqrt(n)
    assert torch.all((mean - exact).abs() < 4 * se), (mean, exact, se)
    assert torch.all(4 * se < 0.5 * exact.abs()), "the test would not detect a wrong sign"


def test_meta_gradient_with_likelihood_ratio_term_is_unbiased():
    """The chapter's meta-gradient: exact ∇_θ E_τ[V(θ + α ĝ(θ, τ))] by enumeration vs the
    estimator of ``meta_pg_surrogate``; dropping the likelihood-ratio term must show a bias."""
    r = torch.tensor([1.0, 0.0, 0.5], dtype=torch.float64)
    theta = torch.tensor([-0.5, 0.4, 0.0], dtype=torch.float64, requires_grad=True)
    alpha, k_in = 2.0, 2
    pi = theta.softmax(-1)
    exact_j = 0.0
    for arms in itertools.product(range(3), repeat=k_in):  # written out independently of toy.py
        prob = torch.prod(torch.stack([pi[a] for a in arms]))
        ghat = sum((torch.eye(3, dtype=r.dtype)[a] - pi) * r[a] for a in arms) / k_in
        exact_j = exact_j + prob * (theta + alpha * ghat).softmax(-1) @ r
    exact = torch.autograd.grad(exact_j, theta)[0]
    assert torch.allclose(exact_meta_objective(theta, r, alpha, k_in), exact_j)

    kw = dict(inner_lr=alpha, k_traj=k_in, m=4, num_tasks=30000, seed=0)
    est = meta_gradient_estimates(theta, r, lr_term=True, **kw)
    mean, se = est.mean(0), est.std(0) / math.sqrt(est.shape[0])
    assert torch.all((mean - exact).abs() < 4 * se), (mean, exact, se)

    biased = meta_gradient_estimates(theta, r, lr_term=False, **kw)
    bmean, bse = biased.mean(0), biased.std(0) / math.sqrt(biased.shape[0])
    assert torch.any((bmean - exact).abs() > 4 * torch.maximum(bse, se)), (bmean, exact)


def test_inner_step_is_differentiated_second_order():
    """d/dθ of the outer surrogate at φ(θ) equals a finite difference (float64 policy), and the
    first-order variant differs from it."""
    cfg = {"seed": 0, "hidden": [8], "init_std": 0.5}
    model = make_policy(cfg).double()
    theta = {k: v.detach().clone().requires_grad_(True) for k, v in module_params(model).items()}
    goals = sample_goals(2, 5).double()
    inner = sample_trajectories(model, theta, goals, 4, generator=1, horizon=10)
    outer = sample_trajectories(model, theta, goals, 4, generator=2, horizon=10)
    for tr in (inner, outer):
        tr.obs, tr.actions, tr.rewards = tr.obs.double(), tr.actions.double(), tr.rewards.double()
    outer_adv = advantages(outer)

    def f(th, first_order=False):
        phi = adapt_step(model, th, inner, inner_lr=0.5, first_order=first_order)
        logp = torch.func.vmap(lambda p, o, a: gaussian_log_prob(model, p, o, a))(
            phi, outer.obs, outer.actions
        )
        return meta_pg_surrogate(logp, outer_adv)

    grads = torch.autograd.grad(f(theta), list(theta.values()))
    fo = torch.autograd.grad(f(theta, True), list(theta.values()))
    g = torch.Generator().manual_seed(3)
    direction = {k: torch.randn(v.shape, generator=g, dtype=v.dtype) for k, v in theta.items()}
    eps = 1e-5
    with torch.no_grad():
        plus = f({k: v + eps * direction[k] for k, v in theta.items()})
        minus = f({k: v - eps * direction[k] for k, v in theta.items()})
    numeric = (plus - minus) / (2 * eps)
    analytic = sum((gr * direction[k]).sum() for gr, k in zip(grads, theta))
    first = sum((gr * direction[k]).sum() for gr, k in zip(fo, theta))
    assert math.isclose(analytic.item(), numeric.item(), rel_tol=1e-5, abs_tol=1e-8)
    assert abs(first.item() - numeric.item()) > 1e-3 * abs(numeric.item())


# ------------------------------------------------------------------------------- MAML-PG


def test_rollouts_are_seeded_and_per_task_params_are_checked():
    model = make_policy(config_for("maml-nav"))
    theta = module_params(model, detach=True)
    goals = sample_goals(3, 0)
    a = sample_trajectories(model, theta, goals, 2, generator=5, horizon=20)
    b = sample_trajectories(model, theta, goals, 2, generator=5, horizon=20)
    assert torch.equal(a.rewards, b.rewards) and a.obs.shape == (3, 2, 20, 2)
    phi = adapt_step(model, theta, a, inner_lr=0.1, first_order=True)
    assert phi["log_std"].shape == (3, 2)
    with pytest.raises(ValueError, match="per-task parameters"):
        sample_trajectories(model, phi, sample_goals(4, 0), 2, generator=5, horizon=20)


def test_committed_maml_checkpoint_adapts_on_held_out_goals():
    loaded = load_model("maml-nav", scale="cpu", train_if_missing=False)
    model, meta = loaded.model, loaded.meta
    goals = sample_goals(40, 777)
    returns, _ = adaptation_returns(
        model, module_params(model, detach=True), goals, 20, 1, meta["config"]["inner_lr"], 9
    )
    gain = returns[1] - returns[0]  # paired over goals
    lower = gain.mean() - 3 * gain.std() / math.sqrt(len(gain))
    assert lower > 0, f"adaptation gain {gain.mean():.2f} ± {gain.std() / 40**0.5:.2f}"
    assert returns[1].mean() > -30


def test_tiny_maml_from_scratch_improves_post_adaptation_return():
    cfg = config_for("maml-nav", iterations=25, meta_batch_size=10, k_traj=10, outer_traj=10,
                     hidden=[16, 16], meta_lr=0.01)
    state, metrics = train_maml_nav(cfg, device="cpu", progress=False)
    assert len(metrics["post"]) == 25
    model = make_policy(cfg)
    goals = sample_goals(30, 321)
    before, _ = adaptation_returns(model, module_params(model, detach=True), goals, 10, 1, 0.1, 4)
    model.load_state_dict(state)
    after, _ = adaptation_returns(model, module_params(model, detach=True), goals, 10, 1, 0.1, 4)
    gain = after[1] - before[1]  # post-adaptation return: meta-trained vs untrained init
    assert gain.mean() - 3 * gain.std() / math.sqrt(30) > 0, gain.mean()


# ---------------------------------------------------------------------------- bandits, RL²


def test_bandit_baselines_order_and_rl2_checkpoint_beats_ucb1():
    probs, u = BernoulliBandits(5, 100).sample(500, generator=99)
    totals = {
        "random": play_random(probs, u, 1)["rewards"].sum(1),
        "ucb1": play_ucb1(probs, u)["rewards"].sum(1),
        "ts": play_thompson(probs, u, 2)["rewards"].sum(1),
        "oracle": play_oracle(probs, u)["rewards"].sum(1),
    }
    policy = load_model("rl2-bandit", scale="cpu", train_if_missing=False).model
    totals["rl2"] = play_rl2(policy, probs, u, 3)["rewards"].sum(1)

    def better(a, b):  # paired comparison on the same tasks, 3 standard errors
        d = totals[a] - totals[b]
        return d.mean() - 3 * d.std() / math.sqrt(len(d)) > 0

    assert better("ucb1", "random") and better("ts", "ucb1") and better("oracle", "ts")
    assert better("rl2", "ucb1") and better("rl2", "random")


def test_ucb1_pulls_each_arm_first():
    probs, u = BernoulliBandits(4, 10).sample(3, generator=0)
    arms = play_ucb1(probs, u)["arms"]
    assert torch.equal(arms[:, :4], torch.arange(4).expand(3, 4))

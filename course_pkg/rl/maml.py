"""MAML with policy gradients (Finn et al., 2017, Algorithm 3) on 2-D point navigation.

One meta-iteration, for a batch of ``T`` tasks (goals):

1. sample ``K`` trajectories per task with ``π_θ`` (:func:`sample_trajectories`);
2. inner step ``φ_i = θ − α ∇_θ L_i(θ)``, ``L_i`` the REINFORCE loss with a linear baseline and
   normalised advantages (:func:`adapt_step`; gradients from ``torch.func.grad`` under ``vmap``
   over tasks, kept differentiable unless ``first_order``);
3. sample fresh trajectories with each ``π_{φ_i}`` and ascend the meta-surrogate
   (:func:`meta_pg_surrogate`) whose gradient estimates ``∇_θ Σ_i E[V_i(φ_i)]``.

The meta-objective is ``J(θ) = E_i E_{τ ~ π_θ}[V_i(φ_i(θ, τ))]``. Its gradient has two parts:
the path through the update, ``(∂φ/∂θ)ᵀ ∇_φ V`` (autograd through the inner step, fed with an
outer policy-gradient surrogate), and a likelihood-ratio part ``E[V_i(φ_i) ∇_θ log π_θ(τ)]``
because the inner trajectories themselves are sampled from ``π_θ``. Dropping the latter (as the
original implementation does) gives a biased meta-gradient; :func:`meta_pg_surrogate` includes
it when ``inner_logp`` is given (``exploration_term`` in the configs).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.func import grad, vmap

from course_pkg.models import params as module_params
from course_pkg.rl.envs import HORIZON, MAX_ACTION, VecPointNav, sample_goals
from course_pkg.rl.policies import GaussianMLPPolicy, gaussian_log_prob, policy_mean_std
from course_pkg.rl.returns import discounted_returns, fit_linear_baseline, gae
from course_pkg.utils import as_generator, check_finite, get_device, seed_everything, seeded
from course_pkg.utils import progress as progress_bar

Params = dict[str, torch.Tensor]


@dataclass
class Trajectories:
    """``N`` trajectories in each of ``T`` tasks.

    ``obs (T, N, H, d)`` holds the state *before* each action, ``actions (T, N, H, a)`` the
    unclipped sampled actions, ``rewards (T, N, H)``, ``last_obs (T, N, d)`` the final state and
    ``goals (T, 2)`` the tasks.
    """

    obs: torch.Tensor
    actions: torch.Tensor
    rewards: torch.Tensor
    last_obs: torch.Tensor
    goals: torch.Tensor

    @property
    def returns(self) -> torch.Tensor:
        """Undiscounted return of each trajectory, ``(T, N)``."""
        return self.rewards.sum(-1)

    @property
    def positions(self) -> torch.Tensor:
        """The whole path including the final position, ``(T, N, H + 1, d)``."""
        return torch.cat([self.obs, self.last_obs[:, :, None]], dim=2)


def _is_batched(model: nn.Module, params: Mapping[str, torch.Tensor]) -> bool:
    """True when ``params`` carry a leading task dimension (one parameter set per task)."""
    ref = dict(model.named_parameters())
    name = next(iter(params))
    return params[name].dim() == ref[name].dim() + 1


@torch.no_grad()
def sample_trajectories(
    model: nn.Module,
    params: Mapping[str, torch.Tensor],
    goals: torch.Tensor,
    n_traj: int,
    generator: torch.Generator | int | None = None,
    horizon: int = HORIZON,
    max_action: float = MAX_ACTION,
) -> Trajectories:
    """Roll out ``π`` in ``T = len(goals)`` navigation tasks, ``n_traj`` trajectories each.

    ``params`` is one parameter dict shared by all tasks, or per-task parameters with a leading
    ``T`` dimension (e.g. adapted ``φ_i``; the policy is then ``vmap``-ed over tasks). The Gaussian
    noise is drawn on the CPU from ``generator`` (an int is a seed), so a seed fixes the rollout
    on any device.
    """
    g = as_generator(generator)
    t_count = goals.shape[0]
    batched = _is_batched(model, params)
    if batched and next(iter(params.values())).shape[0] != t_count:
        raise ValueError(
            f"per-task parameters have {next(iter(params.values())).shape[0]} sets but there are "
            f"{t_count} goals"
        )
    device = next(iter(params.values())).device
    goals = goals.to(device)
    p = {k: v.detach() for k, v in params.items()}
    act_dim = getattr(model, "act_dim", 2)
    noise = torch.randn(horizon, t_count, n_traj, act_dim, generator=g)
    noise = noise.to(device=device, dtype=goals.dtype)
    env = VecPointNav(goals, n_traj, horizon, max_action)
    ob = env.reset()

    def dist(o: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if batched:
            return vmap(lambda pi, oi: policy_mean_std(model, pi, oi))(p, o)
        return policy_mean_std(model, p, o)

    obs, acts, rews = [], [], []
    for t in range(horizon):
        mean, std = dist(ob)
        a = mean + std * noise[t]
        obs.append(ob)
        acts.append(a)
        ob, r, _ = env.step(a)
        rews.append(r)
    return Trajectories(
        obs=torch.stack(obs, 2),
        actions=torch.stack(acts, 2),
        rewards=torch.stack(rews, 2),
        last_obs=ob,
        goals=goals,
    )


def advantages(
    traj: Trajectories, gamma: float = 0.99, gae_lambda: float = 1.0, normalize: bool = False
) -> torch.Tensor:
    """GAE advantages ``(T, N, H)`` against a linear baseline fitted per task on ``traj``.

    With ``normalize`` each task's advantages are shifted and scaled to mean 0, std 1.
    Computed from data only (no gradient flows into them).
    """
    with torch.no_grad():
        returns = discounted_returns(traj.rewards, gamma)
        values = fit_linear_baseline(traj.obs, returns)
        adv = gae(traj.rewards, values, gamma, gae_lambda)
        if normalize:
            mean = adv.mean(dim=(1, 2), keepdim=True)
            std = adv.std(dim=(1, 2), keepdim=True)
            adv = (adv - mean) / (std + 1e-8)
    return adv


def reinforce_loss(logp: torch.Tensor, adv: torch.Tensor) -> torch.Tensor:
    """REINFORCE surrogate ``−mean(log π(a|s) · A)`` over all given steps; ``adv`` is a constant.

    Its gradient is minus the (baseline-corrected) policy-gradient estimate, averaged per step.
    """
    if logp.shape != adv.shape:
        raise ValueError(f"logp {tuple(logp.shape)} and advantages {tuple(adv.shape)} differ")
    return -(logp * adv.detach()).mean()


def adapt_step(
    model: nn.Module,
    params: Mapping[str, torch.Tensor],
    traj: Trajectories,
    inner_lr: float,
    first_order: bool = False,
    gamma: float = 0.99,
    gae_lambda: float = 1.0,
) -> Params:
    """One policy-gradient step per task: ``φ_i = θ − inner_lr ∇ L_i`` → per-task params ``(T,
    ...)``.

    ``L_i`` is :func:`reinforce_loss` on task ``i``'s trajectories with normalised GAE
    advantages. ``params`` may be shared (``θ``) or per-task (a previous step's ``φ``). The result
    stays differentiable with respect to ``params`` (second order) unless ``first_order``.
    """
    adv = advantages(traj, gamma, gae_lambda, normalize=True)

    def task_loss(p: Params, obs: torch.Tensor, act: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        return reinforce_loss(gaussian_log_prob(model, p, obs, act), a)

    batched = _is_batched(model, params)
    grads = vmap(grad(task_loss), in_dims=(0 if batched else None, 0, 0, 0))(
        dict(params), traj.obs, traj.actions, adv
    )
    if first_order:
        grads = {k: v.detach() for k, v in grads.items()}
    return {k: p - inner_lr * grads[k] for k, p in params.items()}


def meta_pg_surrogate(
    outer_logp: torch.Tensor,
    outer_adv: torch.Tensor,
    inner_logp: torch.Tensor | None = None,
    outer_value: torch.Tensor | None = None,
) -> torch.Tensor:
    """Scalar whose gradient estimates ``∇_θ (1/T) Σ_i E[V_i(φ_i(θ, τ_i))]`` (to be *maximised*).

    - ``outer_logp (T, N', H)``: ``log π_{φ_i}(a'|s')`` of the outer trajectories, a function of
      ``θ`` through ``φ_i``; ``outer_adv (T, N', H)`` their advantages (constants). The term
      ``mean_n Σ_t log π_φ · A`` has gradient ``(∂φ/∂θ)ᵀ ∇_φ V`` in expectation.
    - ``inner_logp (T, N, H)``: ``log π_θ(a|s)`` of the inner trajectories and ``outer_value (T,)``
      an unbiased estimate of ``V_i(φ_i)`` (mean outer return). Adds the likelihood-ratio term
      ``(V̂_i − b_i) Σ_{n,t} log π_θ`` for sampling the inner data from ``π_θ`` (E-MAML / DiCE's
      first-order term), with the leave-one-task-out mean ``b_i`` as baseline (independent of
      task ``i``'s samples, so the estimate stays unbiased; needs ``T ≥ 2``).
    """
    if outer_logp.shape != outer_adv.shape or outer_logp.dim() != 3:
        raise ValueError(
            f"outer_logp {tuple(outer_logp.shape)} and outer_adv {tuple(outer_adv.shape)} must "
            "both be (tasks, trajectories, steps)"
        )
    per_task = (outer_logp * outer_adv.detach()).sum(-1).mean(-1)
    if inner_logp is not None:
        if outer_value is None or outer_value.shape != per_task.shape:
            raise ValueError("the likelihood-ratio term needs outer_value of shape (tasks,)")
        t_count = per_task.shape[0]
        if t_count < 2:
            raise ValueError("the leave-one-out baseline needs at least two tasks")
        v = outer_value.detach()
        baseline = (v.sum() - v) / (t_count - 1)
        per_task = per_task + (v - baseline) * inner_logp.sum(dim=(-1, -2))
    return per_task.mean()


def maml_objective(
    model: nn.Module,
    theta: Mapping[str, torch.Tensor],
    phi: Mapping[str, torch.Tensor],
    inner: Trajectories,
    outer: Trajectories,
    gamma: float = 0.99,
    gae_lambda: float = 1.0,
    exploration_term: bool = True,
) -> torch.Tensor:
    """The meta-surrogate of one batch of tasks (see :func:`meta_pg_surrogate`)."""
    outer_adv = advantages(outer, gamma, gae_lambda)
    outer_logp = vmap(lambda p, o, a: gaussian_log_prob(model, p, o, a))(
        dict(phi), outer.obs, outer.actions
    )
    if not exploration_term:
        return meta_pg_surrogate(outer_logp, outer_adv)
    inner_logp = gaussian_log_prob(model, dict(theta), inner.obs, inner.actions)
    value = discounted_returns(outer.rewards, gamma)[..., 0].mean(-1)
    return meta_pg_surrogate(outer_logp, outer_adv, inner_logp, value)


# ----------------------------------------------------------------------------------- training


def make_policy(config: Mapping[str, Any]) -> GaussianMLPPolicy:
    """The navigation policy described by ``config`` (``hidden``, ``init_std``), seeded."""
    with seeded(int(config["seed"])):
        return GaussianMLPPolicy(2, 2, tuple(config["hidden"]), float(config["init_std"]))


def _progress(iterable, desc: str, enabled: bool):
    return progress_bar(iterable, desc=desc, disable=not enabled)


def train_maml_nav(
    config: Mapping[str, Any], device: str | torch.device | None = None, progress: bool = True
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Meta-train the Gaussian policy with MAML-PG; returns ``(state_dict, metrics)``.

    ``config`` keys: ``seed, iterations, meta_batch_size, k_traj, outer_traj, inner_lr,
    meta_lr, hidden, init_std, gamma, gae_lambda, first_order, exploration_term``. ``metrics``
    holds the per-
    iteration mean returns before (``pre``) and after (``post``) the inner step and the wall time.
    """
    dev = get_device(device)
    gen = seed_everything(int(config["seed"]))
    model = make_policy(config).to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=float(config["meta_lr"]))
    gamma, gae_lambda = float(config["gamma"]), float(config["gae_lambda"])
    pre, post = [], []
    start = time.perf_counter()
    for it in _progress(range(int(config["iterations"])), "MAML-PG meta-training", progress):
        goals = sample_goals(int(config["meta_batch_size"]), gen, device=dev)
        theta = module_params(model)
        inner = sample_trajectories(model, theta, goals, int(config["k_traj"]), gen)
        phi = adapt_step(
            model, theta, inner, float(config["inner_lr"]), bool(config["first_order"]), gamma,
            gae_lambda
        )
        outer = sample_trajectories(model, phi, goals, int(config["outer_traj"]), gen)
        objective = maml_objective(
            model, theta, phi, inner, outer, gamma, gae_lambda, bool(config["exploration_term"])
        )
        check_finite(objective, it, "meta-objective")
        opt.zero_grad()
        (-objective).backward()
        opt.step()
        pre.append(round(inner.returns.mean().item(), 4))
        post.append(round(outer.returns.mean().item(), 4))
    metrics = {"pre": pre, "post": post, "train_seconds": round(time.perf_counter() - start, 1)}
    return {k: v.detach().cpu() for k, v in model.state_dict().items()}, metrics


def train_pretrained_nav(
    config: Mapping[str, Any], device: str | torch.device | None = None, progress: bool = True
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Multi-task baseline: maximise ``E_i V_i(θ)`` with REINFORCE, no adaptation in training.

    Same policy, tasks, optimiser and number of sampled trajectories per iteration
    (``k_traj + outer_traj`` per task) as :func:`train_maml_nav`.
    """
    dev = get_device(device)
    gen = seed_everything(int(config["seed"]))
    model = make_policy(config).to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=float(config["meta_lr"]))
    gamma, gae_lambda = float(config["gamma"]), float(config["gae_lambda"])
    n_traj = int(config["k_traj"]) + int(config["outer_traj"])
    history = []
    start = time.perf_counter()
    for it in _progress(range(int(config["iterations"])), "multi-task pretraining", progress):
        goals = sample_goals(int(config["meta_batch_size"]), gen, device=dev)
        theta = module_params(model)
        traj = sample_trajectories(model, theta, goals, n_traj, gen)
        adv = advantages(traj, gamma, gae_lambda)
        logp = gaussian_log_prob(model, theta, traj.obs, traj.actions)
        objective = (logp * adv).sum(-1).mean()
        check_finite(objective, it, "policy-gradient objective")
        opt.zero_grad()
        (-objective).backward()
        opt.step()
        history.append(round(traj.returns.mean().item(), 4))
    metrics = {"returns": history, "train_seconds": round(time.perf_counter() - start, 1)}
    return {k: v.detach().cpu() for k, v in model.state_dict().items()}, metrics


# --------------------------------------------------------------------------------- evaluation


def adaptation_returns(
    model: nn.Module,
    params: Mapping[str, torch.Tensor],
    goals: torch.Tensor,
    n_traj: int,
    inner_steps: int,
    inner_lr: float,
    generator: torch.Generator | int | None = None,
    gamma: float = 0.99,
    gae_lambda: float = 1.0,
) -> tuple[torch.Tensor, list[Trajectories]]:
    """Test-time adaptation on held-out ``goals``: ``inner_steps`` policy-gradient steps, each on
    ``n_traj`` fresh trajectories of the current policy (first-order; nothing is meta-learned).

    Returns ``(returns (inner_steps + 1, T), trajectories)``: row ``j`` is each task's mean return
    after ``j`` steps, and ``trajectories[j]`` the rollouts it was measured on.
    """
    g = as_generator(generator)
    p: Params = {k: v.detach() for k, v in params.items()}
    rows, trajs = [], []
    for j in range(inner_steps + 1):
        traj = sample_trajectories(model, p, goals, n_traj, g)
        rows.append(traj.returns.mean(-1))
        trajs.append(traj)
        if j < inner_steps:
            p = adapt_step(model, p, traj, inner_lr, first_order=True, gamma=gamma,
                           gae_lambda=gae_lambda)
            p = {k: v.detach() for k, v in p.items()}
    return torch.stack(rows), trajs


def adapted_rollout(
    model: nn.Module,
    params: Mapping[str, torch.Tensor],
    goal: torch.Tensor,
    k_traj: int,
    inner_lr: float,
    generator: torch.Generator | int | None = None,
) -> tuple[Trajectories, Trajectories]:
    """One task: ``K`` trajectories with ``θ``, one inner step, ``K`` fresh ones with ``φ``.

    ``goal (2,)``; returns ``(before, after)`` trajectories, each with ``T = 1``.
    """
    g = as_generator(generator)
    goals = goal.reshape(1, 2)
    before = sample_trajectories(model, params, goals, k_traj, g)
    phi = adapt_step(model, params, before, inner_lr, first_order=True)
    after = sample_trajectories(model, phi, goals, k_traj, g)
    return before, after

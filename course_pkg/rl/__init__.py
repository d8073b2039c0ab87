"""Meta-reinforcement learning: tasks are MDPs drawn from a distribution.

- ``envs``       2-D point navigation (gymnasium env + vectorised torch version), Bernoulli bandits
- ``policies``   Gaussian MLP policy (functional params) and the RL² GRU policy
- ``returns``    discounted returns, GAE, the linear feature baseline
- ``maml``       MAML with policy gradients (second and first order), multi-task pretraining
- ``rl2``        RL² on bandits
- ``bandits``    random, UCB1, Thompson sampling and oracle strategies
- ``evaluation`` held-out evaluation with confidence intervals

The runs (configurations, checkpoints, command line) are in :mod:`course_pkg.experiments.rl`.
"""

from course_pkg.rl.bandits import (
    cumulative_regret,
    play_oracle,
    play_random,
    play_rl2,
    play_thompson,
    play_ucb1,
)
from course_pkg.rl.envs import BernoulliBandits, PointNavEnv, VecPointNav, sample_goals
from course_pkg.rl.evaluation import bandit_comparison, navigation_adaptation
from course_pkg.rl.maml import (
    Trajectories,
    adapt_step,
    adaptation_returns,
    adapted_rollout,
    advantages,
    maml_objective,
    meta_pg_surrogate,
    reinforce_loss,
    sample_trajectories,
    train_maml_nav,
    train_pretrained_nav,
)
from course_pkg.rl.policies import GaussianMLPPolicy, GRUPolicy, gaussian_log_prob
from course_pkg.rl.returns import discounted_returns, fit_linear_baseline, gae
from course_pkg.rl.rl2 import rl2_rollout, train_rl2_bandit

__all__ = [
    "BernoulliBandits",
    "GRUPolicy",
    "GaussianMLPPolicy",
    "PointNavEnv",
    "Trajectories",
    "VecPointNav",
    "adapt_step",
    "adaptation_returns",
    "adapted_rollout",
    "advantages",
    "bandit_comparison",
    "cumulative_regret",
    "discounted_returns",
    "fit_linear_baseline",
    "gae",
    "gaussian_log_prob",
    "maml_objective",
    "meta_pg_surrogate",
    "navigation_adaptation",
    "play_oracle",
    "play_random",
    "play_rl2",
    "play_thompson",
    "play_ucb1",
    "reinforce_loss",
    "rl2_rollout",
    "sample_goals",
    "sample_trajectories",
    "train_maml_nav",
    "train_pretrained_nav",
    "train_rl2_bandit",
]

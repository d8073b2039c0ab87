"""Tests of course_pkg.algorithms.training: the one meta-training loop (meta_train, MetaConfig,
the algorithm registry), its determinism and its errors."""

import pytest
import torch

from course_pkg.algorithms.core import split_meta_params
from course_pkg.algorithms.evaluation import evaluate_adaptation
from course_pkg.algorithms.training import MetaConfig, meta_train, register_algorithm
from course_pkg.models import MLP, params
from course_pkg.tasks import SinusoidTasks


def test_meta_training_lowers_heldout_post_adaptation_loss_and_is_deterministic():
    held_out = SinusoidTasks().sample(100, 10, 20, generator=99, device="cpu")
    cfg = MetaConfig(iterations=120, meta_batch_size=10, k_support=10, k_query=10,
                     meta_lr=3e-3, seed=0, eval_every=60, eval_tasks=20)
    torch.manual_seed(0)
    model = MLP(1, (40, 40), 1)
    p0 = params(model, detach=True)
    copy = {n: v.clone() for n, v in p0.items()}
    before = evaluate_adaptation(model, p0, held_out, 1, 0.01)[:, 1].mean()
    p1, hist = meta_train(model, SinusoidTasks(), cfg, params=p0, progress=False)
    after = evaluate_adaptation(model, p1, held_out, 1, 0.01)[:, 1].mean()
    assert after < 0.8 * before
    assert len(hist["loss"]) == 120 and hist["eval_iteration"] == [0, 60, 120]
    p2, _ = meta_train(model, SinusoidTasks(), cfg, params=p0, progress=False)
    assert all(torch.equal(p1[n], p2[n]) for n in p1)  # same seed, same numbers
    assert all(torch.equal(p0[n], copy[n]) for n in p0)  # the starting point is not modified


def test_metasgd_training_learns_rates_and_custom_meta_grad_fn_plugs_in():
    torch.manual_seed(0)
    model = MLP(1, (8,), 1)
    cfg = MetaConfig(iterations=5, meta_batch_size=4, k_support=5, k_query=5,
                     method="metasgd")
    meta, _ = meta_train(model, SinusoidTasks(), cfg, progress=False)
    p, lrs = split_meta_params(meta)
    assert set(lrs) == set(p) and any((v != 0.01).any() for v in lrs.values())

    seen = []

    def my_grad_fn(meta_params, batch, iteration=0):
        seen.append(iteration)
        return torch.tensor(1.0), {k: torch.zeros_like(v) for k, v in meta_params.items()}

    register_algorithm("zero_test_algo", lambda model, config, loss_fn: my_grad_fn,
                       overwrite=True)
    start = params(model, detach=True)
    out, hist = meta_train(model, SinusoidTasks(), MetaConfig(iterations=3, meta_batch_size=2,
                           method="zero_test_algo", optimizer="sgd", meta_lr=0.1),
                           params=start, progress=False)
    assert seen == [0, 1, 2] and hist["loss"] == [1.0, 1.0, 1.0]
    assert all(torch.equal(out[k], start[k]) for k in start)


def test_nan_loss_stops_training_naming_the_iteration():
    sampler = SinusoidTasks()

    def poisoned(num_tasks, k_support, k_query, generator=None, device=None):
        b = sampler.sample(num_tasks, k_support, k_query, generator=generator, device=device)
        if len(calls) == 3:
            b.y_query[0, 0, 0] = float("nan")
        calls.append(1)
        return b

    calls = []
    with pytest.raises(FloatingPointError, match="step 3"):
        meta_train(MLP(1, (8,), 1), poisoned, MetaConfig(iterations=10, meta_batch_size=2),
                   progress=False)

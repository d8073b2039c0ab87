"""Metric-based learners: the key equations, invariances, errors, devices, and learning."""

from __future__ import annotations

import math

import pytest
import torch

from course_pkg.algorithms import metric as M
from course_pkg.tasks import TaskBatch

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else []) + (
    ["mps"] if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available() else [])


def random_episode(t=2, n=4, k=2, q=3, seed=0, device="cpu") -> TaskBatch:
    """Random 'images' (T, N*K, 1, 28, 28), class-major labels."""
    g = torch.Generator().manual_seed(seed)
    xs = torch.rand(t, n * k, 1, 28, 28, generator=g)
    xq = torch.rand(t, n * q, 1, 28, 28, generator=g)
    ys = torch.arange(n).repeat_interleave(k).expand(t, -1).clone()
    yq = torch.arange(n).repeat_interleave(q).expand(t, -1).clone()
    return TaskBatch(xs, ys, xq, yq).to(device)


# ----------------------------------------------------------------------------- equations
def test_prototypes_and_logits_match_the_definitions():
    g = torch.Generator().manual_seed(1)
    zs, zq = torch.randn(6, 5, generator=g), torch.randn(4, 5, generator=g)
    ys = torch.tensor([2, 0, 1, 0, 2, 1])
    c = M.class_prototypes(zs, ys, 3)
    for n in range(3):
        assert torch.allclose(c[n], zs[ys == n].mean(0), atol=1e-6)
    logits = M.prototypical_logits(zq, zs, ys, 3)
    manual = torch.tensor([[-((zq[i] - c[n]) ** 2).sum() for n in range(3)] for i in range(4)])
    assert torch.allclose(logits, manual, atol=1e-5)
    yq = torch.tensor([0, 1, 2, 1])
    loss = M.prototypical_loss(zq, yq, zs, ys, 3)
    nll = -torch.log_softmax(manual, -1)[torch.arange(4), yq].mean()
    assert torch.allclose(loss, nll, atol=1e-5)


def test_matching_attention_is_a_softmax_of_scaled_cosines():
    g = torch.Generator().manual_seed(2)
    zs, zq = torch.randn(6, 5, generator=g), torch.randn(4, 5, generator=g)
    ys = torch.tensor([0, 1, 2, 0, 1, 2])
    a = M.matching_attention(zq, zs, scale=3.0)
    cos = torch.tensor([[torch.nn.functional.cosine_similarity(zq[i], zs[j], dim=0)
                         for j in range(6)] for i in range(4)])
    assert torch.allclose(a, torch.softmax(3.0 * cos, -1), atol=1e-5)
    assert torch.allclose(a.sum(-1), torch.ones(4), atol=1e-6)
    log_p = M.matching_log_probs(zq, zs, ys, 3, scale=3.0)
    assert torch.allclose(log_p.exp(), a @ M.one_hot(ys, 3), atol=1e-5)
    # a batch dimension gives the same numbers
    batched = M.matching_log_probs(zq[None].repeat(2, 1, 1), zs[None].repeat(2, 1, 1),
                                   ys[None].repeat(2, 1), 3, scale=3.0)
    assert torch.allclose(batched[1], log_p, atol=1e-6)


def test_relation_and_siamese_scores_follow_their_definitions():
    torch.manual_seed(0)
    ep = random_episode(t=1, n=3, k=2, q=2)
    rel = M.make_learner(M.RelationNet, hidden=8)
    zs, zq = rel.embed_episode(ep.x_support, ep.x_query)
    assert zs.shape == (1, 6, 8, 3, 3)
    scores, loss = rel(ep.x_support, ep.y_support, ep.x_query, 3, ep.y_query)
    c = torch.stack([zs[0, ep.y_support[0] == n].mean(0) for n in range(3)])  # class means
    # all (query, class) pairs of the task go through the relation block together (BatchNorm)
    pairs = torch.cat([zq[0][:, None].expand(-1, 3, -1, -1, -1),
                       c[None].expand(zq.shape[1], -1, -1, -1, -1)], 2).flatten(0, 1)
    manual = torch.sigmoid(rel.relation_fc(rel.relation_conv(pairs).flatten(1))).view(-1, 3)
    assert torch.allclose(scores[0], manual, atol=1e-5)
    target = M.one_hot(ep.y_query[0], 3)
    assert torch.allclose(loss[0], ((manual - target) ** 2).sum(-1).mean(), atol=1e-5)

    sia = M.make_learner(M.SiameseNet, hidden=8)
    scores, loss = sia(ep.x_support, ep.y_support, ep.x_query, 3, ep.y_query)
    zs, zq = sia.embed_episode(ep.x_support, ep.x_query)
    p = torch.sigmoid(sia.verify((zq[0][:, None] - zs[0][None]).abs()).squeeze(-1))  # (Q, S)
    assert torch.allclose(scores[0], torch.stack([p[:, ep.y_support[0] == n].mean(1)
                                                  for n in range(3)], 1), atol=1e-5)
    assert 0 < loss.item() < 10


# ----------------------------------------------------------------------------- invariances
@pytest.mark.parametrize("method", [M.ProtoNet, M.MatchingNet])
def test_invariant_to_support_order_and_equivariant_to_relabelling(method):
    torch.manual_seed(0)
    model = M.make_learner(method, hidden=8, seed=3)
    ep = random_episode(t=2, n=4, k=2, q=3, seed=5)
    scores = M.episode_scores(model, None, ep)
    # shuffle the support set (differently per task)
    perm = torch.stack([torch.randperm(8), torch.randperm(8)])
    xs = torch.stack([ep.x_support[i, perm[i]] for i in range(2)])
    ys = torch.stack([ep.y_support[i, perm[i]] for i in range(2)])
    shuffled = M.episode_scores(model, None, TaskBatch(xs, ys, ep.x_query, ep.y_query))
    assert torch.allclose(scores, shuffled, atol=1e-5)
    # relabel the classes with a permutation pi: scores' [..., pi[n]] = scores[..., n]
    pi = torch.tensor([2, 0, 3, 1])
    relabelled = M.episode_scores(model, None, TaskBatch(ep.x_support, pi[ep.y_support],
                                                         ep.x_query, pi[ep.y_query]))
    assert torch.allclose(relabelled[..., pi], scores, atol=1e-5)
    acc = M.accuracy(scores, ep.y_query)
    acc2 = M.accuracy(relabelled, pi[ep.y_query])
    assert torch.equal(acc, acc2)


def test_full_context_embeddings_depend_on_the_support_order():
    torch.manual_seed(0)
    model = M.make_learner(M.MatchingNet, hidden=8, seed=3, fce=True)
    ep = random_episode(t=1, n=3, k=2, q=2, seed=1)
    a = M.episode_scores(model, None, ep)
    perm = torch.tensor([5, 2, 0, 3, 1, 4])
    b = M.episode_scores(model, None, TaskBatch(ep.x_support[:, perm], ep.y_support[:, perm],
                                                ep.x_query, ep.y_query))
    assert a.shape == b.shape == (1, 6, 3)
    assert not torch.allclose(a, b, atol=1e-6)


# ----------------------------------------------------------------------------- errors, shapes
def test_check_episode_returns_n_and_k_and_rejects_bad_labels():
    ep = random_episode(t=2, n=4, k=3, q=1)
    assert M.check_episode(ep.y_support) == (4, 3)
    with pytest.raises(ValueError, match="same number K"):
        M.check_episode(torch.tensor([[0, 0, 1, 2]]))
    with pytest.raises(ValueError, match="lie in 0..2"):
        M.check_episode(torch.tensor([[0, 1, 3]]), n_way=3)
    with pytest.raises(ValueError, match="query labels"):
        M.check_episode(torch.tensor([[0, 1]]), y_query=torch.tensor([[0, 2]]))
    with pytest.raises(ValueError, match="integer"):
        M.check_episode(torch.tensor([[0.0, 1.0]]))


def test_learners_give_clear_errors_for_mismatched_episodes():
    model = M.make_learner(M.ProtoNet, hidden=8)
    ep = random_episode(t=2, n=4, k=2, q=1)
    bad_y = ep.y_support.clone()
    bad_y[0, 0] = 1  # class 0 now has one shot, class 1 three
    with pytest.raises(ValueError, match="same number K"):
        M.evaluate(model, None, TaskBatch(ep.x_support, bad_y, ep.x_query, ep.y_query))
    with pytest.raises(ValueError, match="support set: x_support has 8"):
        TaskBatch(ep.x_support, ep.y_support[:, :7], ep.x_query, ep.y_query)
    params = {k: v.to("meta") for k, v in model.named_parameters()}
    with pytest.raises(ValueError, match="model parameters are on meta"):
        M.episode_scores(model, params, ep)
    with pytest.raises(TypeError, match="EpisodicLearner class"):
        M.make_learner("prototypical")


@pytest.mark.parametrize("method", [M.ProtoNet, M.MatchingNet, M.RelationNet, M.SiameseNet])
def test_shapes_of_scores_and_losses(method):
    model = M.make_learner(method, hidden=8)
    for n, k, q in ((3, 1, 2), (5, 2, 1)):
        ep = random_episode(t=2, n=n, k=k, q=q)
        scores = M.episode_scores(model, None, ep)
        assert scores.shape == (2, n * q, n)
        loss = M.episodic_loss(model, None, ep, reduce=False)
        assert loss.shape == (2,) and torch.isfinite(loss).all()


@pytest.mark.parametrize("device", DEVICES)
def test_runs_on_every_available_device(device):
    model = M.make_learner(M.ProtoNet, hidden=8).to(device)
    ep = random_episode(t=1, n=3, k=1, q=1, device=device)
    loss, grads = M.episodic_gradient(model, dict(model.named_parameters()), ep)
    assert loss.device.type == torch.device(device).type
    assert all(g.device.type == torch.device(device).type for g in grads.values())


# ----------------------------------------------------------------------------- learning
@pytest.mark.parametrize("method,iterations,batch,floor", [
    (M.ProtoNet, 30, 2, 0.45), (M.MatchingNet, 30, 2, 0.45), (M.RelationNet, 200, 4, 0.35),
    (M.SiameseNet, 40, 2, 0.35)])
def test_each_method_beats_chance_after_a_short_training(method, iterations, batch, floor):
    from course_pkg.data import episodes

    model = M.make_learner(method, hidden=16, seed=0)
    params, history = M.train_episodic(model, n_way=5, k_support=1, k_query=3,
                                       iterations=iterations, meta_batch_size=batch, meta_lr=3e-3,
                                       seed=0, device="cpu", progress=False)
    test = episodes("test", 5, 1, 5, num_tasks=20, seed=11, device="cpu")
    acc = M.evaluate(model, params, test).mean().item()
    assert acc > floor, (f"{method.__name__}: accuracy {acc:.2f} after {iterations} "
                         "iterations (chance 0.2)")
    assert math.isfinite(history["loss"][-1])
    # deterministic: a second run with the same seed gives the same parameters
    if method is M.ProtoNet:
        again, _ = M.train_episodic(model, 5, 1, 3, 5, 2, 3e-3, 0, "cpu", progress=False)
        again2, _ = M.train_episodic(model, 5, 1, 3, 5, 2, 3e-3, 0, "cpu", progress=False)
        assert all(torch.equal(again[k], again2[k]) for k in again)

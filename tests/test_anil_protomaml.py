"""ANIL and ProtoMAML: their meta-gradients against the course's MAML and ProtoNet."""

from __future__ import annotations

import torch

from course_pkg.algorithms.anil import (
    anil_accuracy,
    anil_loss,
    anil_meta_gradient,
    episode_features,
    head_logits,
)
from course_pkg.algorithms.core import cross_entropy_loss
from course_pkg.algorithms.maml import meta_gradient
from course_pkg.algorithms.metric import prototypical_logits, prototypical_loss
from course_pkg.algorithms.protomaml import (
    body_params,
    proto_head,
    protomaml_accuracy,
    protomaml_meta_gradient,
)
from course_pkg.models import Conv4
from course_pkg.models import params as model_params
from course_pkg.tasks import TaskBatch


def _episodes(tasks=3, n_way=5, k=2, q=3, seed=0) -> TaskBatch:
    g = torch.Generator().manual_seed(seed)
    ys = torch.arange(n_way).repeat_interleave(k).expand(tasks, -1).clone()
    yq = torch.arange(n_way).repeat_interleave(q).expand(tasks, -1).clone()
    xs = torch.randn(tasks, n_way * k, 1, 28, 28, generator=g, dtype=torch.float64)
    xq = torch.randn(tasks, n_way * q, 1, 28, 28, generator=g, dtype=torch.float64)
    return TaskBatch(xs, ys, xq, yq)


def _model(n_way=5) -> Conv4:
    torch.manual_seed(0)
    return Conv4(1, n_way, hidden=8).double()


def test_anil_meta_gradient_is_maml_with_the_body_frozen_in_the_inner_loop():
    model, batch = _model(), _episodes()
    params = model_params(model, detach=True)
    alpha, steps = 0.4, 2
    lrs = {k: torch.full_like(v, alpha if k.startswith("head.") else 0.0)
           for k, v in params.items()}
    loss_m, g_m = meta_gradient(model, params, batch, steps, lrs, cross_entropy_loss)
    loss_a, g_a = anil_meta_gradient(model, params, batch, steps, alpha)
    assert abs(float(loss_m - loss_a)) < 1e-9
    for k in params:
        assert torch.allclose(g_m[k], g_a[k], atol=1e-6, rtol=0), k
    # and it is not MAML's own gradient (the body adapts there): the check can fail
    _, g_full = meta_gradient(model, params, batch, steps, alpha, cross_entropy_loss)
    assert max(float((g_full[k] - g_a[k]).abs().max()) for k in params) > 1e-4


def test_anil_with_zero_steps_is_the_plain_classifier_loss():
    model, batch = _model(), _episodes()
    params = model_params(model, detach=True)
    direct = torch.stack([cross_entropy_loss(model(batch.x_query[t]), batch.y_query[t])
                          for t in range(batch.num_tasks)]).mean()
    assert torch.allclose(anil_loss(model, params, batch, 0, 0.4), direct, atol=1e-10)


def test_protomaml_initial_head_is_the_prototype_classifier():
    model, batch = _model(), _episodes()
    body = body_params(model_params(model, detach=True))
    head = proto_head(model, body, batch)
    zq = episode_features(model, body, batch.x_query)
    zs = episode_features(model, body, batch.x_support)
    init = head_logits(head, zq)
    proto = prototypical_logits(zq, zs, batch.y_support, 5)
    # the logits differ by ‖z‖² per query, so the class probabilities are ProtoNet's
    diff = init - proto
    assert torch.allclose(diff, (zq * zq).sum(-1, keepdim=True).expand_as(diff), atol=1e-8)
    assert torch.allclose(init.softmax(-1), proto.softmax(-1), atol=1e-10)


def test_protomaml_with_zero_steps_has_protonets_meta_gradient():
    model, batch = _model(), _episodes()
    body = body_params(model_params(model, detach=True))
    loss_p, g_p = protomaml_meta_gradient(model, body, batch, 0, 0.1)
    theta = {k: v.clone().requires_grad_(True) for k, v in body.items()}
    zs = episode_features(model, theta, batch.x_support)
    zq = episode_features(model, theta, batch.x_query)
    ref = torch.stack([prototypical_loss(zq[t], batch.y_query[t], zs[t], batch.y_support[t], 5)
                       for t in range(batch.num_tasks)]).mean()
    g_ref = torch.autograd.grad(ref, list(theta.values()))
    assert abs(float(loss_p - ref.detach())) < 1e-9
    for (k, _), g in zip(theta.items(), g_ref):
        assert torch.allclose(g_p[k], g, atol=1e-8), k


def test_protomaml_steps_change_the_gradient_and_chunking_does_not():
    model, batch = _model(), _episodes(tasks=4)
    body = body_params(model_params(model, detach=True))
    _, g0 = protomaml_meta_gradient(model, body, batch, 0, 0.1)
    _, g2 = protomaml_meta_gradient(model, body, batch, 2, 0.1)
    _, g2c = protomaml_meta_gradient(model, body, batch, 2, 0.1, task_chunk_size=1)
    assert max(float((g0[k] - g2[k]).abs().max()) for k in body) > 1e-5
    for k in body:
        assert torch.allclose(g2[k], g2c[k], atol=1e-10), k


def test_accuracies_have_one_entry_per_episode_in_0_1():
    model, batch = _model(), _episodes()
    p = model_params(model, detach=True)
    for acc in (anil_accuracy(model, p, batch, 3, 0.4),
                protomaml_accuracy(model, p, batch, 3, 0.1)):
        assert acc.shape == (batch.num_tasks,)
        assert float(acc.min()) >= 0 and float(acc.max()) <= 1

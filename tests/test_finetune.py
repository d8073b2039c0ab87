"""Tests of fine-tuning (course_pkg.algorithms.finetune), supervised pre-training, chapter 2's
committed runs (course_pkg.experiments.transfer) and hard parameter sharing (multitask)."""

from __future__ import annotations

import pytest
import torch

import course_pkg.data as D
from course_pkg.algorithms import finetune as F
from course_pkg.algorithms import multitask as MT
from course_pkg.checkpoints import load_checkpoint
from course_pkg.experiments import transfer as TR
from course_pkg.models import Conv4, conv4_features, params
from course_pkg.tasks import SinusoidTasks, TaskBatch


def _toy_batch(T=2, n=3, k=2, q=2, seed=0) -> TaskBatch:
    g = torch.Generator().manual_seed(seed)
    xs = torch.rand(T, n * k, 1, 28, 28, generator=g)
    xq = torch.rand(T, n * q, 1, 28, 28, generator=g)
    ys = torch.arange(n).repeat_interleave(k).expand(T, -1).clone()
    yq = torch.arange(n).repeat_interleave(q).expand(T, -1).clone()
    return TaskBatch(xs, ys, xq, yq)


def test_layer_groups_and_layerwise_lrs():
    p = params(Conv4(out_dim=5))
    assert F.layer_of("features.0.0.weight") == "block1"
    assert F.layer_of("features.3.1.bias") == "block4"
    assert F.layer_of("head.weight") == "head"
    lrs = F.layerwise_lrs(p, {"block4": 0.1, "head": 0.5})
    assert float(lrs["head.bias"]) == pytest.approx(0.5)
    assert float(lrs["features.3.0.weight"]) == pytest.approx(0.1)
    assert float(lrs["features.0.0.weight"]) == 0.0  # missing groups are frozen
    assert all(float(v) == pytest.approx(0.2) for v in F.layerwise_lrs(p, 0.2).values())
    assert F.first_trainable_block({"block3": 0.1, "head": 1.0}) == 2
    assert F.first_trainable_block({"head": 1.0}) == 4
    with pytest.raises(ValueError, match="unknown layer groups"):
        F.layerwise_lrs(p, {"block9": 0.1})
    with pytest.raises(ValueError, match="≥ 0"):
        F.layerwise_lrs(p, {"head": -1.0})
    with pytest.raises(ValueError, match="not a Conv4 parameter"):
        F.layer_of("trunk.0.weight")


def test_finetune_step_is_the_lecture_update():
    """φ₁ = φ₀ − α ⊙ ∇L(φ₀, D^tr) with per-layer α, checked against autograd + manual update."""
    torch.manual_seed(0)
    model = Conv4(out_dim=3)
    b = _toy_batch()
    p0 = {k: v.detach().clone() for k, v in params(model).items()}
    rates = {"block1": 0.0, "block2": 0.01, "block3": 0.02, "block4": 0.05, "head": 0.3}
    lrs = F.layerwise_lrs(p0, rates)
    p1 = F.finetune_task(model, p0, b.x_support[0], b.y_support[0], inner_steps=1, lr=lrs)
    loss = torch.nn.functional.cross_entropy(model(b.x_support[0]), b.y_support[0])
    grads = torch.autograd.grad(loss, list(model.parameters()))
    for (name, p), g in zip(model.named_parameters(), grads):
        expected = p.detach() - rates[F.layer_of(name)] * g
        torch.testing.assert_close(p1[name], expected, rtol=1e-5, atol=1e-6)
    assert torch.equal(p1["features.0.0.weight"], p0["features.0.0.weight"])  # frozen


def test_frozen_prefix_shortcut_matches_full_network():
    """Running frozen blocks once and adapting the rest = adapting everything with α = 0 there."""
    torch.manual_seed(1)
    model = Conv4(out_dim=3)
    b = _toy_batch()
    p0 = {k: v.detach().clone() for k, v in params(model).items()}
    rates = {"block3": 0.05, "block4": 0.05, "head": 0.2}
    full = F.finetune_task(model, p0, b.x_support[0], b.y_support[0], 3,
                           F.layerwise_lrs(p0, rates))
    h = conv4_features(model, p0, b.x_support[0], 2)
    tail = {k: v for k, v in p0.items() if not k.startswith(("features.0.", "features.1."))}
    short = F.finetune_task(model, tail, h, b.y_support[0], 3, F.layerwise_lrs(tail, rates),
                            start=2)
    for k in tail:
        torch.testing.assert_close(short[k], full[k], rtol=1e-5, atol=1e-6)


def test_vmap_and_loop_agree():
    torch.manual_seed(2)
    model = Conv4(out_dim=3)
    b = _toy_batch(T=3)
    state = {k: v.detach() for k, v in model.state_dict().items()}
    recipe = F.FinetuneRecipe("t", {"block4": 0.05, "head": 0.2}, inner_steps=2)
    a = F.finetune_accuracy(model, state, b, recipe, vectorize=True)
    c = F.finetune_accuracy(model, state, b, recipe, vectorize=False)
    assert torch.equal(a, c) and a.shape == (3,)


def test_new_heads():
    g = torch.Generator().manual_seed(0)
    w, bias = F.new_head(5, 64, "random", generator=g)
    assert w.shape == (5, 64) and bias.shape == (5,) and w.abs().max() <= 1 / 8
    w, bias = F.new_head(5, 64, "zero")
    assert not w.any() and not bias.any()
    old = (torch.randn(20, 64), torch.randn(20))
    w, bias = F.new_head(5, 64, "reuse", generator=g, old_head=old)
    rows = [int(torch.nonzero((old[0] == r).all(1))[0]) for r in w]
    assert len(set(rows)) == 5 and all(torch.equal(old[1][i], bi) for i, bi in zip(rows, bias))
    # class-mean head = nearest class mean in Euclidean distance
    z = torch.randn(10, 8)
    y = torch.arange(5).repeat(2)
    w, bias = F.new_head(5, 8, "mean", embeddings=z, labels=y)
    q = torch.randn(30, 8)
    means = torch.stack([z[y == c].mean(0) for c in range(5)])
    assert torch.equal((q @ w.T + bias).argmax(1), torch.cdist(q, means).argmin(1))
    with pytest.raises(ValueError, match="unknown head"):
        F.new_head(5, 8, "magic")


def test_nearest_neighbour_on_copies_is_perfect():
    b = _toy_batch(k=1, q=1)
    copy = TaskBatch(b.x_support, b.y_support, b.x_support.clone(), b.y_support.clone())
    assert torch.equal(F.nearest_neighbour_accuracy(copy), torch.ones(2))


@pytest.fixture(scope="module")
def pretrained():
    from course_pkg.experiments.fewshot.sweep import BUDGET_DIR

    name = "fewshot_pretrained_conv4"
    if load_checkpoint(name, TR.pretrain_config(), BUDGET_DIR) is None:
        pytest.fail(f"committed checkpoint {name} is missing or stale; "
                    "run `python -m course_pkg.train fewshot --method pretrained`")
    from course_pkg.experiments import load_model

    loaded = load_model("pretrained", device="cpu")
    return loaded.model, loaded.params, loaded.meta


def test_pretrained_conv4_is_the_tables_backbone(pretrained):
    """One pre-trained network: the few-shot table's width, trained for the equal budget and
    kept at its best validation point."""
    from course_pkg.experiments import fewshot as E

    model, _, meta = pretrained
    assert model.embedding_dim == E.HIDDEN["cpu"]
    m = meta["metrics"]
    assert m["budget_s"] == E.BUDGET["cpu"]["cpu_seconds"] and m["images"] > 0
    assert m["best_validation_accuracy"] == max(p[2] for p in m["curve"])


def test_finetuning_beats_chance(pretrained):
    model, state, meta = pretrained
    assert meta["loaded"]
    batch = D.eval_episodes(k_support=1, num_tasks=10, device="cpu")
    head_only = F.FinetuneRecipe("head", {"head": 0.1}, inner_steps=10)
    acc = F.finetune_accuracy(model, state, batch, head_only)
    assert acc.mean() > 0.5  # chance is 0.2
    scratch = F.FinetuneRecipe("scratch", dict.fromkeys(F.CONV4_LAYERS, 0.1), inner_steps=10,
                               from_scratch=True)
    assert F.finetune_accuracy(model, state, batch, scratch).mean() < acc.mean()


def test_committed_table_is_consistent(pretrained):
    found = load_checkpoint("glyphs_finetune_table", TR.TABLE_CONFIG)
    assert found is not None, "run `python -m course_pkg.train glyphs`"
    state, meta = found
    n = TR.TABLE_CONFIG["episodes"]
    assert all(v.shape == (n,) for v in state.values())
    for key, (m, _) in meta["metrics"]["mean_ci95"].items():
        assert abs(float(state[key].mean()) - m) < 1e-3
    # the cheap rows, recomputed on the first 20 stored episodes, must agree with the file
    model, pre, _ = pretrained
    batch = D.eval_episodes(k_support=1, num_tasks=20, device="cpu")
    assert torch.equal(F.nearest_neighbour_accuracy(batch), state["k1/1-NN on pixels"][:20])
    mean_head = F.FinetuneRecipe("m", {}, head="mean", inner_steps=0)
    torch.testing.assert_close(F.finetune_accuracy(model, pre, batch, mean_head),
                               state["k1/class-mean head, no steps"][:20])


# ----------------------------------------------------------------------------- multi-task


def test_multitask_shapes_and_errors():
    x = torch.rand(4, 7, 1)
    for cls in (MT.HardSharingNet, MT.SeparateNets, MT.OneNet):
        assert cls(4)(x).shape == (4, 7, 1)
    with pytest.raises(ValueError, match="expected x"):
        MT.HardSharingNet(4)(torch.rand(3, 7, 1))
    with pytest.raises(ValueError, match="expected x"):
        MT.SeparateNets(4)(torch.rand(7, 1))


def test_separate_nets_are_independent():
    torch.manual_seed(0)
    net = MT.SeparateNets(3)
    x = torch.rand(3, 5, 1)
    out = net(x)
    out[0].sum().backward()  # only task 0's network receives gradient
    g = next(iter(net.stacked.values())).grad
    assert g[0].abs().sum() > 0 and g[1:].abs().sum() == 0


def test_hard_sharing_beats_separate_models_on_sinusoids():
    torch.manual_seed(0)
    b = SinusoidTasks().sample(10, 10, 100, generator=0, device="cpu")
    results = {}
    for name, net in (("shared", MT.HardSharingNet(10, hidden=(40, 40, 4))),
                      ("separate", MT.SeparateNets(10)), ("one", MT.OneNet(10))):
        MT.fit_multitask(net, b.x_support, b.y_support, iterations=500, lr=1e-2)
        results[name] = MT.per_task_mse(net, b.x_query, b.y_query).mean().item()
    assert results["shared"] < results["separate"] and results["shared"] < results["one"]

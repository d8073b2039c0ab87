"""Black-box learners: label-offset sequences, memory, hypernetwork, errors, and learning."""

from __future__ import annotations

import pytest
import torch

from course_pkg.algorithms import blackbox as B
from course_pkg.algorithms import metric as M
from course_pkg.models import MLP
from course_pkg.tasks import SinusoidTasks, TaskBatch

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def random_episode(t=2, n=3, k=2, q=2, seed=0) -> TaskBatch:
    g = torch.Generator().manual_seed(seed)
    xs = torch.rand(t, n * k, 1, 28, 28, generator=g)
    xq = torch.rand(t, n * q, 1, 28, 28, generator=g)
    ys = torch.arange(n).repeat_interleave(k).expand(t, -1).clone()
    yq = torch.arange(n).repeat_interleave(q).expand(t, -1).clone()
    return TaskBatch(xs, ys, xq, yq)


# ----------------------------------------------------------------------------- sequences
def test_label_offset_inputs_shift_labels_by_one_step():
    z = torch.arange(6.0).view(1, 3, 2)
    y = torch.tensor([[2, 0, 1]])
    u = B.label_offset_inputs(z, y, 3)
    expected = torch.tensor([[[0, 1, 0, 0, 0], [2, 3, 0, 0, 1], [4, 5, 1, 0, 0]]]).float()
    assert torch.equal(u, expected)
    with pytest.raises(ValueError, match="disagree"):
        B.label_offset_inputs(z, y[:, :2], 3)


def test_shuffle_support_keeps_image_label_pairs_and_is_seeded():
    ep = random_episode(t=3, n=3, k=2)
    a, b = B.shuffle_support(ep, 5), B.shuffle_support(ep, 5)
    assert torch.equal(a.x_support, b.x_support) and torch.equal(a.y_support, b.y_support)
    assert not torch.equal(a.y_support, ep.y_support)
    for i in range(3):
        for j in range(6):  # every shuffled image is an original image with the same label
            match = (ep.x_support[i] == a.x_support[i, j]).flatten(1).all(1)
            assert ep.y_support[i][match].tolist() == [a.y_support[i, j].item()]
    assert torch.equal(a.x_query, ep.x_query)


def test_attention_core_is_causal_on_the_support_sequence():
    torch.manual_seed(0)
    core = B.AttentionCore(input_dim=4 + 3, n_way=3, width=8)
    z = torch.randn(2, 6, 4)
    y = torch.randint(0, 3, (2, 6))
    u = B.label_offset_inputs(z, y, 3)
    uq = torch.cat([torch.randn(2, 2, 4), M.one_hot(y[:, -1:], 3).expand(2, 2, 3)], -1)
    out_s, out_q = core(u, uq)
    t = 3
    u2 = u.clone()
    u2[:, t + 1:] = torch.randn_like(u2[:, t + 1:])  # change the future
    out_s2, _ = core(u2, uq)
    assert torch.allclose(out_s[:, : t + 1], out_s2[:, : t + 1], atol=1e-6)
    assert not torch.allclose(out_s[:, t + 1:], out_s2[:, t + 1:])
    assert torch.equal(out_s[:, 0, 4:], torch.zeros(2, 8))  # step 0 has nothing to read
    assert out_q.shape == (2, 2, 4 + 8)


def test_mann_first_write_goes_to_the_least_used_slot():
    torch.manual_seed(0)
    core = B.MANNCore(input_dim=5, state=6, slots=4, width=3)
    state = core.initial_state(2, torch.zeros(1))
    u = torch.randn(2, 5)
    out, (h, c, memory, w_r, usage, read) = core.step(u, state)
    h_ref, _ = core.cell(torch.cat([u, torch.zeros(2, 3)], -1), (state[0], state[1]))
    k = torch.tanh(core.key(h_ref))
    gate = torch.sigmoid(core.gate(h_ref))
    # previous read weights are 0 and every usage is 0, so slot 0 (argmin) gets (1 - gate) k
    assert torch.allclose(memory[:, 0], (1 - gate) * k, atol=1e-6)
    assert torch.allclose(memory[:, 1:], torch.full_like(memory[:, 1:], 1e-6))
    assert torch.allclose(w_r.sum(-1), torch.ones(2), atol=1e-6)
    assert torch.allclose(read, (w_r.unsqueeze(-1) * memory).sum(1), atol=1e-6)
    w_w = (1 - gate) * torch.tensor([1.0, 0, 0, 0])
    assert torch.allclose(usage, w_r + w_w, atol=1e-6)
    assert out.shape == (2, 6 + 3)


@pytest.mark.parametrize("core", ["lstm", "mann", "attention"])
def test_classifier_shapes_and_support_order(core):
    model = B.make_blackbox_classifier(3, hidden=8, core=core, state=16, width=8)
    ep = random_episode(t=2, n=3, k=2, q=2)
    scores, loss = model(ep.x_support, ep.y_support, ep.x_query, 3, ep.y_query)
    assert scores.shape == (2, 6, 3) and loss.shape == (2,)
    shuffled = B.shuffle_support(ep, 1)
    scores2 = M.episode_scores(model, None, shuffled)
    if core == "attention":  # a query reads the whole set of (image, label) pairs
        assert torch.allclose(scores, scores2, atol=1e-5)
    else:  # a recurrent state depends on the order in which the support set is read
        assert not torch.allclose(scores, scores2, atol=1e-5)


def test_classifier_rejects_a_different_number_of_classes():
    model = B.make_blackbox_classifier(5, hidden=8, core="lstm", state=8)
    with pytest.raises(ValueError, match="built for 5-way"):
        M.evaluate(model, None, random_episode(n=3))
    with pytest.raises(ValueError, match="core must be"):
        B.BlackBoxClassifier(5, 8, core="gru")


@pytest.mark.parametrize("device", DEVICES)
def test_classifier_gradient_on_every_device(device):
    model = B.make_blackbox_classifier(3, hidden=8, core="mann", state=8, width=4).to(device)
    ep = random_episode(t=1, n=3, k=1, q=1).to(device)
    loss, grads = M.episodic_gradient(model, dict(model.named_parameters()), ep)
    assert torch.isfinite(loss) and all(torch.isfinite(g).all() for g in grads.values())


def test_blackbox_classifier_beats_chance_after_a_short_training():
    from course_pkg.data import episodes

    model = B.make_blackbox_classifier(5, hidden=16, core="attention", width=32,
                                       support_weight=0.0)
    params, _ = B.train_blackbox_classifier(model, k_support=1, k_query=3, iterations=80,
                                            meta_batch_size=4, meta_lr=3e-3, seed=0, device="cpu",
                                            progress=False)
    test = B.shuffle_support(episodes("test", 5, 1, 5, num_tasks=20, seed=11, device="cpu"), 0)
    acc = M.evaluate(model, params, test).mean().item()
    assert acc > 0.35, f"black-box accuracy {acc:.2f} (chance 0.2)"


# ----------------------------------------------------------------------------- regression
def test_hypernetwork_outputs_every_target_parameter():
    torch.manual_seed(0)
    model = B.BlackBoxRegressor("params", encoder_width=16, target_hidden=(40, 40))
    assert model.phi_dim == 1761 == B.count_parameters(MLP(1, (40, 40), 1))
    cost = B.hypernetwork_parameter_count(MLP(1, (40, 40), 1), encoder_width=16)
    assert cost == {"target": 1761, "output_layer": 17 * 1761}
    assert model.rho.net[-1].weight.numel() + model.rho.net[-1].bias.numel() == 17 * 1761
    batch = SinusoidTasks().sample(3, 5, 7, generator=0, device="cpu")
    phi = model.adapt(batch.x_support, batch.y_support)
    pred = model.predict(phi, batch.x_query)
    target = MLP(1, (40, 40), 1)
    for i in range(3):
        p = {k: v[i] for k, v in model.unflatten(phi).items()}
        ref = torch.func.functional_call(target, p, (batch.x_query[i],))
        assert torch.allclose(pred[i], ref, atol=1e-6)


@pytest.mark.parametrize("mode", ["context", "params"])
def test_regressor_is_permutation_invariant_and_learns(mode):
    torch.manual_seed(0)
    model = B.BlackBoxRegressor(mode, encoder_width=32, context_dim=8, decoder_hidden=(32, 32))
    tasks = SinusoidTasks()
    batch = tasks.sample(4, 10, 20, generator=1, device="cpu")
    pred, _ = model(batch.x_support, batch.y_support, batch.x_query)
    perm = torch.randperm(10)
    pred2, _ = model(batch.x_support[:, perm], batch.y_support[:, perm], batch.x_query)
    assert torch.allclose(pred, pred2, atol=1e-5)
    params, hist = B.train_regressor(model, iterations=300, meta_batch_size=16, meta_lr=3e-3,
                                     device="cpu", progress=False)
    held = tasks.sample(100, 10, 50, generator=7, device="cpu")
    mse = B.regression_loss(model, params, held).item()
    baseline = (held.y_query ** 2).mean().item()  # predicting 0 everywhere
    assert mse < 0.5 * baseline, f"{mode}: MSE {mse:.2f} vs {baseline:.2f} for predicting 0"
    with pytest.raises(ValueError, match="tasks, K, 1"):
        model(batch.x_support[0], batch.y_support[0], batch.x_query[0])

"""Tests of course_pkg.algorithms.maml (MAML, FOMAML, Meta-SGD, MAML++, pretrained): exact
equations, learn2learn equality, batching, memory, errors. The training loop, evaluation, the
functional core and the sinusoid runs have their own test files (test_training.py,
test_evaluation.py, test_algorithms_core.py, test_sinusoid_runs.py)."""


import pytest
import torch
from torch import nn

from course_pkg.algorithms.core import (
    LR_PREFIX,
    batched_inner_adapt,
    cross_entropy_loss,
    inner_adapt,
    loss_at,
    mse_loss,
)
from course_pkg.algorithms.evaluation import adapt
from course_pkg.algorithms.maml import (
    maml_loss,
    meta_gradient,
    msl_weights,
    pretrained_gradient,
)
from course_pkg.models import MLP, Conv4, params
from course_pkg.tasks import SinusoidTasks, TaskBatch
from course_pkg.utils import import_learn2learn


def sum_squares(pred, target):
    """Seed 000's loss: a sum (not a mean) of squared errors."""
    return ((pred - target) ** 2).sum()


def neuron(theta: float) -> nn.Module:
    m = nn.Linear(1, 1, bias=False, dtype=torch.float64)
    with torch.no_grad():
        m.weight.fill_(theta)
    return m


def col(*v):
    return torch.tensor(v, dtype=torch.float64)[:, None]


# --------------------------------------------------------------------- single neuron (seed 000)
def test_single_neuron_matches_seed000_eq15_numbers():
    """θ=1, α=0.1; tasks S1={(2,4),(3,1)}, Q1={(1,2)}, S2={(5,3),(6,0)}, Q2={(4,1)}."""
    m = neuron(1.0)
    p = params(m)
    b = TaskBatch(torch.stack([col(2, 3), col(5, 6)]), torch.stack([col(4, 1), col(3, 0)]),
                  torch.stack([col(1.0), col(4.0)]), torch.stack([col(2.0), col(1.0)]))
    phi = adapt(m, p, b, 1, 0.1, sum_squares)["weight"].flatten()
    torch.testing.assert_close(phi, torch.tensor([0.6, -8.2], dtype=torch.float64))  # eqs 16, 17
    per_task = [meta_gradient(m, p, b.task(j), 1, 0.1, sum_squares)[1]["weight"].item()
                for j in range(2)]
    assert per_task == pytest.approx([4.48, 3028.48], rel=1e-12)  # eqs 18, 19
    # the batched meta-gradient is the mean over tasks; eq. 20 uses the sum with β = 0.5
    g = meta_gradient(m, p, b, 1, 0.1, sum_squares)[1]["weight"].item()
    assert 1.0 - 0.5 * (2 * g) == pytest.approx(-1515.48, rel=1e-12)


@pytest.mark.parametrize("k", [1, 2, 3, 5])
def test_single_neuron_k_steps_matches_seed000_eq28(k):
    """dL_Q/dθ = (1 − 2α Σ_S x²)^k · (−2 Σ_Q x (y − W⁽ᵏ⁾ x)) for k inner steps (eqs 26–28)."""
    g = torch.Generator().manual_seed(k)
    xs, ys = torch.randn(4, 1, generator=g, dtype=torch.float64), torch.randn(4, 1, generator=g,
                                                                              dtype=torch.float64)
    xq, yq = torch.randn(3, 1, generator=g, dtype=torch.float64), torch.randn(3, 1, generator=g,
                                                                              dtype=torch.float64)
    theta, alpha = 0.7, 0.05
    w = theta
    for _ in range(k):  # eq. 21 with the gradient of eq. 6
        w = w + 2 * alpha * float((xs * (ys - w * xs)).sum())
    outer = -2 * float((xq * (yq - w * xq)).sum())  # eq. 27
    expected = (1 - 2 * alpha * float((xs**2).sum())) ** k * outer  # eqs. 26, 28
    m = neuron(theta)
    b = TaskBatch(xs[None], ys[None], xq[None], yq[None])
    got = meta_gradient(m, params(m), b, k, alpha, sum_squares)[1]["weight"].item()
    assert got == pytest.approx(expected, rel=1e-10)
    fo = meta_gradient(m, params(m), b, k, alpha, sum_squares, first_order=True)[1]
    assert fo["weight"].item() == pytest.approx(outer, rel=1e-10)  # FOMAML drops eq. 28


# --------------------------------------------------------------------- learn2learn equality
def _l2l_meta_grad(wrapper, batch, k, loss_fn=mse_loss):
    """learn2learn's MAML/MetaSGD loop: clone, adapt k times, backward the query loss / T."""
    wrapper.zero_grad()
    T = batch.num_tasks
    total = 0.0
    for i in range(T):
        learner = wrapper.clone()
        for _ in range(k):
            learner.adapt(loss_fn(learner(batch.x_support[i]), batch.y_support[i]))
        loss = loss_fn(learner(batch.x_query[i]), batch.y_query[i]) / T
        loss.backward()
        total += loss.item()
    return total


@pytest.mark.parametrize("k", [1, 2, 5])
@pytest.mark.parametrize("first_order", [False, True])
def test_meta_gradient_equals_learn2learn(k, first_order):
    torch.manual_seed(k)
    model = MLP(1, (32, 16), 1)
    batch = SinusoidTasks().sample(6, 5, 7, generator=k, device="cpu")
    loss, grads = meta_gradient(model, params(model), batch, k, 0.05, first_order=first_order)
    l2l = import_learn2learn()
    total = _l2l_meta_grad(l2l.algorithms.MAML(model, lr=0.05, first_order=first_order), batch, k)
    assert loss.item() == pytest.approx(total, rel=1e-5)
    for name, p in model.named_parameters():
        # float32: 1e-5 relative to the gradient's scale (entries reach ~30 at k = 5)
        tol = 1e-5 * max(1.0, p.grad.abs().max().item())
        assert (grads[name] - p.grad).abs().max().item() < tol, name
    if not first_order:  # the second-order terms matter: FOMAML differs
        fo = meta_gradient(model, params(model), batch, k, 0.05, first_order=True)[1]
        assert max((fo[n] - grads[n]).abs().max().item() for n in grads) > 1e-4


def _image_episodes(tasks: int, ways: int, query: int, seed: int, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    ys = torch.stack([torch.randperm(ways, generator=g) for _ in range(tasks)])
    yq = torch.arange(ways).repeat(query).expand(tasks, -1).clone()
    return TaskBatch(torch.rand(tasks, ways, 1, 28, 28, generator=g, dtype=dtype), ys,
                     torch.rand(tasks, ways * query, 1, 28, 28, generator=g, dtype=dtype), yq)


@pytest.mark.parametrize("k,first_order", [(1, False), (2, False), (2, True)])
def test_conv4_meta_gradient_equals_learn2learn(k, first_order):
    """Conv4 with batch-statistics BatchNorm, cross-entropy, α = 0.4 (the Omniglot setting).

    BatchNorm's second derivative is where batched implementations go wrong: in torch 2.14,
    ``grad(vmap(task loss with an inner torch.func.grad))`` is off by ~1e-2 on this model;
    ``meta_gradient`` (vmap for the forward pass, autograd for both derivatives) must not be.
    """
    torch.manual_seed(10 + k)
    model = Conv4(1, 3, hidden=16)
    batch = _image_episodes(3, 3, 2, seed=k)
    loss, grads = meta_gradient(model, params(model), batch, k, 0.4, cross_entropy_loss,
                                first_order=first_order)
    l2l = import_learn2learn()
    wrapper = l2l.algorithms.MAML(model, lr=0.4, first_order=first_order)
    total = _l2l_meta_grad(wrapper, batch, k, cross_entropy_loss)
    assert loss.item() == pytest.approx(total, rel=1e-5)
    for name, p in model.named_parameters():
        tol = 1e-5 * max(1.0, p.grad.abs().max().item())
        assert (grads[name] - p.grad).abs().max().item() < tol, name
    if not first_order:
        fo = meta_gradient(model, params(model), batch, k, 0.4, cross_entropy_loss,
                           first_order=True)[1]
        assert max((fo[n] - grads[n]).abs().max().item() for n in grads) > 1e-3


def test_conv4_second_order_meta_gradient_matches_finite_differences():
    """float64, two inner steps: a central difference of the meta-loss along a random direction
    equals the meta-gradient's inner product with it. The step is tiny (1e-7) because max-pool
    switches and ReLU kinks make the meta-loss piecewise smooth: with steps of 1e-5 or more the
    difference quotient crosses kinks and is off by 100×."""
    torch.manual_seed(3)
    model = Conv4(1, 3, hidden=8).double()
    batch = _image_episodes(2, 3, 2, seed=5, dtype=torch.float64)
    theta = params(model, detach=True)
    _, grads = meta_gradient(model, theta, batch, 2, 0.4, cross_entropy_loss)
    g = torch.Generator().manual_seed(1)
    direction = {n: torch.randn(v.shape, generator=g, dtype=v.dtype) for n, v in theta.items()}
    eps = 1e-7

    def meta_loss(sign: float) -> float:
        shifted = {n: v + sign * eps * direction[n] for n, v in theta.items()}
        return maml_loss(model, shifted, batch, 2, 0.4, cross_entropy_loss).item()

    numeric = (meta_loss(1.0) - meta_loss(-1.0)) / (2 * eps)
    analytic = sum((grads[n] * direction[n]).sum().item() for n in theta)
    assert analytic == pytest.approx(numeric, rel=1e-6, abs=1e-9)
    fo = meta_gradient(model, theta, batch, 2, 0.4, cross_entropy_loss, first_order=True)[1]
    first_order = sum((fo[n] * direction[n]).sum().item() for n in theta)
    assert abs(first_order - numeric) > 1e3 * abs(analytic - numeric)


def test_meta_sgd_equals_learn2learn_metasgd():
    torch.manual_seed(0)
    model = MLP(1, (16, 16), 1)
    batch = SinusoidTasks().sample(5, 5, 5, generator=3, device="cpu")
    wrapper = import_learn2learn().algorithms.MetaSGD(model, lr=0.03)
    with torch.no_grad():  # distinct rates, so a mix-up between parameters would show
        for r in wrapper.lrs:
            r.add_(0.01 * torch.rand_like(r))
    lrs = {n: r.detach().clone() for (n, _), r in zip(model.named_parameters(), wrapper.lrs)}
    _l2l_meta_grad(wrapper, batch, 2)
    _, grads = meta_gradient(model, params(model), batch, 2, lrs)
    for (n, p), r in zip(model.named_parameters(), wrapper.lrs):
        assert (grads[n] - p.grad).abs().max() < 1e-5, n
        assert (grads[LR_PREFIX + n] - r.grad).abs().max() < 1e-5, n


# --------------------------------------------------------------------- batching and variants
def test_vmap_batch_equals_per_task_loop_and_inner_adapt():
    torch.manual_seed(1)
    model = MLP(1, (20, 20), 1)
    p = params(model)
    batch = SinusoidTasks().sample(7, 4, 6, generator=2, device="cpu")
    _, g_batch = meta_gradient(model, p, batch, 3, 0.02)
    loop = [meta_gradient(model, p, batch.task(i), 3, 0.02)[1] for i in range(7)]
    for n in g_batch:
        torch.testing.assert_close(g_batch[n], torch.stack([g[n] for g in loop]).mean(0),
                                   atol=1e-6, rtol=1e-5)
    # the autograd-batched inner loop equals vmap over core.inner_adapt
    a = batched_inner_adapt(model, p, batch.x_support, batch.y_support, 3, 0.02)
    b = torch.vmap(lambda x, y: inner_adapt(model, p, x, y, 3, 0.02))(batch.x_support,
                                                                      batch.y_support)
    for n in a:
        torch.testing.assert_close(a[n], b[n], atol=1e-6, rtol=1e-5)


def test_multi_step_loss_and_weights():
    w0, w_end = msl_weights(4, 0, 100), msl_weights(4, 100, 100)
    assert w0 == pytest.approx([0.25] * 4) and sum(w_end) == pytest.approx(1.0)
    assert w_end[-1] > 0.9 and min(w_end) == pytest.approx(0.03 / 4)
    torch.manual_seed(2)
    model = MLP(1, (10,), 1)
    p = params(model)
    batch = SinusoidTasks().sample(3, 5, 5, generator=4, device="cpu")
    w = [0.2, 0.3, 0.5]
    expected = sum(wj * maml_loss(model, p, batch, j + 1, 0.03) for j, wj in enumerate(w))
    torch.testing.assert_close(maml_loss(model, p, batch, 3, 0.03, step_weights=w), expected)
    with pytest.raises(ValueError, match="step_weights"):
        maml_loss(model, p, batch, 2, 0.03, step_weights=w)


def test_pretrained_gradient_is_plain_joint_training():
    torch.manual_seed(3)
    model = MLP(1, (10,), 1)
    batch = SinusoidTasks().sample(4, 5, 5, generator=5, device="cpu")
    loss, g = pretrained_gradient(model, params(model), batch)
    x = torch.cat([batch.x_support, batch.x_query], 1).reshape(-1, 1)
    y = torch.cat([batch.y_support, batch.y_query], 1).reshape(-1, 1)
    ref = mse_loss(model(x), y)  # equal-size tasks: mean of task means = pooled mean
    ref.backward()
    assert loss.item() == pytest.approx(ref.item(), rel=1e-6)
    for n, prm in model.named_parameters():
        torch.testing.assert_close(g[n], prm.grad)


def test_mis_shaped_batches_and_wrong_device_give_clear_errors():
    model = MLP(1, (8,), 1)
    p = params(model)
    b = SinusoidTasks().sample(3, 4, 4, generator=0, device="cpu")
    with pytest.raises(ValueError, match="mse_loss: predictions have shape"):
        maml_loss(model, p, (b.x_support, b.y_support[..., 0], b.x_query, b.y_query), 1, 0.1)
    with pytest.raises(ValueError, match="number of tasks"):
        meta_gradient(model, p, (b.x_support, b.y_support, b.x_query[:2], b.y_query[:2]), 1, 0.1)
    with pytest.raises(ValueError, match=r"MLP expects inputs \(\.\.\., 1\)"):
        maml_loss(model, p, (b.x_support.expand(3, 4, 2), b.y_support, b.x_query.expand(3, 4, 2),
                             b.y_query), 1, 0.1)
    with pytest.raises(TypeError, match="TaskBatch"):
        maml_loss(model, p, b.x_support, 1, 0.1)
    with pytest.raises(ValueError, match="move the task batch"):
        maml_loss(model, p, b.to("meta"), 1, 0.1)
    with pytest.raises(KeyError, match="inner_lr has no learning rate"):
        maml_loss(model, p, b, 1, {"net.0.weight": torch.tensor(0.1)})


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_runs_on_cuda():
    model = MLP(1, (8,), 1).cuda()
    b = SinusoidTasks().sample(3, 4, 4, generator=0, device="cuda")
    loss, g = meta_gradient(model, params(model), b, 2, 0.1)
    assert loss.device.type == "cuda" and all(v.device.type == "cuda" for v in g.values())


def test_saved_tensor_memory_grows_with_inner_steps_only_for_second_order():
    from course_pkg.utils import saved_tensor_bytes

    torch.manual_seed(0)
    model = MLP(1, (16, 16), 1)
    b = SinusoidTasks().sample(5, 10, 10, generator=0, device="cpu")
    mem = {}
    for fo in (False, True):
        for k in (1, 2, 4):
            def step(k=k, fo=fo):
                return meta_gradient(model, params(model), b, k, 0.01, first_order=fo)

            mem[fo, k] = saved_tensor_bytes(step)[1]
    assert mem[False, 1] < mem[False, 2] < mem[False, 4]
    assert mem[True, 1] == mem[True, 2] == mem[True, 4] < mem[False, 1]


@pytest.mark.parametrize("adapt", ["batched", "per_task"])
def test_first_order_peak_memory_is_flat_in_inner_steps(adapt):
    """FOMAML's allocator peak must not grow with k: the inner loop keeps only the current
    iterate (it once kept all k of them alive, one parameter copy per task and step)."""
    from course_pkg.utils import cpu_allocator_peak

    torch.manual_seed(0)
    model = MLP(1, (64, 64), 1)
    theta = params(model)
    b = SinusoidTasks().sample(8, 10, 10, generator=0, device="cpu")

    def step(k, first_order):
        if adapt == "batched":
            return lambda: meta_gradient(model, theta, b, k, 0.01, first_order=first_order)

        def loop():  # inner_adapt per task (the vmap-free path), outer backward through it
            th = {n: v.detach().requires_grad_(True) for n, v in theta.items()}
            phi = inner_adapt(model, th, b.x_support[0], b.y_support[0], k, 0.01,
                              first_order=first_order)
            return torch.autograd.grad(loss_at(model, phi, b.x_query[0], b.y_query[0]),
                                       list(th.values()))
        return loop

    fo = {k: cpu_allocator_peak(step(k, True)) for k in (2, 8, 32)}
    so = {k: cpu_allocator_peak(step(k, False)) for k in (2, 32)}
    assert max(fo.values()) <= 1.10 * min(fo.values()), fo
    assert so[32] > 3 * so[2], so  # the measurement does see growth where there is some


def test_task_chunks_give_the_same_meta_gradient():
    torch.manual_seed(5)
    model = MLP(1, (12, 12), 1)
    b = SinusoidTasks().sample(7, 5, 5, generator=8, device="cpu")
    lrs = {n: torch.full_like(v, 0.02) for n, v in params(model).items()}
    for lr in (0.02, lrs):
        loss, g = meta_gradient(model, params(model), b, 2, lr)
        loss_c, g_c = meta_gradient(model, params(model), b, 2, lr, task_chunk_size=3)
        assert loss_c.item() == pytest.approx(loss.item(), rel=1e-6)
        for n in g:
            torch.testing.assert_close(g_c[n], g[n], atol=1e-6, rtol=1e-5)

"""Tests of course_pkg.tasks: the sinusoid family and TaskBatch validation."""

import math

import pytest
import torch

from course_pkg.tasks import SinusoidTasks, TaskBatch


def test_sinusoid_shapes_ranges_and_targets():
    b = SinusoidTasks().sample(50, 5, 7, generator=0, device="cpu")
    assert b.x_support.shape == (50, 5, 1) and b.y_support.shape == (50, 5, 1)
    assert b.x_query.shape == (50, 7, 1) and b.y_query.shape == (50, 7, 1)
    amp, ph = b.info["amplitude"], b.info["phase"]
    assert amp.shape == (50,) and ph.shape == (50,)
    assert 0.1 <= amp.min() and amp.max() <= 5.0
    assert 0.0 <= ph.min() and ph.max() <= math.pi
    x = torch.cat([b.x_support, b.x_query], 1)
    assert -5.0 <= x.min() and x.max() <= 5.0
    # y = A sin(x - b) with each task's own A and b
    expected = amp[:, None, None] * torch.sin(b.x_query - ph[:, None, None])
    torch.testing.assert_close(b.y_query, expected)
    assert b.num_tasks == 50 and b.device.type == "cpu"


def test_sinusoid_seeding_is_reproducible_and_generators_advance():
    s = SinusoidTasks()
    a, b = s.sample(3, 4, 4, generator=7, device="cpu"), s.sample(3, 4, 4, generator=7,
                                                                  device="cpu")
    assert torch.equal(a.x_support, b.x_support) and torch.equal(a.y_query, b.y_query)
    g = torch.Generator().manual_seed(7)
    first, second = s.sample(3, 4, 4, generator=g, device="cpu"), s.sample(3, 4, 4, generator=g,
                                                                        device="cpu")
    assert torch.equal(first.x_support, a.x_support)
    assert not torch.equal(first.x_support, second.x_support)


def test_fixed_amplitude_and_phase():
    b = SinusoidTasks().sample(4, 3, 3, generator=1, device="cpu", amplitude=2.0, phase=0.5)
    assert torch.all(b.info["amplitude"] == 2.0) and torch.all(b.info["phase"] == 0.5)
    torch.testing.assert_close(b.y_support, 2.0 * torch.sin(b.x_support - 0.5))


def test_task_slicing_to_and_unpacking():
    b = SinusoidTasks().sample(6, 2, 3, generator=0, device="cpu")
    t = b.task(4)
    assert t.num_tasks == 1 and torch.equal(t.x_query[0], b.x_query[4])
    assert t.info["amplitude"].shape == (1,)
    xs, ys, xq, yq = b.to("cpu")
    assert torch.equal(xs, b.x_support) and torch.equal(yq, b.y_query)


def test_bad_arguments_and_mis_shaped_batches_give_clear_errors():
    with pytest.raises(ValueError, match="num_tasks"):
        SinusoidTasks().sample(0, 5, 5, device="cpu")
    xs, ys = torch.zeros(4, 5, 1), torch.zeros(4, 5, 1)
    xq, yq = torch.zeros(4, 6, 1), torch.zeros(4, 6, 1)
    with pytest.raises(ValueError, match="number of tasks"):
        TaskBatch(xs, ys, xq[:3], yq[:3])
    with pytest.raises(ValueError, match="support set"):
        TaskBatch(xs, ys[:, :4], xq, yq)
    with pytest.raises(ValueError, match="query set"):
        TaskBatch(xs, ys, xq, yq[:, :2])
    with pytest.raises(ValueError, match="unsqueeze"):
        TaskBatch(xs[0, :, 0], ys, xq, yq)
    with pytest.raises(ValueError, match="per-example shapes"):
        TaskBatch(xs, ys, torch.zeros(4, 6, 2), yq)
    with pytest.raises(TypeError, match="torch.Tensor"):
        TaskBatch(xs.numpy(), ys, xq, yq)
    with pytest.raises(ValueError, match="devices"):
        TaskBatch(xs, ys, xq.to("meta"), yq)

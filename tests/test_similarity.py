"""Linear CKA (the feature-reuse measurement): its defining properties, and MAML's adaptation
measured block by block."""

from __future__ import annotations

import pytest
import torch

from course_pkg.algorithms.similarity import adaptation_cka, block_outputs, linear_cka
from course_pkg.models import Conv4
from course_pkg.models import params as model_params
from course_pkg.tasks import TaskBatch


def test_cka_is_one_for_the_same_features_up_to_rotation_and_scale():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(50, 8, generator=g, dtype=torch.float64)
    q, _ = torch.linalg.qr(torch.randn(8, 8, generator=g, dtype=torch.float64))
    assert float(linear_cka(x, x)) == pytest.approx(1.0, abs=1e-12)
    assert float(linear_cka(x, 3.0 * x @ q + 2.0)) == pytest.approx(1.0, abs=1e-12)
    assert float(linear_cka(x, x @ q)) == pytest.approx(float(linear_cka(x @ q, x)), abs=1e-12)


def test_cka_matches_its_formula_and_is_small_for_unrelated_features():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(400, 5, generator=g, dtype=torch.float64)
    y = torch.randn(400, 7, generator=g, dtype=torch.float64)
    xc, yc = x - x.mean(0), y - y.mean(0)
    hsic = lambda a, b: ((a @ a.T) * (b @ b.T)).sum()  # noqa: E731  tr(K L), Gram form
    ref = hsic(xc, yc) / (hsic(xc, xc) * hsic(yc, yc)).sqrt()
    assert float(linear_cka(x, y)) == pytest.approx(float(ref), rel=1e-10)
    assert float(linear_cka(x, y)) < 0.1
    with pytest.raises(ValueError, match="same n"):
        linear_cka(x, y[:10])


def test_adaptation_cka_is_one_without_steps_and_falls_with_large_steps():
    torch.manual_seed(0)
    model = Conv4(1, 5, hidden=8)
    p = model_params(model, detach=True)
    g = torch.Generator().manual_seed(2)
    batch = TaskBatch(torch.rand(2, 5, 1, 28, 28, generator=g), torch.arange(5).expand(2, -1),
                      torch.rand(2, 15, 1, 28, 28, generator=g),
                      torch.arange(5).repeat_interleave(3).expand(2, -1))
    assert [o.shape[1] for o in block_outputs(model, p, batch.x_query[0])] == \
        [8 * 14 * 14, 8 * 7 * 7, 8 * 3 * 3, 8, 5]
    same = adaptation_cka(model, p, batch, 0, 0.4)
    assert same.shape == (2, 5) and torch.allclose(same, torch.ones_like(same), atol=1e-9)
    moved = adaptation_cka(model, p, batch, 5, 2.0)
    assert float(moved.min()) < 0.999

"""Tests of course_pkg.algorithms.core: the functional forward pass and losses."""

import pytest
import torch
from torch import nn

from course_pkg.algorithms.core import loss_at, mse_loss
from course_pkg.models import MLP, params


def test_loss_at_matches_functional_forward():
    model = MLP(1, (4,), 1)
    x, y = torch.randn(5, 1), torch.randn(5, 1)
    assert loss_at(model, params(model), x, y).item() == pytest.approx(
        mse_loss(model(x), y).item())


def test_forward_with_tied_weights_uses_the_given_tensor_everywhere():
    from course_pkg.algorithms.core import forward

    class Tied(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Linear(3, 3, bias=False)
            self.b = self.a  # the same parameter under two names

        def forward(self, x):
            return self.b(self.a(x))

    m, x = Tied(), torch.randn(2, 3)
    p = {k: 2 * v.detach() for k, v in params(m).items()}
    assert list(p) == ["a.weight"]
    torch.testing.assert_close(forward(m, p, x), x @ p["a.weight"].T @ p["a.weight"].T)
    torch.testing.assert_close(forward(MLP(3, (4,), 2), params(MLP(3, (4,), 2)), x).shape,
                               torch.Size([2, 2]))

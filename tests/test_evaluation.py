"""Tests of course_pkg.algorithms.evaluation: adapt, predict and the adaptation curve."""

import math

import torch

from course_pkg.algorithms.evaluation import adapt, evaluate_adaptation, predict
from course_pkg.algorithms.maml import maml_loss
from course_pkg.models import MLP, params
from course_pkg.tasks import SinusoidTasks
from course_pkg.utils import mean_ci


def test_evaluate_adaptation_adapt_predict_and_ci():
    torch.manual_seed(4)
    model = MLP(1, (16,), 1)
    p = params(model)
    batch = SinusoidTasks().sample(9, 5, 8, generator=6, device="cpu")
    curve = evaluate_adaptation(model, p, batch, 4, 0.02, chunk_size=4)
    assert curve.shape == (9, 5)
    for j in (0, 1, 4):
        torch.testing.assert_close(curve[:, j], maml_loss(model, p, batch, j, 0.02,
                                                          reduce=False).detach())
    phi = adapt(model, p, batch, 4, 0.02)
    pred = predict(model, phi, batch.x_query)
    assert pred.shape == (9, 8, 1)
    torch.testing.assert_close(((pred - batch.y_query) ** 2).mean((1, 2)), curve[:, 4])
    mean, half = mean_ci(curve)
    torch.testing.assert_close(half, 1.96 * curve.std(0) / math.sqrt(9))
    assert mean.shape == (5,)

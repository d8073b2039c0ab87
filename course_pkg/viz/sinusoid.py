"""The sinusoid explorer (chapter 7): watch a pretrained or a MAML network adapt to ≤ 5 points.

The target task is ``y = A sin(x − b)`` (:class:`course_pkg.tasks.SinusoidTasks`); the network is
``MLP(1, (40, 40), 1)``; fine-tuning is ``k`` SGD steps on the support points
(:func:`course_pkg.algorithms.core.inner_adapt`). In the static book the browser runs the same
steps with a small JavaScript MLP (``static/sinusoid.js``), checked against this module in
``tests/test_viz_browser.py``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch

from course_pkg.algorithms.core import forward, inner_adapt
from course_pkg.models import MLP
from course_pkg.tasks import SinusoidTasks
from course_pkg.utils import seeded
from course_pkg.viz._base import FigureLogic, FigureOutput, encode, make_figure, to_list

X_RANGE = (-5.0, 5.0)
N_GRID = 200
MAX_POINTS = 5
MAX_TEST_STEPS = 10
LABELS = {"pretrained": "pretrained (joint training)", "maml": "MAML"}


def untrained_models() -> dict[str, dict[str, Any]]:
    """Seeded, untrained ``MLP(1, (40, 40), 1)`` stand-ins for ``"pretrained"`` and ``"maml"``
    (``trained`` is ``False``; the figure says so). The trained checkpoints come from
    :func:`course_pkg.experiments.sinusoid.explorer_models`."""
    out: dict[str, dict[str, Any]] = {}
    for i, name in enumerate(("pretrained", "maml")):
        with seeded(i):
            net = MLP(1, (40, 40), 1)
        out[name] = {"state": {k: v.detach().clone() for k, v in net.named_parameters()},
                     "inner_lr": 0.01, "trained": False}
    return out


def adapt_sinusoid(
    state: Mapping[str, torch.Tensor],
    amplitude: float,
    phase: float,
    points: Sequence[float],
    test_steps: int,
    inner_lr: float,
    x_grid: torch.Tensor | None = None,
) -> dict[str, torch.Tensor]:
    """Fine-tune ``MLP(1, (40, 40), 1)`` from ``state`` on the support ``x = points``.

    ``test_steps`` SGD steps: test-time adaptation of a trained model to a new task (the name of
    book/notation.md).

    Targets are ``A sin(x − b)``. Returns ``{"x", "true", "before", "after"}`` on ``x_grid (N,)``
    and ``phi`` (the adapted parameters). With no points, ``after`` equals ``before``.
    """
    model = MLP(1, (40, 40), 1)
    theta = {k: torch.as_tensor(v, dtype=torch.float32) for k, v in state.items()}
    xg = x_grid if x_grid is not None else torch.linspace(*X_RANGE, N_GRID)
    xs = torch.as_tensor(list(points), dtype=torch.float32).reshape(-1, 1)
    amp, ph = torch.tensor(float(amplitude)), torch.tensor(float(phase))
    ys = SinusoidTasks.function(xs, amp, ph)
    phi = inner_adapt(model, theta, xs, ys, int(test_steps), inner_lr) if len(xs) else dict(theta)
    with torch.no_grad():
        before = forward(model, theta, xg[:, None])[:, 0]
        after = forward(model, phi, xg[:, None])[:, 0]
    return {"x": xg, "true": SinusoidTasks.function(xg, amp, ph), "before": before,
            "after": after, "ys": ys[:, 0], "phi": {k: v.detach() for k, v in phi.items()}}


class SinusoidExplorer(FigureLogic):
    """Figure 1: amplitude/phase sliders, ≤ 5 placed (mouse or keyboard) or random points and
    ``test_steps`` (k) fine-tuning steps of a trained model on that new task."""

    kind = "sinusoid"
    ranges = {"amplitude": (0.1, 5.0), "phase": (0.0, math.pi), "test_steps": (0, MAX_TEST_STEPS),
              "points": X_RANGE}

    def __init__(self, models: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        super().__init__()
        self.models = dict(models) if models is not None else untrained_models()
        if not self.models:
            raise ValueError("models must hold at least one {'state', 'inner_lr'} entry")
        self.x_grid = torch.linspace(*X_RANGE, N_GRID)
        self.spec = {
            "title": "Fine-tuning on a sinusoid from a few points",
            "x_range": list(X_RANGE), "n_grid": N_GRID, "max_points": MAX_POINTS,
            "max_test_steps": MAX_TEST_STEPS,
            "models": {name: {"label": LABELS.get(name, name), "inner_lr": float(m["inner_lr"]),
                              "trained": bool(m.get("trained", True)),
                              "weights": {k: encode(v) for k, v in m["state"].items()}}
                       for name, m in self.models.items()},
        }
        first = "maml" if "maml" in self.models else next(iter(self.models))
        self.controls = {"amplitude": 2.0, "phase": 1.0, "points": [-3.5, -1.0, 0.5, 2.0, 4.0],
                         "test_steps": 1, "model": first}

    def validate(self, controls: dict[str, Any]) -> dict[str, Any]:
        merged = super().validate(controls)
        if merged["model"] not in self.models:
            raise ValueError(f"sinusoid: model must be one of {sorted(self.models)}, "
                             f"got {merged['model']!r}")
        pts = [float(p) for p in merged["points"]]
        merged["points"] = pts[-MAX_POINTS:]  # oldest dropped first
        merged["test_steps"] = int(merged["test_steps"])
        return merged

    def compute(self, controls: dict[str, Any]) -> dict[str, Any]:
        m = self.models[controls["model"]]
        r = adapt_sinusoid(m["state"], controls["amplitude"], controls["phase"],
                           controls["points"], controls["test_steps"], m["inner_lr"], self.x_grid)
        mse = lambda pred: float(((pred - r["true"]) ** 2).mean())  # noqa: E731
        return {"true": to_list(r["true"], 5), "before": to_list(r["before"], 5),
                "after": to_list(r["after"], 5), "points": list(controls["points"]),
                "ys": to_list(r["ys"], 5), "mse_before": mse(r["before"]),
                "mse_after": mse(r["after"])}


def sinusoid_explorer(models: Mapping[str, Mapping[str, Any]] | None = None,
                      mode: str | None = None, **controls: Any
                      ) -> FigureOutput:
    """Figure: a network fine-tuned on ≤ 5 points of ``A sin(x − b)``, before/after ``k`` steps.

    ``models`` maps a name (``"pretrained"``, ``"maml"``) to ``{"state": state_dict of
    MLP(1, (40, 40), 1), "inner_lr": α, "trained": bool}``: pass
    :func:`course_pkg.experiments.sinusoid.explorer_models` for the committed checkpoints;
    default: untrained stand-ins (:func:`untrained_models`). ``controls`` (``amplitude``,
    ``phase``, ``points``, ``test_steps`` (k, the fine-tuning steps on the new task),
    ``model``) set the initial view.
    """
    return make_figure(SinusoidExplorer(models), mode, **controls)

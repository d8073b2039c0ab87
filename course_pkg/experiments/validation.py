"""Periodic validation and early stopping on meta-validation alphabets.

A ``validation`` config (see :mod:`course_pkg.experiments.fewshot.config`) names fixed episodes
of the ``val`` split and a stopping rule: evaluate every ``every`` iterations; once at least
``min_iterations`` ran, stop when the best accuracy so far exceeds the best accuracy of the first
three quarters of training by less than ``plateau_gain`` (the last quarter added less than
that). :class:`EarlyStopping` is the ``callback(iteration, params, history) -> stop?`` of
:func:`course_pkg.algorithms.training.meta_train`; it keeps the curve and the best parameters.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch

from course_pkg.tasks import TaskBatch

Params = dict[str, torch.Tensor]


def validation_episodes(vcfg: Mapping[str, Any], device: str | torch.device | None = None
                        ) -> TaskBatch:
    """The fixed validation episodes of ``vcfg`` (``n_way``-way ``k_support``-shot, ``k_query``
    queries per class, ``episodes`` tasks of split ``split``, seed ``seed``)."""
    from course_pkg.data import episodes

    return episodes(vcfg["split"], vcfg["n_way"], vcfg["k_support"], vcfg["k_query"],
                    vcfg["episodes"], seed=vcfg["seed"], device=device)


def last_quarter_gain(curve: list[list[float]]) -> float:
    """``max(acc) − max(acc over iterations ≤ ¾·t_end)`` of a curve ``[[iteration, acc], …]``:
    how much the last quarter of training added to the best validation accuracy."""
    if not curve:
        raise ValueError("empty validation curve")
    t_end = curve[-1][0]
    early = [a for t, a in curve if t <= 0.75 * t_end]
    return max(a for _, a in curve) - (max(early) if early else 0.0)


def plateau_reached(curve: list[list[float]], plateau_gain: float, min_iterations: int) -> bool:
    """The stopping rule: ``min_iterations`` ran and the last quarter gained < ``plateau_gain``."""
    return bool(curve) and curve[-1][0] >= min_iterations and \
        last_quarter_gain(curve) < plateau_gain


class EarlyStopping:
    """Validation callback: ``evaluate(params) -> accuracy`` every ``vcfg["every"]`` iterations.

    Call it as ``stop = es(iteration, params, history)`` after each update (``iteration``
    0-based, so ``iteration + 1`` updates are done); :meth:`start` records iteration 0.
    ``curve`` holds ``[updates, accuracy]`` pairs, ``best_params`` a copy of the parameters at
    the best accuracy (ties: the earliest), ``best_iteration`` when that was.
    """

    def __init__(self, vcfg: Mapping[str, Any], evaluate: Callable[[Mapping[str, torch.Tensor]],
                                                                   float],
                 max_iterations: int) -> None:
        self.every, self.min_iterations = int(vcfg["every"]), int(vcfg["min_iterations"])
        self.plateau_gain = float(vcfg["plateau_gain"])
        self.evaluate, self.max_iterations = evaluate, max_iterations
        self.curve: list[list[float]] = []
        self.best_params: Params | None = None
        self.best_iteration = -1
        self.stopped_early = False

    def _record(self, done: int, params: Mapping[str, torch.Tensor]) -> None:
        acc = float(self.evaluate(params))
        self.curve.append([done, round(acc, 5)])
        if self.best_params is None or acc > max(a for _, a in self.curve[:-1]):
            self.best_params = {k: v.detach().clone() for k, v in params.items()}
            self.best_iteration = done

    def start(self, params: Mapping[str, torch.Tensor]) -> None:
        """Evaluate the initial parameters (iteration 0)."""
        self._record(0, params)

    def __call__(self, iteration: int, params: Mapping[str, torch.Tensor],
                 history: Any = None) -> bool:
        done = iteration + 1
        if done % self.every and done != self.max_iterations:
            return False
        self._record(done, params)
        stop = plateau_reached(self.curve, self.plateau_gain, self.min_iterations)
        self.stopped_early = stop and done < self.max_iterations
        return stop

    def summary(self) -> dict[str, Any]:
        """Metrics for the checkpoint: the curve, best iteration/accuracy, last-quarter gain."""
        return {"validation": self.curve, "best_iteration": self.best_iteration,
                "best_validation_accuracy": max(a for _, a in self.curve),
                "last_quarter_gain": round(last_quarter_gain(self.curve), 5),
                "plateaued": plateau_reached(self.curve, self.plateau_gain, 0),
                "stopped_early": self.stopped_early}

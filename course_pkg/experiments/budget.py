"""Training to an equal compute budget, with a validation curve that can tell a plateau from noise.

Every learned model of the few-shot comparison trains for the same budget of CPU time of one
thread (``time.process_time()``; validation and snapshots excluded). A ``budget`` config::

    {"cpu_seconds": 1200, "evaluations": 12,
     "validation": {"split": "val", "n_way": 5, "k_support": 1, "k_query": 5,
                    "episodes": 500, "seed": 1}}

evaluates the fixed validation episodes at the start and each time another
``cpu_seconds / evaluations`` of training time is spent, keeps the parameters of the best
evaluation and stops at the budget. :class:`BudgetRun` is that ``callback`` of
:func:`course_pkg.algorithms.training.meta_train`.

*Budget mode* (first training) ends when the CPU time is spent, so the iteration count depends on
the machine; it is stored (``schedule``: the iterations at which validation ran, the last one is
the end). *Replay mode* (``schedule`` given: ``make weights``) runs exactly those iterations, so a
retrain gives the same parameters on any machine speed; given the first run's CPU times as well
(``recorded_cpu``), it keeps them as the record (``curve``, ``train_seconds``, ``status``) and
stores its own as ``replay_cpu_seconds``, so a replay on a faster machine describes the same
run. Each evaluation writes a *snapshot* (trainer state, curve, best parameters) when a
snapshot path is given; a run interrupted (Ctrl-C, a pre-empted node) resumes from its last
snapshot. In replay mode the resumed run ends with exactly the parameters of an uninterrupted
one.

:func:`curve_status` reads the curve: ``"plateau"`` when the best accuracy of the last third of
the budget is within the 95 % interval of the best accuracy before it, ``"rising"`` otherwise.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from course_pkg.utils import mean_ci
from course_pkg.utils.config import plain

Params = dict[str, torch.Tensor]
#: Where snapshots of runs in progress live (outside the repository).
RUNS_ENV = "COURSE_RUNS_DIR"


def runs_dir() -> Path:
    """``$COURSE_RUNS_DIR``, else ``~/.cache/course_pkg/runs``."""
    return Path(os.environ.get(RUNS_ENV) or Path.home() / ".cache" / "course_pkg" / "runs")


def ci95(per_episode: torch.Tensor) -> tuple[float, float]:
    """``(mean, half-width)`` of :func:`course_pkg.utils.mean_ci` (``1.96 · s / √n``) over the
    episodes ``per_episode (n,)``, with an infinite half-width for a single episode (one
    accuracy says nothing about a plateau). Raises ``ValueError`` for no episodes."""
    x = per_episode.detach().flatten()
    if x.numel() == 0:
        raise ValueError("no episodes to average")
    mean, half = mean_ci(x)
    return mean, (half if x.numel() > 1 else float("inf"))


def curve_status(curve: Sequence[Sequence[float]], half_widths: Sequence[float],
                 budget_s: float) -> str:
    """``"plateau"`` or ``"rising"`` for a validation ``curve`` ``[[iterations, cpu_s, acc], …]``.

    The last third is the points after ``2/3 · budget_s`` CPU seconds. ``"plateau"`` when its best
    accuracy exceeds the best accuracy before it by at most that point's 95 % half-width
    (``half_widths[i]`` belongs to ``curve[i]``); ``"rising"`` otherwise.
    """
    if len(curve) != len(half_widths) or len(curve) < 2:
        raise ValueError("need a curve of at least 2 points, with one half-width per point")
    cut = 2.0 * budget_s / 3.0
    before = [i for i, p in enumerate(curve) if p[1] <= cut]
    last = [i for i, p in enumerate(curve) if p[1] > cut]
    if not before or not last:
        raise ValueError(f"the curve does not reach past 2/3 of the budget ({cut:.0f} s)")
    b = max(before, key=lambda i: (curve[i][2], -i))
    best_last = max(curve[i][2] for i in last)
    return "plateau" if best_last <= curve[b][2] + half_widths[b] else "rising"


class BudgetRun:
    """``meta_train`` callback: the CPU budget, validation at budget marks, best parameters,
    snapshots.

    ``evaluate(params) -> (E,)`` per-episode validation accuracies. ``schedule`` (replay mode):
    the iteration counts at which to validate, the last one ends the run; ``recorded_cpu`` (with
    it): the first run's CPU seconds at the start and at each of those iterations, recorded in
    place of this run's. ``snapshot`` (a path) is written at every evaluation; ``extra`` is
    stored in it (e.g. the run's config).
    """

    def __init__(self, budget: Mapping[str, Any],
                 evaluate: Callable[[Mapping[str, torch.Tensor]], torch.Tensor],
                 schedule: Sequence[int] | None = None, snapshot: str | Path | None = None,
                 extra: Mapping[str, Any] | None = None, progress: bool = False,
                 recorded_cpu: Sequence[float] | None = None) -> None:
        self.budget_s = float(budget["cpu_seconds"])
        self.evaluations = int(budget["evaluations"])
        if self.budget_s <= 0 or self.evaluations < 1:
            raise ValueError("budget needs cpu_seconds > 0 and evaluations ≥ 1")
        self.evaluate, self.progress = evaluate, progress
        self.schedule = None if schedule is None else [int(s) for s in schedule]
        if self.schedule is not None and (not self.schedule or self.schedule != sorted(
                set(self.schedule)) or self.schedule[0] < 1):
            raise ValueError(f"schedule must be increasing iteration counts ≥ 1: {schedule}")
        self.recorded_cpu = None if recorded_cpu is None else [float(c) for c in recorded_cpu]
        if self.recorded_cpu is not None and (
                self.schedule is None or len(self.recorded_cpu) != len(self.schedule) + 1):
            raise ValueError("recorded_cpu needs a schedule and one time per point (the start "
                             f"and each of {schedule}), got {recorded_cpu}")
        self.snapshot = None if snapshot is None else Path(snapshot)
        self.extra = dict(extra or {})
        self.cpu_used = 0.0
        self.curve: list[list[float]] = []       # [iterations, cpu_seconds, accuracy]
        self.half_widths: list[float] = []
        self.best_params: Params | None = None
        self.best_iteration = -1
        self._last = time.process_time()
        self._get_state: Callable[[], dict[str, Any]] | None = None

    # -- meta_train protocol ------------------------------------------------------------
    def bind(self, get_state: Callable[[], dict[str, Any]]) -> None:
        """Called by ``meta_train`` with its state getter (for snapshots)."""
        self._get_state = get_state

    def start(self, params: Mapping[str, torch.Tensor]) -> None:
        """Validate the initial parameters (iteration 0); starts the CPU clock."""
        self._record(0, params)

    def __call__(self, iteration: int, params: Mapping[str, torch.Tensor],
                 history: Any = None) -> bool:
        now = time.process_time()
        self.cpu_used += now - self._last
        self._last = now
        done = iteration + 1
        if self.schedule is not None:
            if done not in self.schedule:
                return False
            self._record(done, params)
            return done >= self.schedule[-1]
        marks = len(self.curve)  # evaluations so far, counting the one at the start
        if self.cpu_used < self.budget_s * marks / self.evaluations:
            return False
        self._record(done, params)
        return marks >= self.evaluations

    # -- bookkeeping ----------------------------------------------------------------------
    def _record(self, done: int, params: Mapping[str, torch.Tensor]) -> None:
        acc, hw = ci95(self.evaluate(params))
        cpu = (self.recorded_cpu[len(self.curve)] if self.recorded_cpu is not None
               else round(self.cpu_used, 2))
        self.curve.append([done, cpu, round(acc, 5)])
        self.half_widths.append(round(hw, 5))
        if self.best_params is None or acc > max(p[2] for p in self.curve[:-1]):
            self.best_params = {k: v.detach().cpu().clone() for k, v in params.items()}
            self.best_iteration = done
        if self.progress:
            print(f"  [{self.extra.get('name', 'run')}] it {done}: validation {100 * acc:.1f} "
                  f"± {100 * hw:.1f} % at {self.cpu_used:.0f} CPU-s", flush=True)
        if self.snapshot is not None and self._get_state is not None and done > 0:
            self._write_snapshot()
        self._last = time.process_time()  # validation and snapshots are not training time

    def _write_snapshot(self) -> None:
        self.snapshot.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.snapshot.with_suffix(".tmp")
        torch.save({"trainer": self._get_state(), "run": self.state_dict()}, tmp)
        os.replace(tmp, self.snapshot)

    def state_dict(self) -> dict[str, Any]:
        """What a resumed run needs besides the trainer: clock, curve, best parameters."""
        return {"cpu_used": self.cpu_used, "curve": self.curve, "half_widths": self.half_widths,
                "best_params": self.best_params, "best_iteration": self.best_iteration,
                "extra": json.loads(json.dumps(plain(self.extra)))}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore :meth:`state_dict` (from a snapshot)."""
        self.cpu_used = float(state["cpu_used"])
        self.curve = [list(p) for p in state["curve"]]
        self.half_widths = list(state["half_widths"])
        self.best_params = state["best_params"]
        self.best_iteration = int(state["best_iteration"])
        self._last = time.process_time()

    def summary(self) -> dict[str, Any]:
        """Metrics stored with the checkpoint (see the module docstring)."""
        if self.recorded_cpu is not None:  # a replay keeps the first run's record
            return {**self._summary(self.recorded_cpu[-1], self.budget_s),
                    "replay_cpu_seconds": round(self.cpu_used, 1)}
        return self._summary(self.cpu_used, self.curve[-1][1] if self.schedule else self.budget_s)

    def _summary(self, cpu: float, status_budget: float) -> dict[str, Any]:
        iterations = self.curve[-1][0]
        return {"budget_s": self.budget_s, "train_seconds": round(cpu, 1),
                "iterations": iterations, "schedule": [p[0] for p in self.curve[1:]],
                "curve": self.curve, "validation_ci95": self.half_widths,
                "best_iteration": self.best_iteration,
                "best_validation_accuracy": max(p[2] for p in self.curve),
                "status": curve_status(self.curve, self.half_widths, status_budget)}


def load_snapshot(path: str | Path, extra: Mapping[str, Any]) -> dict[str, Any] | None:
    """The snapshot at ``path`` if it exists and was written for ``extra`` (e.g. the same
    config); ``None`` otherwise."""
    p = Path(path)
    if not p.exists():
        return None
    snap = torch.load(p, map_location="cpu", weights_only=False)
    if snap["run"]["extra"] != json.loads(json.dumps(plain(extra))):
        return None
    return snap

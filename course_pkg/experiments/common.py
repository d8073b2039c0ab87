"""What every family of runs shares: the scale switch and the command-line protocol.

A *family* is one module of :mod:`course_pkg.experiments` (``sinusoid``, ``glyphs``, ``fewshot``,
``rl``) listed in :data:`course_pkg.experiments.registry.FAMILIES`. It provides

- ``HELP: str`` — one line for ``python -m course_pkg.train list``;
- ``add_arguments(parser)`` — its own flags (the common ones below exist already);
- ``run(args) -> list[str]`` — train what the flags ask for, return the checkpoint names;
- ``run_all(args) -> list[str]`` — retrain every checkpoint the chapters load (``make weights``).

Common flags (:func:`add_common_arguments`): ``--scale``, ``--device``, ``--threads``,
``--quiet``, ``--iterations N`` (override the iteration count, e.g. for a short run; the
override is part of the stored config, so the chapters do not load such a checkpoint) and
``--out DIR`` (write ``DIR/<name>.pt`` and ``DIR/<name>.json`` instead of
``course_pkg/weights``).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from course_pkg.utils.scale import SCALE_ENV, SCALES, resolve_scale

__all__ = ["SCALES", "SCALE_ENV", "Loaded", "add_common_arguments", "positive_int",
           "resolve_scale"]


@dataclass
class Loaded:
    """A trained model of any family, loaded from its checkpoint or trained just now.

    ``model`` (on its device), ``params`` (the dict its functional calls take), ``config`` (the
    stored config, the cache key), ``meta = {"config", "metrics", "loaded"}``, and
    ``inner_lr``: the step size test-time adaptation uses where the family has one (α, or
    Meta-SGD's learned per-parameter rates).
    """

    model: nn.Module
    params: dict[str, torch.Tensor]
    config: dict[str, Any]
    meta: dict[str, Any]
    inner_lr: float | dict[str, torch.Tensor] | None = None

    @property
    def loaded(self) -> bool:
        """True when it came from a stored checkpoint (not trained in this call)."""
        return bool(self.meta.get("loaded"))

    @property
    def metrics(self) -> dict[str, Any]:
        """The metrics stored with the checkpoint."""
        return self.meta.get("metrics", {})

    @property
    def train_seconds(self) -> float | None:
        """Training time stored with the checkpoint (CPU seconds under the equal budget)."""
        return self.metrics.get("train_seconds")

    def __repr__(self) -> str:
        what = self.config.get("method") or "model"
        return f"Loaded({what}, loaded={self.loaded})"


def positive_int(text: str) -> int:
    """argparse type: an integer ≥ 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be ≥ 1, got {value}")
    return value


def add_common_arguments(p: argparse.ArgumentParser) -> None:
    """The flags every training subcommand accepts (see the module docstring)."""
    p.add_argument("--scale", type=str.lower, choices=SCALES, default=None,
                   help=f"cpu (default) or paper; also ${SCALE_ENV}")
    p.add_argument("--device", default=None, help="cpu, cuda, mps (default: get_device())")
    p.add_argument("--threads", type=positive_int, default=None,
                   help="torch CPU threads (default on the CPU: 1, the fastest for these models)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--iterations", type=positive_int, default=None,
                   help="override the number of training iterations (stored in the config)")
    p.add_argument("--out", "--weights-dir", dest="out", default=None, metavar="DIR",
                   help="write DIR/<name>.pt and DIR/<name>.json instead of course_pkg/weights")

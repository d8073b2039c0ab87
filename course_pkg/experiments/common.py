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
import os

SCALE_ENV = "COURSE_SCALE"
SCALES = ("cpu", "paper")


def resolve_scale(scale: str | None = None) -> str:
    """``scale`` argument, else ``$COURSE_SCALE``, else ``"cpu"``; must be cpu or paper."""
    s = (scale or os.environ.get(SCALE_ENV) or "cpu").lower()
    if s not in SCALES:
        raise ValueError(f"scale must be 'cpu' or 'paper' (argument or ${SCALE_ENV}), got {s!r}")
    return s


def positive_int(text: str) -> int:
    """argparse type: an integer ≥ 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be ≥ 1, got {value}")
    return value


def add_common_arguments(p: argparse.ArgumentParser) -> None:
    """The flags every training subcommand accepts (see the module docstring)."""
    p.add_argument("--scale", choices=SCALES, default=None,
                   help=f"cpu (default) or paper; also ${SCALE_ENV}")
    p.add_argument("--device", default=None, help="cpu, cuda, mps (default: get_device())")
    p.add_argument("--threads", type=positive_int, default=None,
                   help="torch CPU threads (default on the CPU: 1, the fastest for these models)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--iterations", type=positive_int, default=None,
                   help="override the number of training iterations (stored in the config)")
    p.add_argument("--out", "--weights-dir", dest="out", default=None, metavar="DIR",
                   help="write DIR/<name>.pt and DIR/<name>.json instead of course_pkg/weights")

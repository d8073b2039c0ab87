"""Registers the meta-RL checkpoints with ``python -m course_pkg.train`` (and ``make weights``).

``python -m course_pkg.train rl [--names maml-nav rl2-bandit ...]`` is the same as
``python -m course_pkg.rl train ...``; ``python -m course_pkg.train all`` retrains all of them.
"""

from __future__ import annotations

import argparse

from course_pkg.rl.train import CONFIGS, checkpoint_name, train
from course_pkg.train import register_experiment


def _add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--names", nargs="+", choices=list(CONFIGS), default=list(CONFIGS),
                   help="which meta-RL checkpoints to train (default: all)")


def _run(args: argparse.Namespace) -> list[str]:
    names = getattr(args, "names", None) or list(CONFIGS)
    written = []
    for name in names:
        metrics = train(name, args.scale, args.device, progress=not args.quiet,
                        directory=args.weights_dir)
        print(f"{checkpoint_name(name, args.scale)}: trained in {metrics['train_seconds']} s")
        written.append(checkpoint_name(name, args.scale))
    return written


register_experiment(
    "rl", "meta-RL: MAML-PG on 2-D navigation, multi-task baseline, RL² on bandits",
    _add_arguments, _run,
)

"""Command line of the few-shot family (``python -m course_pkg.train fewshot …``), written
against the public functions of :mod:`course_pkg.experiments.fewshot`.

Stop-gap until ``fewshot.py`` provides the family protocol itself (``HELP``,
``add_arguments``, ``run``, ``run_all``; see :mod:`course_pkg.experiments.common`); then
:data:`course_pkg.experiments.registry.FAMILIES` points at ``fewshot`` and this file goes.

- ``fewshot`` (no ``--algo``): train every ``fewshot_*`` checkpoint and rewrite the table.
- ``fewshot --algo maml --n-way 5``: train just that model (``--iterations``/``--out`` apply).
"""

from __future__ import annotations

import argparse

from course_pkg.checkpoints import save_checkpoint
from course_pkg.experiments import fewshot, fewshot_results

HELP = "few-shot glyph classification: every fewshot_* model and the results table"


def add_arguments(p: argparse.ArgumentParser) -> None:
    """``--algo METHOD`` and ``--n-way N`` train one model; ``--no-table`` skips the table."""
    p.add_argument("--algo", default=None,
                   help="train only this method's model (maml, fomaml, reptile, protonet, …)")
    p.add_argument("--n-way", type=int, default=5, choices=(5, 20),
                   help="with --algo: the model for N-way episodes (default 5)")
    p.add_argument("--no-table", action="store_true", help="do not rewrite the table")


def _train_one(args: argparse.Namespace) -> list[str]:
    cfg = fewshot.method_config(args.algo, args.n_way, args.scale)
    if args.iterations is not None:
        if "iterations" not in cfg:
            raise SystemExit(f"fewshot --algo {args.algo}: its config has no iterations")
        cfg["iterations"] = args.iterations
    name = fewshot.checkpoint_name(args.algo, args.n_way, args.scale)
    state, metrics = fewshot.train_model(cfg, args.device, not args.quiet)
    save_checkpoint(name, state, cfg, metrics, args.out)
    print(f"{name}: trained ({metrics.get('train_seconds')} s)")
    return [name]


def run(args: argparse.Namespace) -> list[str]:
    """One model with ``--algo``; otherwise every checkpoint and the table."""
    if args.algo is not None:
        return _train_one(args)
    if args.iterations is not None:
        raise SystemExit("fewshot: --iterations needs --algo (one model at a time)")
    names = fewshot.train_all(args.scale, args.device, True, not args.quiet, args.out)
    if not args.no_table and args.out is None:
        table = fewshot_results.fewshot_table(args.scale, False, None, args.device,
                                              not args.quiet)
        fewshot_results.write_table(table)
    return names


def run_all(args: argparse.Namespace) -> list[str]:
    """Every ``fewshot_*`` checkpoint and the table."""
    return run(argparse.Namespace(**{**vars(args), "algo": None, "no_table": False}))

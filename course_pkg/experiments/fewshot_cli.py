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
from collections.abc import Sequence

import torch

from course_pkg.checkpoints import save_checkpoint
from course_pkg.experiments import fewshot, fewshot_results
from course_pkg.utils import get_device

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


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m course_pkg.experiments``: the few-shot table's own command line."""
    parser = argparse.ArgumentParser(prog="python -m course_pkg.experiments",
                                     description=fewshot.__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--scale", choices=("cpu", "paper"), default=None,
                        help=f"cpu (default) or paper; also ${fewshot.SCALE_ENV}")
    common.add_argument("--device", default=None, help="cpu, cuda, mps (default: get_device())")
    common.add_argument("--threads", type=int, default=None,
                        help="torch CPU threads (default on a CPU: 1, the fastest for these "
                             "small convolutions, especially on a busy machine)")
    common.add_argument("--retrain", action="store_true", help="retrain even if checkpoints match")
    common.add_argument("--quiet", action="store_true", help="no progress output")
    t = sub.add_parser("fewshot-table", parents=[common],
                       help="train/load every method, evaluate, write course_pkg/results/")
    t.add_argument("--methods", nargs="+", default=None, choices=list(fewshot.METHODS),
                   help="only these rows (the files are written only for the full table)")
    t.add_argument("--out", default=None, help="folder for the JSON/Markdown (default "
                                                "course_pkg/results)")
    ta = sub.add_parser("train-all", parents=[common],
                        help="train (or load) every fewshot_* checkpoint, table and chapters")
    ta.add_argument("--methods", nargs="+", default=None, choices=fewshot.trainable_methods(),
                    help="only these methods, in this order")
    tr = sub.add_parser("train", parents=[common], help="train (or load) one checkpoint")
    methods = dict.fromkeys((*fewshot.METHODS, *fewshot.TRAIN["cpu"]))  # each once, in order
    tr.add_argument("method", choices=[m for m in methods if m != "nn_pixels"])
    tr.add_argument("--n-way", type=int, default=5, choices=(5, 20))
    args = parser.parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    elif get_device(args.device).type == "cpu":
        torch.set_num_threads(1)
    if args.command == "train-all":
        fewshot.train_all(args.scale, args.device, args.retrain, not args.quiet,
                          methods=args.methods)
        return 0
    if args.command == "train":
        m = fewshot.load_model(args.method, args.n_way, args.scale, args.device, args.retrain,
                       progress=not args.quiet)
        print(f"{fewshot.checkpoint_name(args.method, args.n_way, args.scale)}: "
              f"{'loaded' if m.meta['loaded'] else 'trained'}; metrics "
              f"{ {k: v for k, v in m.meta['metrics'].items() if 'curve' not in k} }")
        return 0
    table = fewshot_results.fewshot_table(args.scale, args.retrain, args.methods, args.device,
                          progress=not args.quiet)
    print(fewshot_results.table_markdown(table))
    if args.methods is None or args.out is not None:
        js, md = fewshot_results.write_table(table, args.out)
        print(f"wrote {js} and {md}")
    return 0

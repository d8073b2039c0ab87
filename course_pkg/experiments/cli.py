"""``python -m course_pkg.train <family> …``: train the checkpoints the chapters load.

Examples::

    python -m course_pkg.train sinusoid --method maml --k-support 10     # CPU default, seconds
    python -m course_pkg.train sinusoid --method maml --iterations 20 --out /tmp/w   # short run
    python -m course_pkg.train sinusoid --method maml --scale paper      # 70k iterations (GPU)
    python -m course_pkg.train fewshot --method maml --n-way 5           # one few-shot model
    python -m course_pkg.train rl --names maml-nav                     # one meta-RL policy
    python -m course_pkg.train all                                     # every checkpoint
    python -m course_pkg.train list

Every training subcommand takes ``--scale``, ``--device``, ``--threads``, ``--quiet``,
``--iterations N`` (a shorter or longer run; the count is stored in the checkpoint's config) and
``--out DIR`` (write ``DIR/<name>.pt`` and ``DIR/<name>.json``, the config and metrics, instead of
``course_pkg/weights``). ``--scale paper`` (or ``COURSE_SCALE=paper``) switches to the papers'
settings. Chapters call the same loaders, so they load a committed checkpoint when its stored
config matches and train otherwise. The families are listed in
:data:`course_pkg.experiments.registry.FAMILIES`.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from course_pkg.experiments.common import add_common_arguments, resolve_scale
from course_pkg.experiments.registry import FAMILIES
from course_pkg.utils import set_threads


def build_parser() -> argparse.ArgumentParser:
    """The parser with one subcommand per family, plus ``all`` and ``list``."""
    parser = argparse.ArgumentParser(prog="python -m course_pkg.train", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    common = argparse.ArgumentParser(add_help=False)
    add_common_arguments(common)
    sub = parser.add_subparsers(dest="experiment", required=True)
    sub.add_parser("list", help="list the families of runs")
    sub.add_parser("all", parents=[common], help="retrain every checkpoint the chapters load")
    for name, family in FAMILIES.items():
        family.add_arguments(sub.add_parser(name, parents=[common], help=family.HELP))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv``, apply the thread policy once, run the family; print what was written."""
    args = build_parser().parse_args(argv)
    if args.experiment == "list":
        for name, family in FAMILIES.items():
            print(f"{name:12s} {family.HELP}")
        return 0
    args.scale = resolve_scale(args.scale)
    set_threads(args.threads, args.device)
    if args.experiment == "all":
        written = []
        for family in FAMILIES.values():
            written += family.run_all(args)
    else:
        written = FAMILIES[args.experiment].run(args)
    print("wrote:", ", ".join(written) if written else "nothing")
    return 0

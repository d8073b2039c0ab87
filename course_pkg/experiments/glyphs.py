"""Chapter 2's run on the glyph data: the table of fine-tuning design choices, computed on the
pre-trained Conv4 that the few-shot table's baselines share (``fewshot_pretrained_conv4``).

``python -m course_pkg.train glyphs`` recomputes ``glyphs_finetune_table`` (loading the
pre-trained Conv4, or training it when missing or stale). The code and the stored configs are
those of :mod:`course_pkg.experiments.transfer`.
"""

from __future__ import annotations

import argparse

from course_pkg.experiments.fewshot.train import load_model
from course_pkg.experiments.transfer import design_choice_table

HELP = ("chapter 2: the table of fine-tuning design choices on the shared pre-trained Conv4 "
        "(a few CPU-minutes)")


def add_arguments(p: argparse.ArgumentParser) -> None:
    """No flags of its own."""


def run(args: argparse.Namespace) -> list[str]:
    """Recompute the design-choice table (the pre-trained Conv4 is loaded or trained)."""
    if args.iterations is not None:
        raise SystemExit("glyphs: the design-choice table has no training iterations; "
                         "--iterations does not apply to this family")
    load_model("pretrained", device=args.device, progress=not args.quiet, directory=args.out)
    _, meta = design_choice_table(recompute=True, progress=not args.quiet, directory=args.out,
                                  device=args.device)
    for row, (m, ci) in meta["metrics"]["mean_ci95"].items():
        print(f"  {row:<50} {100 * m:5.1f} ± {100 * ci:.1f} %")
    return ["glyphs_finetune_table"]


run_all = run

"""Chapter 2's runs on the glyph data: the Conv4 pre-trained on every meta-training class and the
table of fine-tuning design choices (about 10 CPU-minutes in all).

``python -m course_pkg.train glyphs`` retrains both checkpoints (``glyphs_conv4_pretrained``,
``glyphs_finetune_table``). The training code and the stored configs are those of
:func:`course_pkg.algorithms.finetune.pretrained_conv4` and
:func:`~course_pkg.algorithms.finetune.design_choice_table`.
"""

from __future__ import annotations

import argparse

from course_pkg.algorithms.finetune import design_choice_table, pretrained_conv4

HELP = ("chapter 2: Conv4 pre-trained on the glyph meta-training classes and the table of "
        "fine-tuning design choices (about 10 CPU-minutes)")


def add_arguments(p: argparse.ArgumentParser) -> None:
    """No flags of its own."""


def run(args: argparse.Namespace) -> list[str]:
    """Retrain the pre-trained Conv4 and recompute the design-choice table."""
    if args.iterations is not None:
        raise SystemExit("glyphs: pre-training runs for a number of epochs, not iterations; "
                         "--iterations does not apply to this family")
    _, meta = pretrained_conv4(retrain=True, device=args.device, progress=not args.quiet,
                               directory=args.out)
    print(f"glyphs_conv4_pretrained: metrics {meta['metrics']}")
    _, meta = design_choice_table(recompute=True, progress=not args.quiet, directory=args.out,
                                  device=args.device)
    for row, (m, ci) in meta["metrics"]["mean_ci95"].items():
        print(f"  {row:<50} {100 * m:5.1f} ± {100 * ci:.1f} %")
    return ["glyphs_conv4_pretrained", "glyphs_finetune_table"]


run_all = run

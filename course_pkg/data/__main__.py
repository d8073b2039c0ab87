"""Command line: ``python -m course_pkg.data {glyphs,omniglot} ...``.

- ``glyphs [--out DIR] [--seed S] [--instances K] [--force]``: build (or verify) the offline glyph
  set, print the classes per alphabet and split and the SHA-256 checksum.
- ``omniglot [--root DIR]``: check a local Omniglot folder and print its splits.

Chapter 2's pre-trained Conv4 and its table of fine-tuning design choices are runs, not data:
``python -m course_pkg.train fewshot --method pretrained`` and ``python -m course_pkg.train
glyphs`` (:mod:`course_pkg.experiments.transfer`).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter

from course_pkg.data.datasets import (
    GLYPH_SPLIT_ALPHABETS,
    GLYPHS_SHA256,
    FewShotImages,
    build_glyphs,
    glyphs,
)


def _table(splits: dict[str, FewShotImages]) -> str:
    lines = [f"{'split':<6} {'alphabet':<24} {'classes':>7} {'images':>7}"]
    for split, data in splits.items():
        per_class = Counter(data.class_alphabet)
        counts = data.class_counts()
        for a in data.alphabets:
            imgs = sum(int(counts[c]) for c, ca in enumerate(data.class_alphabet) if ca == a)
            lines.append(f"{split:<6} {a:<24} {per_class[a]:>7} {imgs:>7}")
        lines.append(f"{split:<6} {'(total)':<24} {data.num_classes:>7} {len(data):>7}")
    return "\n".join(lines)


def _glyphs(args: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    path, digest, generated = build_glyphs(args.out, args.seed, args.instances, force=args.force)
    seconds = time.perf_counter() - t0
    data = glyphs(args.out, args.seed, args.instances)
    print(_table(data.split_by_alphabet(GLYPH_SPLIT_ALPHABETS)))
    print(f"total: {data.num_classes} classes in {len(data.alphabets)} alphabets, "
          f"{len(data)} images of {data.images.shape[1]}×{data.images.shape[2]}")
    how = f"generated in {seconds:.1f} s" if generated else "read from the cache"
    print(f"file: {path} ({path.stat().st_size / 1e6:.1f} MB, {how})")
    print(f"sha256: {digest}")
    if args.seed == 0 and args.instances == 20:
        print("matches the reference checksum" if digest == GLYPHS_SHA256
              else f"DIFFERS from the reference checksum {GLYPHS_SHA256}")
    return 0


def _omniglot(args: argparse.Namespace) -> int:
    from course_pkg.data.omniglot import omniglot_dir, omniglot_splits

    try:
        splits = omniglot_splits(args.root)
    except (FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"Omniglot at {omniglot_dir(args.root)}")
    print(_table(splits))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_pkg.data", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    g = sub.add_parser("glyphs", help="build the offline glyph set and print its checksum")
    g.add_argument("--out", default=None, help="cache folder (default $COURSE_DATA_DIR/glyphs "
                   "or ~/.cache/course_pkg/glyphs)")
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--instances", type=int, default=20, help="images per class")
    g.add_argument("--force", action="store_true", help="regenerate even if cached")
    g.set_defaults(func=_glyphs)
    o = sub.add_parser("omniglot", help="check a local Omniglot folder")
    o.add_argument("--root", default=None, help="folder (default $COURSE_OMNIGLOT_DIR)")
    o.set_defaults(func=_omniglot)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    raise SystemExit(main())

"""Command line of the classroom tools.

    python -m course_pkg.classroom release DEST [--message MSG]     # make release DEST=...
    python -m course_pkg.classroom links --hub URL --repo URL [--json]
    python -m course_pkg.classroom gradescope-zip EX [--out ZIP]   # make gradescope EX=...
    python -m course_pkg.classroom gradescope --exercise EX [--base /autograder]
    python -m course_pkg.classroom prairielearn [--exercise EX] [--base /grade]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m course_pkg.classroom",
                                     description="Student release and hub links.")
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("release", help="write the student release (a git repository) to DEST")
    p.add_argument("dest")
    p.add_argument("--message", default=None, help="commit message of this release")
    p = sub.add_parser("links", help="print an nbgitpuller link for every chapter and exercise")
    p.add_argument("--hub", required=True, help="the JupyterHub URL, e.g. https://hub.example.edu")
    p.add_argument("--repo", required=True, help="the student release's git URL")
    p.add_argument("--branch", default="main")
    p.add_argument("--json", action="store_true", help="JSON {page: link} instead of Markdown")
    p = sub.add_parser("gradescope-zip", help="write the Gradescope autograder zip of an exercise")
    p.add_argument("exercise")
    p.add_argument("--out", default=None, help="zip path (default autograder/<EX>-gradescope.zip)")
    p = sub.add_parser("gradescope", help="grade /autograder/submission (Gradescope's run)")
    p.add_argument("--exercise", required=True)
    p.add_argument("--base", default="/autograder")
    p = sub.add_parser("prairielearn", help="grade /grade/student (PrairieLearn's external grader)")
    p.add_argument("--exercise", default=None, help="default: params.exercise of data.json")
    p.add_argument("--base", default="/grade")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    root = Path.cwd()
    if args.cmd == "release":
        from .release import ReleaseError, make_release

        try:
            rel = make_release(root, Path(args.dest), message=args.message)
        except ReleaseError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        what = "committed" if rel.changed else "unchanged, nothing to commit"
        print(f"student release in {rel.dest}: {rel.files} files ({rel.learner_files} learner "
              f"copies in learner/), no solution code or hidden test found; {what} at "
              f"{rel.commit[:10]} on branch main")
        return 0
    if args.cmd in ("gradescope", "prairielearn", "gradescope-zip"):
        from . import platforms

        if args.cmd == "gradescope":
            return platforms.gradescope_main(Path(args.base), args.exercise)
        if args.cmd == "prairielearn":
            return platforms.prairielearn_main(Path(args.base), args.exercise)
        out = Path(args.out or root / "autograder" / f"{args.exercise}-gradescope.zip")
        try:
            platforms.build_gradescope_zip(args.exercise, out, root)
        except FileNotFoundError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        print(f"Gradescope autograder for {args.exercise} written to {out}")
        return 0
    from .links import links_json, links_markdown

    try:
        fn = links_json if args.json else links_markdown
        print(fn(root, args.hub, args.repo, args.branch))
    except (ValueError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

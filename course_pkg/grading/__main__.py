"""Command line of the course's exercise tooling.

    python -m course_pkg.grading assign-all                 # make exercises
    python -m course_pkg.grading assign ex01_supervised_learning
    python -m course_pkg.grading grade NB [--json OUT]      # make grade NB=...
    python -m course_pkg.grading NB                         # same as `grade NB`
    python -m course_pkg.grading grade-all DIR --csv OUT [--jobs N] [--insecure]
    python -m course_pkg.grading autograder EX [--out ZIP]  # make autograder EX=...
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .grade import (
    DEFAULT_GRADER_MEM_MB,
    DEFAULT_MEM_MB,
    DEFAULT_TIMEOUT_PER_CELL,
    DEFAULT_TOTAL_TIMEOUT,
    GradeReport,
    GradingError,
    bound_grader,
    default_json_path,
    grade_notebook,
    write_json,
)
from .paths import course_root
from .report import safe_text


def _limits(p: argparse.ArgumentParser) -> None:
    p.add_argument("--timeout-per-cell", type=float, default=DEFAULT_TIMEOUT_PER_CELL, metavar="S",
                   help="seconds each code cell and each question's tests may run "
                        f"(default {DEFAULT_TIMEOUT_PER_CELL:g})")
    p.add_argument("--mem-mb", type=int, default=DEFAULT_MEM_MB, metavar="M",
                   help="address-space cap of the grading kernel in MB, 0 for none "
                        f"(default {DEFAULT_MEM_MB}; importing torch alone takes ~3.2 GB)")
    p.add_argument("--total-timeout", type=float, default=DEFAULT_TOTAL_TIMEOUT, metavar="S",
                   help=f"seconds for one notebook in all (default {DEFAULT_TOTAL_TIMEOUT:g})")
    p.add_argument("--exercise", default=None,
                   help="exercise name (default: from the file name; the notebook's metadata is "
                        "only compared, never trusted)")
    p.add_argument("--grader-mem-mb", type=int, default=DEFAULT_GRADER_MEM_MB, metavar="M",
                   help="address-space cap of the trusted grader process itself in MB, 0 for "
                        f"none (default {DEFAULT_GRADER_MEM_MB})")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m course_pkg.grading",
        description="Generate exercises from their masters and grade notebooks.",
    )
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("assign-all", help="regenerate every exercise from solutions/masters/")
    p = sub.add_parser("assign", help="regenerate one exercise")
    p.add_argument("name", nargs="+", help="master name (ex01_supervised_learning) or path")
    p = sub.add_parser("grade", help="grade one notebook: table + JSON report")
    p.add_argument("notebook")
    p.add_argument("--json", default=None, metavar="OUT",
                   help="JSON report path (default grades/<notebook stem>.json)")
    p.add_argument("--quiet", action="store_true", help="write the JSON report only")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--sandbox", dest="sandbox", action="store_const", const=True, default=None,
                   help="require the bubblewrap sandbox (fail when it does not work)")
    g.add_argument("--insecure", dest="sandbox", action="store_const", const=False,
                   help="run the notebook without the sandbox (not tamper-proof)")
    _limits(p)
    p = sub.add_parser("grade-all", help="grade every notebook of a folder into one CSV")
    p.add_argument("folder")
    p.add_argument("--csv", required=True, metavar="OUT", help="CSV file to write")
    p.add_argument("--json-dir", default=None,
                   help="also write one JSON report per notebook under this folder")
    p.add_argument("--jobs", type=int, default=None, metavar="N",
                   help="notebooks graded at a time (default: the number of CPU cores)")
    p.add_argument("--insecure", action="store_true",
                   help="grade even when the sandbox does not work (trusted notebooks only)")
    _limits(p)
    p = sub.add_parser("autograder", help="write an otter autograder zip (Gradescope)")
    p.add_argument("name", help="exercise name, e.g. ex01_supervised_learning")
    p.add_argument("--out", default=None, help="zip path (default autograder/<name>.zip)")
    return parser


def main(argv: list[str] | None = None, bound: bool = False) -> int:
    """The command line. ``bound``: the ``grade`` command caps this process's memory and starts
    its watchdog (:func:`~course_pkg.grading.grade.bound_grader`); only the process entry point
    sets it, never a caller that imports ``main`` (a test run would inherit the caps)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0].endswith(".ipynb"):  # `python -m course_pkg.grading NB` = grade NB
        argv = ["grade", *argv[1:], "--", argv[0]]  # "--": a name may start with "-"
    args = build_parser().parse_args(argv)
    root = course_root()
    try:
        if args.cmd in ("assign", "assign-all"):
            from .masters import assign, assign_all
        if args.cmd == "assign-all":
            for name, files in assign_all(root).items():
                print(f"{name}: {len(files)} files up to date")
            return 0
        if args.cmd == "assign":
            for name in args.name:
                files = assign(name, root=root)
                print(f"{Path(name).stem}: {len(files)} files up to date")
            return 0
        if args.cmd == "autograder":
            from .autograder import build_autograder

            out = build_autograder(args.name, args.out, root=root)
            print(f"autograder for {args.name} written to {out}")
            return 0
        limits = dict(timeout_per_cell=args.timeout_per_cell, mem_mb=args.mem_mb or None,
                      total_timeout=args.total_timeout, exercise=args.exercise)
        if args.cmd == "grade":
            if not Path(args.notebook).is_file():
                print(f"error: no such notebook {safe_text(args.notebook)}", file=sys.stderr)
                return 2
            if bound:
                bound_grader(args.grader_mem_mb, args.total_timeout)
            report: GradeReport = grade_notebook(args.notebook, sandbox=args.sandbox, **limits)
            out = write_json(report, args.json or default_json_path(args.notebook))
            if not args.quiet:
                print(report.table())
                print(f"\nGraded in {report.seconds:.1f} s; report written to {out}")
            return 0
        if args.cmd == "grade-all":
            if not Path(args.folder).is_dir():
                print(f"error: no such folder {args.folder}", file=sys.stderr)
                return 2
            from .batch import grade_folder

            rows = grade_folder(args.folder, args.csv, json_dir=args.json_dir, jobs=args.jobs,
                                insecure=args.insecure, grader_mem_mb=args.grader_mem_mb,
                                **limits)
            print(f"{len(rows)} notebooks; CSV written to {args.csv}")
            return 0
    except (ValueError, GradingError, FileNotFoundError, RuntimeError) as err:
        print(f"error: {safe_text(err)}", file=sys.stderr)
        return 2
    return 2


if __name__ == "__main__":
    sys.exit(main(bound=True))

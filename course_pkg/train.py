"""``python -m course_pkg.train …``: the entry point of the course's training command line.

The command line itself is :mod:`course_pkg.experiments.cli`; run with ``--help`` for its usage.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    """Run :func:`course_pkg.experiments.cli.main`."""
    from course_pkg.experiments.cli import main as cli_main

    return cli_main(argv)


if __name__ == "__main__":
    sys.exit(main())

"""``python -m course_pkg.train …``: the entry point of the course's training command line.

The command line itself is :mod:`course_pkg.experiments.cli`; run with ``--help`` for its usage.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

#: Empty on purpose. ``experiments/fewshot.py`` and ``algorithms/finetune.py`` still look these
#: two names up to register themselves when imported; the families are now listed in
#: :data:`course_pkg.experiments.registry.FAMILIES`, so the lookups find nothing to do.
#: Remove both names once those modules drop their ``_register_with_train``.
EXPERIMENTS: dict[str, object] = {"fewshot": None, "glyphs": None}


def register_experiment(*args: object, **kwargs: object) -> None:
    """Retired: families are listed in :data:`course_pkg.experiments.registry.FAMILIES`."""
    raise RuntimeError("register_experiment is retired; add the family module to "
                       "course_pkg.experiments.registry.FAMILIES")


def main(argv: Sequence[str] | None = None) -> int:
    """Run :func:`course_pkg.experiments.cli.main`."""
    from course_pkg.experiments.cli import main as cli_main

    return cli_main(argv)


if __name__ == "__main__":
    sys.exit(main())

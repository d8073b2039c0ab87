"""The one list of run families: ``python -m course_pkg.train <family>`` and ``make weights``.

Each value is a module following the family protocol of :mod:`course_pkg.experiments.common`
(``HELP``, ``add_arguments``, ``run``, ``run_all``). A new family is one new module here and one
line in :data:`FAMILIES`; nothing registers itself by being imported.
"""

from __future__ import annotations

from types import ModuleType

from course_pkg.experiments import curves, glyphs, rl, sinusoid
from course_pkg.experiments.fewshot import cli as fewshot_cli

#: Family name → module, in the order ``all`` (``make weights``) trains them.
FAMILIES: dict[str, ModuleType] = {
    "sinusoid": sinusoid,
    "fewshot": fewshot_cli,  # before glyphs: chapter 2's table uses the pre-trained Conv4
    "glyphs": glyphs,
    "rl": rl,
    "curves": curves,
}

"""Every dotted ``course_pkg.x.y`` name written in the book, the README, the exercise masters and
the package's own docstrings resolves to a module or an attribute that exists.

A rename that misses a page (``algorithms.maml.meta_train`` after ``meta_train`` moved to
``algorithms.training``) fails here instead of misleading a reader.
"""

from __future__ import annotations

import importlib
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
#: ``course_pkg.a.b.c`` (a trailing ``.py``, a file path or a ``…`` is not a reference).
REFERENCE = re.compile(r"(?<![\w/.])course_pkg(?:\.[A-Za-z_]\w*)+(?![\w/(]*\.(?:py|json|md)\b)")


def _texts() -> dict[str, str]:
    out: dict[str, str] = {}
    for path in sorted((ROOT / "book").glob("*.ipynb")) + sorted(
            (ROOT / "solutions" / "masters").glob("*.ipynb")):
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        out[str(path.relative_to(ROOT))] = "\n".join("".join(c["source"]) for c in cells)
    for path in [*sorted((ROOT / "book").glob("*.md")), ROOT / "README.md",
                 *sorted((ROOT / "course_pkg").rglob("*.py"))]:
        out[str(path.relative_to(ROOT))] = path.read_text(encoding="utf-8")
    return out


def resolves(name: str) -> bool:
    """``name`` is an importable module, or attributes of the longest importable prefix."""
    parts = name.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ModuleNotFoundError:
            continue
        for attr in parts[i:]:
            if not hasattr(obj, attr):
                return False
            obj = getattr(obj, attr)
        return True
    return False


def references(text: str) -> set[str]:
    return {m.group(0).rstrip(".") for m in REFERENCE.finditer(text)}


def test_the_scan_finds_references_and_can_fail():
    text = ("see `course_pkg.algorithms.maml.meta_train` and course_pkg.utils.mean_ci, "
            "not course_pkg/weights or course_pkg/algorithms/core.py")
    assert references(text) == {"course_pkg.algorithms.maml.meta_train", "course_pkg.utils.mean_ci"}
    assert not resolves("course_pkg.algorithms.maml.meta_train")
    assert not resolves("course_pkg.experiments.fewshot.plateau_reached_nowhere")
    assert resolves("course_pkg.algorithms.training.meta_train")
    assert resolves("course_pkg.utils")


def test_there_are_references_to_check():
    assert sum(len(references(t)) for t in _texts().values()) > 100


@pytest.mark.parametrize("where", sorted(_texts()))
def test_every_course_pkg_reference_resolves(where):
    broken = sorted(r for r in references(_texts()[where]) if not resolves(r))
    assert not broken, f"{where} names what does not exist: {broken}"

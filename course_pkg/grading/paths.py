"""Where masters and generated exercise files live (no heavy imports: used by the grader)."""

from __future__ import annotations

import os
from pathlib import Path


def course_root() -> Path:
    """The course repository root: ``$COURSE_ROOT`` if set, else the folder above course_pkg."""
    env = os.environ.get("COURSE_ROOT")
    if env:
        return Path(env).resolve()
    return Path(__file__).resolve().parents[2]


def masters_dir(root: Path | None = None) -> Path:
    return (root or course_root()) / "solutions" / "masters"


def list_masters(root: Path | None = None) -> list[str]:
    """Names (file stems) of every master notebook, sorted."""
    return sorted(p.stem for p in masters_dir(root).glob("*.ipynb"))


def output_paths(name: str, root: Path | None = None) -> dict[str, Path]:
    """Where :func:`assign` writes the artefacts of exercise ``name`` under ``root``."""
    root = root or course_root()
    return {
        "exercise": root / "exercises" / f"{name}.ipynb",
        "public_tests": root / "exercises" / "tests" / name,
        "solution": root / "solutions" / f"{name}.ipynb",
        "tests": root / "solutions" / "tests" / name,
    }

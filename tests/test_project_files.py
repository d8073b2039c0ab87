"""The project's own files agree with each other: the Makefile's order and install stamp, one
Python version, the README's chapter table, no dead test markers."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest
from packaging.specifiers import SpecifierSet

ROOT = Path(__file__).resolve().parent.parent
MAKE = shutil.which("make")
needs_make = pytest.mark.skipif(MAKE is None, reason="GNU make is not installed")


@needs_make
def test_make_test_lints_before_building_the_book():
    """`make test` runs ruff first (a style error fails in seconds), the book later, pytest last."""
    out = subprocess.run([MAKE, "-n", "-o", ".venv/.course-installed", "test"], cwd=ROOT,
                         capture_output=True, text=True, check=True,
                         env={**os.environ, "CI": ""}).stdout.splitlines()

    def first(pattern: str) -> int:
        hits = [i for i, line in enumerate(out) if re.search(pattern, line)]
        assert hits, f"`make -n test` runs no {pattern!r}"
        return hits[0]

    assert first(r"ruff check") < first(r"jupyter-book build") < first(r"/pytest -q")


def _fake_venv(tmp: Path) -> Path:
    """A project copy whose .venv/bin/python only logs its arguments (no real install)."""
    for name in ("Makefile", "requirements.txt", "pyproject.toml"):
        shutil.copy(ROOT / name, tmp / name)
    bindir = tmp / "venv" / "bin"
    bindir.mkdir(parents=True)
    python = bindir / "python"
    python.write_text(f'#!/bin/sh\necho "$@" >> "{tmp}/installs.log"\n')
    python.chmod(0o755)
    return tmp / "installs.log"


@needs_make
def test_the_install_stamp_follows_its_own_recipe(tmp_path):
    log = _fake_venv(tmp_path)

    def age() -> None:
        """Inputs older than the recipe checksum, older than the stamp (whole seconds apart, so
        that file systems with coarse timestamps order them too)."""
        now = time.time()
        for name, back in (("requirements.txt", 300), ("pyproject.toml", 300),
                           ("venv/.install-recipe", 200), ("venv/.course-installed", 100)):
            if (tmp_path / name).exists():
                os.utime(tmp_path / name, (now - back, now - back))

    def setup() -> int:
        before = log.read_text().count("-r requirements.txt") if log.exists() else 0
        subprocess.run([MAKE, "--no-print-directory", "VENV=venv", "setup"], cwd=tmp_path,
                       check=True, capture_output=True, text=True)
        installs = log.read_text().count("-r requirements.txt") - before
        age()
        return installs

    assert setup() == 1  # first install
    assert setup() == 0  # nothing changed: nothing to do
    makefile = tmp_path / "Makefile"
    text = makefile.read_text()
    makefile.write_text(text.replace("help:", "# an unrelated edit\nhelp:", 1))
    assert setup() == 0  # an edit elsewhere in the Makefile does not reinstall
    recipe_line = "\t$(PY) -m pip install --quiet --upgrade pip\n"
    assert recipe_line in text
    makefile.write_text(makefile.read_text().replace(
        recipe_line, recipe_line + "\t$(PY) -m pip install --quiet wheel\n", 1))
    assert setup() == 1  # an edit of the install recipe reinstalls
    assert setup() == 0
    os.utime(tmp_path / "requirements.txt")  # now: newer than the stamp
    assert setup() == 1  # and so does a newer requirements.txt


def test_one_python_version():
    spec = SpecifierSet(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "requires-python"])
    readme = re.search(r"You need Python (3\.\d+)", (ROOT / "README.md").read_text())
    assert readme, "README.md says which Python it needs ('You need Python 3.x')"
    version = readme.group(1)
    assert f"{version}.0" in spec and f"{version}.99" in spec, (spec, version)
    minor = int(version.split(".")[1])
    assert f"3.{minor - 1}.99" not in spec and f"3.{minor + 1}.0" not in spec, (
        f"requires-python {spec} allows more than README's Python {version}")
    assert f"python{version}" in (ROOT / "Makefile").read_text()
    runtime = ROOT / "binder" / "runtime.txt"
    if runtime.exists():
        assert runtime.read_text().strip() == f"python-{version}"
    ruff = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["ruff"]["target-version"]
    assert ruff == "py" + version.replace(".", "")
    assert f"{sys.version_info.major}.{sys.version_info.minor}.0" in spec, "this venv's Python"


def test_no_dead_test_markers():
    """Every marker in pyproject.toml is used by some test, and there is no `wip` escape hatch."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    markers = {m.split(":")[0].strip() for m in config["markers"]}
    assert "wip" not in markers
    assert "test-wip" not in (ROOT / "Makefile").read_text()
    sources = "\n".join(p.read_text() for p in (ROOT / "tests").glob("*.py"))
    for marker in markers:
        assert re.search(rf"mark\.{marker}\b|\"{marker}\"|'{marker}'", sources), marker
    assert not re.search(r"mark\.wip\b", sources)


def test_readme_lists_every_chapter():
    rows = dict(re.findall(r"^\| (\d+) \| ([^|]+?) \| `book/\d\d_\w+\.ipynb` \|$",
                           (ROOT / "README.md").read_text(), re.M))
    chapters = sorted((ROOT / "book").glob("[0-9][0-9]_*.ipynb"))
    assert len(chapters) >= 13
    for path in chapters:
        number = str(int(path.name[:2]))
        title = "".join(json.loads(path.read_text())["cells"][0]["source"]).splitlines()[0]
        assert rows.get(number) == title.lstrip("# ").strip(), (
            f"README's chapter table: row {number} should read {title!r} ({path.name})")
        assert f"`book/{path.name}`" in (ROOT / "README.md").read_text()

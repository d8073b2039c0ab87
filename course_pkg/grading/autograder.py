"""An otter-grader autograder zip for Gradescope, with the course's own hidden tests.

``make autograder EX=ex01_supervised_learning`` writes ``autograder/<name>.zip`` with
``otter generate``: the committed test files ``solutions/tests/<name>/*.py`` (public and hidden,
the same ones ``make grade`` uses), ``course_pkg`` (the tests and the notebook import it; its
``weights/`` and ``results/`` are left out) and the run-time pins of ``requirements.txt``.

Caveat for instructors: Gradescope runs the learner's notebook and otter's tests in *one* Python
process, so the tamper-proofing of ``make grade`` (sandboxed kernel, comparisons in a separate
trusted process) does not apply there; Gradescope's container isolates submissions from each
other only. Use ``make grade-all`` when the grade must resist a hostile notebook.
"""

from __future__ import annotations

import contextlib
import io
import logging
import shutil
import tempfile
import warnings
from pathlib import Path

from .paths import course_root, output_paths

#: what the tests and course_pkg import at run time (the rest of requirements.txt builds the book)
RUNTIME = {"torch", "numpy", "scipy", "matplotlib", "tqdm", "gymnasium", "otter-grader"}
#: course_pkg sub-folders the autograder does not need (checkpoints, stored results)
_SKIP = shutil.ignore_patterns("__pycache__", "*.pyc", "weights", "results")


def build_autograder(name: str, out: str | Path | None = None, root: Path | None = None) -> Path:
    """Write the autograder zip of exercise ``name``; returns its path."""
    root = Path(root) if root else course_root()
    tests = output_paths(name, root)["tests"]
    if not sorted(tests.glob("*.py")):
        raise FileNotFoundError(f"no tests for {name} in {tests}: run `make exercises`")
    out = Path(out) if out else root / "autograder" / f"{name}.zip"
    out.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from otter.generate import main as otter_generate

    with tempfile.TemporaryDirectory(prefix=f"autograder-{name}-") as tmp:
        work = Path(tmp)
        shutil.copytree(tests, work / "tests")
        shutil.copytree(root / "course_pkg", work / "course_pkg", ignore=_SKIP)
        reqs = work / "requirements.txt"
        pins = [ln for ln in (root / "requirements.txt").read_text().splitlines()
                if ln.split("==")[0].strip().lower() in RUNTIME]
        reqs.write_text("\n".join(pins) + "\n")
        logging.getLogger("otter").setLevel(logging.WARNING)
        with contextlib.chdir(work), contextlib.redirect_stdout(io.StringIO()):
            otter_generate(tests_dir="tests", output_path=str(work / "autograder.zip"),
                           requirements="requirements.txt", files=["course_pkg"],
                           python_version="3.11")
        shutil.copyfile(work / "autograder.zip", out)
    return out


__all__ = ["build_autograder"]

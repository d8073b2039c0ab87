"""The course's grader where classes grade: a Gradescope autograder and a PrairieLearn grader.

Both entry points run :func:`course_pkg.grading.grade_notebook`: the learner's notebook in a
kernel behind the best boundary the machine allows (bubblewrap; in a container where it cannot
run, the container mode of :mod:`course_pkg.grading.container`: an unprivileged user of its
own with its own limits), the public and hidden tests and the scoring in this trusted process.
Before grading the hidden tests are made readable by root only, and the results say which
boundary was used. What
the learner sees: per-question scores, each failing test's message (a hidden test's name and
code never), the rules, and the skipped cells.

Gradescope (``/autograder``; https://gradescope-autograders.readthedocs.io)::

    /autograder/source/        the autograder zip (:func:`build_gradescope_zip`): setup.sh,
                               run_autograder, requirements.txt, course_pkg/, tests/<exercise>/
    /autograder/submission/    what the student uploaded (one notebook)
    /autograder/results/results.json   written by ``python -m course_pkg.classroom gradescope``

PrairieLearn external grader (``/grade``)::

    /grade/data/data.json      the submission's data (``params.exercise`` may name the exercise)
    /grade/student/            the student's files (one notebook)
    /grade/tests/              the question's tests/ folder: tests/<exercise>/ (hidden tests)
    /grade/serverFilesCourse/  course_pkg/ (the question's image may also have it installed)
    /grade/results/results.json  written by ``python -m course_pkg.classroom prairielearn``
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import zipfile
from pathlib import Path
from typing import Any

#: what the tests and course_pkg import at run time (pins from requirements.txt)
RUNTIME = ("numpy", "scipy", "matplotlib", "tqdm", "gymnasium", "otter-grader", "psutil",
           "ipykernel", "nbformat", "nbclient")
#: PyTorch's CPU-only builds (the platforms have no GPU; ~1/10 of the CUDA build's size)
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"
_SKIP = shutil.ignore_patterns("__pycache__", "*.pyc", "weights", "results")


def _notebook_in(folder: Path, exercise: str) -> Path:
    """The submitted notebook: ``<exercise>.ipynb`` if present, else the only ``.ipynb``."""
    if not folder.is_dir():
        raise FileNotFoundError(f"no submission folder {folder}")
    found = sorted(p for p in folder.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
    named = [p for p in found if p.name == f"{exercise}.ipynb"]
    if named:
        return named[0]
    if len(found) == 1:
        return found[0]
    if not found:
        raise FileNotFoundError(f"no notebook (.ipynb) was submitted; upload {exercise}.ipynb")
    raise FileNotFoundError(f"{len(found)} notebooks were submitted "
                            f"({', '.join(p.name for p in found[:5])}); upload only "
                            f"{exercise}.ipynb")


def _private_root(tests: Path, exercise: str) -> Path:
    """A root-only course root for the grader: ``solutions/tests/<exercise>`` (a copy of
    ``tests``) and a marker ``solutions/masters/<exercise>.ipynb`` (the grader knows exercises by
    their masters' names; the marker holds no cell)."""
    from course_pkg.grading.container import hide

    root = Path(tempfile.mkdtemp(prefix="course-platform-"))
    shutil.copytree(tests, root / "solutions" / "tests" / exercise)
    masters = root / "solutions" / "masters"
    masters.mkdir(parents=True)
    (masters / f"{exercise}.ipynb").write_text(json.dumps(
        {"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    hide(root)
    if tests.exists():
        hide(tests)
    return root


def grade_for_platform(notebook: Path, exercise: str, tests: Path, **limits: Any
                       ) -> tuple[dict, str]:
    """Grade ``notebook`` as ``exercise`` with the test files in ``tests``; returns the report's
    dict and the boundary used (a sentence). Raises ``GradingError``/``FileNotFoundError``."""
    from course_pkg.grading import grade_notebook
    from course_pkg.grading.container import boundary, end_processes
    from course_pkg.grading.sandbox import sandbox_status

    root = _private_root(tests, exercise)
    try:
        report = grade_notebook(notebook, exercise=exercise, root=root, **limits)
        works, how = sandbox_status()
        used = how if report.sandboxed else f"NO BOUNDARY (not tamper-proof): {how}"
        if boundary() == "container":
            end_processes()  # whatever the kernel's user left running
        return report.to_dict(), used
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _failing_lines(q: dict) -> list[str]:
    lines = []
    hidden_no = 0
    for t in q["tests"]:
        if t["hidden"]:
            hidden_no += 1
        if t["passed"]:
            continue
        label = f"hidden test {hidden_no}" if t["hidden"] else f"public test {t['name']}"
        lines.append(f"{label}: {t['message']}")
    for r in q.get("rules", []):
        if not r["kept"]:
            lines.append(f"rule broken ({r['rule']}): {r['message']}")
    if q.get("error"):
        lines.append(f"not graded: {q['error']}")
    return lines


def _summary(d: dict, used: str) -> str:
    lines = [f"{d['exercise']}: {d['total']:g} / {d['max']:g} ({d['percent']:.1f} %)",
             f"Boundary: {used}"]
    for c in d.get("cells", []):
        lines.append(f"cell {c['cell']} skipped [{c['status']}]: {c['message']}")
    lines += d.get("messages", [])
    return "\n".join(lines)


def gradescope_results(d: dict, used: str) -> dict:
    """Gradescope's results.json: one test per question (score, max_score, its messages)."""
    tests = []
    for q in d["questions"]:
        passed = sum(t["passed"] for t in q["tests"])
        body = _failing_lines(q) or ["all tests passed"]
        tests.append({"name": f"{q['name']} ({passed}/{len(q['tests'])} tests passed)",
                      "score": q["score"], "max_score": q["max"],
                      "status": "passed" if q["score"] >= q["max"] else "failed",
                      "output": "\n".join(body), "visibility": "visible"})
    return {"score": d["total"], "output": _summary(d, used), "tests": tests,
            "visibility": "visible", "stdout_visibility": "hidden"}


def prairielearn_results(d: dict, used: str) -> dict:
    """PrairieLearn's results.json: ``score`` in [0, 1], one test per question."""
    tests = [{"name": q["name"], "description": f"question {q['name']}",
              "points": q["score"], "max_points": q["max"],
              "message": "\n".join(_failing_lines(q)) or "all tests passed", "output": ""}
             for q in d["questions"]]
    return {"gradable": True, "score": (d["total"] / d["max"]) if d["max"] else 0.0,
            "message": _summary(d, used), "output": "", "tests": tests}


def _write(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1), encoding="utf-8")


def gradescope_main(base: Path, exercise: str) -> int:
    """Grade ``base/submission`` into ``base/results/results.json`` (also on errors: score 0
    and the reason, so the student sees what to fix)."""
    base = Path(base)
    out = base / "results" / "results.json"
    try:
        nb = _notebook_in(base / "submission", exercise)
        d, used = grade_for_platform(nb, exercise, base / "source" / "tests" / exercise)
        _write(out, gradescope_results(d, used))
    except Exception as err:  # noqa: BLE001 - the student must get a results.json in any case
        _write(out, {"score": 0, "output": f"Not graded: {err}", "tests": [],
                     "visibility": "visible", "stdout_visibility": "hidden"})
        return 1
    return 0


def prairielearn_main(base: Path, exercise: str | None) -> int:
    """Grade ``base/student`` into ``base/results/results.json`` (PrairieLearn's format)."""
    base = Path(base)
    out = base / "results" / "results.json"
    try:
        if exercise is None:
            data = json.loads((base / "data" / "data.json").read_text(encoding="utf-8"))
            exercise = (data.get("params") or {}).get("exercise")
            if not exercise:
                raise ValueError("no exercise: pass --exercise or set params.exercise")
        nb = _notebook_in(base / "student", exercise)
        d, used = grade_for_platform(nb, exercise, base / "tests" / exercise)
        _write(out, prairielearn_results(d, used))
    except Exception as err:  # noqa: BLE001 - PrairieLearn needs a results.json in any case
        _write(out, {"gradable": False, "score": 0.0, "message": f"Not graded: {err}",
                     "output": "", "tests": []})
        return 1
    return 0


def runtime_requirements(repo: Path, cpu_torch: bool = True) -> str:
    """The grader's run-time pins from ``requirements.txt``; torch from PyTorch's CPU index."""
    pins = {}
    for ln in (Path(repo) / "requirements.txt").read_text().splitlines():
        name = ln.split("==")[0].strip().lower()
        if "==" in ln and not ln.lstrip().startswith("#"):
            pins[name] = ln.strip()
    lines = []
    if cpu_torch:
        lines += [f"--extra-index-url {TORCH_CPU_INDEX}", f"{pins['torch']}+cpu"]
    else:
        lines.append(pins["torch"])
    lines += [pins[n] for n in RUNTIME if n in pins]
    return "\n".join(lines) + "\n"


SETUP_SH = """#!/usr/bin/env bash
# Gradescope runs this once when it builds the autograder image (as root, Ubuntu).
set -euo pipefail
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \\
    bubblewrap util-linux python3 python3-venv python3-dev build-essential >/dev/null
PY=python3
if ! python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq software-properties-common >/dev/null
  add-apt-repository -y ppa:deadsnakes/ppa && apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3.11 python3.11-venv \\
      python3.11-dev >/dev/null
  PY=python3.11
fi
# the grader's environment, CPU-only PyTorch (no GPU on Gradescope), readable by the kernel's
# own user in container mode
$PY -m venv /autograder/source/.venv
/autograder/source/.venv/bin/pip install --quiet --upgrade pip
/autograder/source/.venv/bin/pip install --quiet -r /autograder/source/requirements.txt
chmod -R a+rX /autograder/source/.venv /autograder/source/course_pkg
"""

RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope runs this for every submission: /autograder/submission -> results/results.json
cd /autograder/source
PYTHONPATH=/autograder/source exec /autograder/source/.venv/bin/python \\
    -m course_pkg.classroom gradescope --exercise {exercise} --base /autograder
"""


def build_gradescope_zip(exercise: str, out: Path, repo: Path) -> Path:
    """The Gradescope autograder zip of ``exercise``: setup.sh, run_autograder,
    requirements.txt (CPU-only torch), course_pkg/ and tests/<exercise>/ (public and hidden)."""
    repo, out = Path(repo), Path(out)
    tests = repo / "solutions" / "tests" / exercise
    if not sorted(tests.glob("*.py")):
        raise FileNotFoundError(f"no tests for {exercise} in {tests}: run `make exercises`")
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        def add(name: str, text: str, mode: int = 0o644) -> None:
            info = zipfile.ZipInfo(name)
            info.external_attr = (0o100000 | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, text)

        add("setup.sh", SETUP_SH, 0o755)
        add("run_autograder", RUN_AUTOGRADER.format(exercise=exercise), 0o755)
        add("requirements.txt", runtime_requirements(repo))
        for f in sorted(tests.glob("*.py")):
            z.write(f, f"tests/{exercise}/{f.name}")
        with tempfile.TemporaryDirectory() as tmp:
            shutil.copytree(repo / "course_pkg", Path(tmp) / "course_pkg", ignore=_SKIP)
            for f in sorted((Path(tmp) / "course_pkg").rglob("*")):
                if f.is_file():
                    z.write(f, f.relative_to(tmp).as_posix())
    return out


def unzip_with_modes(zip_path: Path, dest: Path) -> None:
    """Extract ``zip_path`` into ``dest`` keeping the files' modes (as Gradescope does)."""
    with zipfile.ZipFile(zip_path) as z:
        for info in z.infolist():
            path = Path(z.extract(info, dest))
            mode = (info.external_attr >> 16) & 0o777
            if mode and path.is_file():
                os.chmod(path, mode)


__all__ = ["build_gradescope_zip", "gradescope_main", "gradescope_results",
           "grade_for_platform", "prairielearn_main", "prairielearn_results",
           "runtime_requirements", "unzip_with_modes"]

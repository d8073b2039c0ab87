"""`make release DEST=...`: the student release holds no solution and no hidden test, and works.

One release is written per module (``make release``, ~10 s); the tests search it (work tree and
every commit of its history) for the solved cells, the solution-only lines and the hidden tests'
names and bodies, check that the search itself finds planted leaks, run ``make workspace`` in it
and ``grader.check`` on a learner's copy there (public tests of the release, not the instructor's).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from course_pkg.classroom.links import learner_path, nbgitpuller_link, repo_name
from course_pkg.classroom.release import (
    ReleaseError,
    find_leaks,
    make_release,
    solution_fingerprints,
)

REPO = Path(__file__).resolve().parents[1]
VENV = REPO / ".venv"
STAMP = VENV / ".course-installed"


def _make(cwd: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """``make`` with the instructor's .venv, its set-up step marked as done (``-o``)."""
    cmd = ["make", "--no-print-directory", "-o", str(STAMP), f"VENV={VENV}", *args]
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def release(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not STAMP.exists():
        pytest.skip("no .venv (run `make setup`)")
    dest = tmp_path_factory.mktemp("release") / "learning-to-learn-student"
    run = _make(REPO, "release", f"DEST={dest}")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "no solution code or hidden test found" in run.stdout
    return dest


@pytest.fixture(scope="module")
def fingerprints() -> dict[str, set[str]]:
    return solution_fingerprints(REPO)


def test_fingerprints_are_not_empty(fingerprints: dict[str, set[str]]) -> None:
    """The search has something to look for: every exercise's solved cells and hidden tests."""
    masters = sorted(p.stem for p in (REPO / "solutions").glob("ex*.ipynb"))
    assert len(masters) >= 12
    assert len(fingerprints["cells"]) >= 2 * len(masters)
    assert len(fingerprints["lines"]) >= len(masters)
    scoped = {s.split("::")[0] for s in fingerprints["scoped"]}
    assert scoped == set(masters), f"exercises without hidden tests: {set(masters) - scoped}"
    assert "return float(-2.0 * np.sum(x * (y - w * x)))" in fingerprints["lines"]


def test_release_is_a_git_repository_with_the_learner_path(release: Path) -> None:
    top = sorted(p.name for p in release.iterdir())
    for needed in ("book", "course_pkg", "exercises", "learner", "Makefile", "requirements.txt",
                   "pyproject.toml", "_config.yml", "_toc.yml", "README.md", "binder", "hub"):
        assert needed in top, f"{needed} missing from the release: {top}"
    for absent in ("solutions", "tests", "benchmarks", ".ci", ".venv", "workspace", "_build"):
        assert absent not in top, f"{absent} reached the release"
    status = subprocess.run(["git", "status", "--porcelain"], cwd=release, capture_output=True,
                            text=True, check=True).stdout
    assert status == "", f"the release has uncommitted files:\n{status}"
    branch = subprocess.run(["git", "branch", "--show-current"], cwd=release,
                            capture_output=True, text=True, check=True).stdout.strip()
    assert branch == "main"
    chapters = sorted(p.name for p in (REPO / "book").glob("*.ipynb"))
    assert sorted(p.name for p in (release / "learner" / "book").glob("*.ipynb")) == chapters
    exercises = sorted(p.name for p in (REPO / "exercises").glob("*.ipynb"))
    assert sorted(p.name for p in (release / "learner" / "exercises").glob("*.ipynb")) == exercises
    # the learner copies are converted: no {cite:p} / {doc} roles left for JupyterLab
    maml = (release / "learner" / "book" / "07_maml.ipynb").read_text()
    assert "{cite:p}" not in maml and "{doc}" not in maml


def test_no_solution_or_hidden_test_in_any_commit(release: Path,
                                                  fingerprints: dict[str, set[str]]) -> None:
    assert find_leaks(release, fingerprints) == []
    # every commit's tree too (git stores objects compressed: check out each commit's files)
    commits = subprocess.run(["git", "rev-list", "--all"], cwd=release, capture_output=True,
                             text=True, check=True).stdout.split()
    assert commits
    history = subprocess.run(["git", "log", "--all", "-p", "--binary"], cwd=release,
                             capture_output=True, text=True, errors="replace", check=True).stdout
    for kind in ("cells", "lines", "tests"):
        for s in fingerprints[kind]:
            assert s not in history, f"a {kind[:-1]} of the solutions is in the history: {s[:80]!r}"


def test_the_search_finds_planted_leaks(release: Path, tmp_path: Path,
                                        fingerprints: dict[str, set[str]]) -> None:
    """find_leaks can fail: a solved notebook, a hidden test file, one solution line."""
    planted = tmp_path / "copy"
    subprocess.run(["git", "clone", "-q", str(release), str(planted)], check=True)
    assert find_leaks(planted, fingerprints) == []
    nb = REPO / "solutions" / "ex07_maml.ipynb"
    (planted / "learner" / "exercises" / "ex07_maml.ipynb").write_bytes(nb.read_bytes())
    hidden = REPO / "solutions" / "tests" / "ex04_black_box" / "q1.py"
    (planted / "exercises" / "tests" / "ex04_black_box" / "q1.py").write_bytes(hidden.read_bytes())
    with open(planted / "course_pkg" / "neuron.py", "a", encoding="utf-8") as f:
        f.write("\n# " + "return float(-2.0 * np.sum(x * (y - w * x)))\n")
    leaks = find_leaks(planted, fingerprints)
    where = {line.split(":", 1)[0] for line in leaks}
    assert where == {"learner/exercises/ex07_maml.ipynb",
                     "exercises/tests/ex04_black_box/q1.py", "course_pkg/neuron.py"}, leaks
    # the hidden test name that is public in ex05 counts as a leak in ex04's files only
    assert any("test_q1_matches_course_pkg" in line and "ex04" in line for line in leaks)


def test_release_refuses_bad_destinations(tmp_path: Path) -> None:
    with pytest.raises(ReleaseError, match="inside the course repository"):
        make_release(REPO, REPO / "workspace" / "release")
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("mine")
    with pytest.raises(ReleaseError, match="not a student release"):
        make_release(REPO, busy)
    assert (busy / "notes.txt").read_text() == "mine"
    run = _make(REPO, "release")
    assert run.returncode == 2 and "usage: make release DEST=" in run.stdout + run.stderr


def test_a_new_release_is_a_new_commit_of_the_same_repository(tmp_path: Path) -> None:
    """Publishing again: nothing new -> no commit; an edited page -> one commit carrying it.
    (Released from a clone, so that others' edits in this working tree do not interfere.)"""
    instructor = tmp_path / "instructor"
    subprocess.run(["git", "clone", "-q", str(REPO), str(instructor)], check=True, timeout=120)
    dest = tmp_path / "student"

    def count() -> int:
        return int(subprocess.run(["git", "rev-list", "--count", "HEAD"], cwd=dest,
                                  capture_output=True, text=True, check=True).stdout)

    assert make_release(instructor, dest).changed
    assert count() == 1
    assert not make_release(instructor, dest).changed, "an unchanged course made a new commit"
    assert count() == 1
    intro = instructor / "book" / "intro.md"
    intro.write_text(intro.read_text() + "\nA note added for this term.\n")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@localhost"]
    subprocess.run([*git, "commit", "-qam", "term note"], cwd=instructor, check=True)
    assert make_release(instructor, dest).changed
    assert count() == 2
    assert "A note added for this term." in (dest / "learner" / "book" / "intro.md").read_text()


def _cells_until_check(nb_path: Path, question: str, replace: dict[int, str]) -> str:
    """The code of ``nb_path``'s cells up to its ``grader.check(question)`` cell (excluded),
    with cell ``i`` replaced by ``replace[i]``."""
    cells = json.loads(nb_path.read_text())["cells"]
    out = []
    for i, c in enumerate(cells):
        if c["cell_type"] != "code":
            continue
        src = replace.get(i, "".join(c["source"]))
        if f'grader.check("{question}")' in src:
            return "\n\n".join(out)
        out.append(src)
    raise AssertionError(f"{nb_path} has no grader.check({question!r}) cell")


_CHECK = """
import sys, traceback
from course_pkg.grading.notebook import public_tests_dir
print("TESTS", public_tests_dir("ex01_supervised_learning"))
code = sys.stdin.read()
try:
    exec(compile(code, "notebook", "exec"), globals())
except Exception:
    traceback.print_exc()
result = grader.check("q1")
inner = getattr(result, "return_value", result)
print("PASSED", bool(getattr(inner, "passed_all", False)))
print(repr(result))
"""


def test_workspace_and_public_checks_work_in_the_release(release: Path) -> None:
    run = _make(release, "workspace")
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    copy = release / "workspace" / "exercises" / "ex01_supervised_learning.ipynb"
    assert copy.is_file() and (release / "workspace" / "book" / "intro.md").is_file()
    solved = json.loads((REPO / "solutions" / "ex01_supervised_learning.ipynb").read_text())
    answers = {i: "".join(c["source"]) for i, c in enumerate(solved["cells"])
               if c["cell_type"] == "code"}
    env = {k: v for k, v in os.environ.items() if k != "COURSE_ROOT"}
    env["PYTHONPATH"] = str(release)  # the release's course_pkg, as a student's clone has it
    results = {}
    for label, replace in (("untouched", {}), ("solved", answers)):
        code = _cells_until_check(copy, "q1", replace)
        res = subprocess.run([sys.executable, "-c", _CHECK], input=code, cwd=copy.parent,
                             env=env, capture_output=True, text=True, timeout=240)
        assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
        results[label] = res.stdout
    tests_dir = release / "exercises" / "tests" / "ex01_supervised_learning"
    assert f"TESTS {tests_dir}" in results["solved"], results["solved"]
    assert "PASSED True" in results["solved"], results["solved"]
    assert "hidden tests remain" in results["solved"]
    assert "PASSED False" in results["untouched"], results["untouched"]


def test_nbgitpuller_links_open_the_learner_copies() -> None:
    url = nbgitpuller_link("https://hub.example.edu/", "https://git.example.edu/me/l2l.git",
                           "book/07_maml")
    assert url.startswith("https://hub.example.edu/hub/user-redirect/git-pull?")
    assert "urlpath=lab%2Ftree%2Fl2l%2Flearner%2Fbook%2F07_maml.ipynb" in url
    assert "targetpath=l2l" in url and "branch=main" in url
    assert repo_name("file:///srv/l2l-student/") == "l2l-student"
    assert learner_path("exercises/ex01_supervised_learning.ipynb") == \
        "learner/exercises/ex01_supervised_learning.ipynb"
    assert learner_path("book/intro.md") == "learner/book/intro.md"
    for bad in ("solutions/ex01_supervised_learning.ipynb", "README.md"):
        with pytest.raises(ValueError, match="learner copies"):
            learner_path(bad)
    with pytest.raises(ValueError, match="http"):
        nbgitpuller_link("hub.example.edu", "https://git.example.edu/me/l2l.git", "book/07_maml")

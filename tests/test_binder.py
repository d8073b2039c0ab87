"""binder/: the single-user environment that Binder (repo2docker) and a hub image build.

- its pins agree with requirements.txt and hub/requirements.txt, torch is the CPU build, and
  postBuild runs the Makefile's learn2learn recipe;
- repo2docker (PyPI, ``make binder-tools``) writes the Dockerfile it would build (no Docker
  needed): Python 3.11, ``binder/requirements.txt``, then ``binder/postBuild``;
- slow: the install steps in a scratch environment (``uv`` installs binder/requirements.txt,
  then postBuild runs in a clone of the repository), then the environment is checked: torch
  without CUDA, course_pkg, learn2learn, the course kernel, jupyterlab-myst, nbgitpuller,
  jupyterhub-singleuser, the learner copies. Its size is printed and written to
  ``.cache/classroom-tools/binder_env.json``.

PyTorch's CPU index is not reachable from this course's machines (only PyPI is), so the scratch
install takes the CPU wheel from the local wheel folder (pip's ``find-links``) unless
``COURSE_BINDER_TORCH_INDEX=1`` says that the index in binder/requirements.txt is reachable.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BINDER = REPO / "binder"
TOOLS = REPO / ".cache" / "classroom-tools" / "bin"


def _pins(path: Path) -> dict[str, str]:
    out = {}
    for ln in path.read_text().splitlines():
        ln = ln.split("#", 1)[0].strip()
        if "==" in ln and not ln.startswith("-"):
            name, version = ln.split("==", 1)
            out[name.strip().lower()] = version.strip()
    return out


def test_pins_agree_with_the_course_requirements() -> None:
    binder, course, hub = (_pins(BINDER / "requirements.txt"), _pins(REPO / "requirements.txt"),
                           _pins(REPO / "hub" / "requirements.txt"))
    assert binder["torch"] == course["torch"] + "+cpu"
    assert binder["torchvision"] == course["torchvision"] + "+cpu"
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in \
        (BINDER / "requirements.txt").read_text()
    for name, version in binder.items():
        if name in course and name not in ("torch", "torchvision"):
            assert version == course[name], f"{name}: binder {version}, requirements {course[name]}"
    for name, version in hub.items():
        assert binder.get(name) == version, f"binder/requirements.txt lacks {name}=={version}"
    for needed in ("jupyterlab", "jupyterlab-myst", "ipywidgets", "anywidget", "ipykernel",
                   "otter-grader", "nbgitpuller", "jupyterhub", "cython"):
        assert needed in binder, f"binder/requirements.txt lacks {needed}"
    for builder_only in ("jupyter-book", "playwright", "pytest", "ruff"):
        assert builder_only not in binder, f"{builder_only} is not needed in the single-user env"
    assert (BINDER / "runtime.txt").read_text().strip() == "python-3.11"


def test_postbuild_runs_the_makefiles_learn2learn_recipe() -> None:
    make = (REPO / "Makefile").read_text()
    post = (BINDER / "postBuild").read_text()
    assert os.access(BINDER / "postBuild", os.X_OK), "postBuild must be executable"
    assert post.startswith("#!/bin/bash") and "set -euo pipefail" in post
    for pattern in (r"--no-deps\s+\\?\s*--no-build-isolation\s+--config-settings="
                    r"\"--global-option=build_ext\" learn2learn==[\d.]+",
                    r"--no-deps gym==[\d.]+ gym_notices==[\d.]+"):
        in_make = re.search(pattern, make)
        in_post = re.search(pattern, post)
        assert in_make and in_post, f"{pattern} missing from the Makefile or postBuild"
        assert " ".join(in_make.group(0).split()) == " ".join(in_post.group(0).split())
    assert '--display-name "Python 3 (course)"' in post and "-e ." in post


def _tool(name: str) -> str:
    exe = TOOLS / name
    if not exe.exists():
        from browser_utils import _missing

        _missing(f"{name} is missing: run `make binder-tools`")
    return str(exe)


def test_repo2docker_builds_python311_requirements_then_postbuild() -> None:
    r2d = _tool("jupyter-repo2docker")
    res = subprocess.run([r2d, "--no-build", "--debug", "--user-id", "1000", "--user-name",
                          "jovyan", str(REPO)], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-3000:]
    dockerfile = res.stdout + res.stderr
    assert "python=3.11" in dockerfile, "repo2docker did not read binder/runtime.txt"
    install = dockerfile.index('pip install --no-cache-dir -r "binder/requirements.txt"')
    post = dockerfile.index("RUN ./binder/postBuild")
    assert install < post, "postBuild must run after the requirements are installed"
    # repo2docker uses binder/ and ignores the top-level requirements.txt (the book builder's)
    assert '-r "requirements.txt"' not in dockerfile


def _local_cpu_torch() -> tuple[str, str] | None:
    """``(torch pin, torchvision pin)`` for a local CPU torch wheel in pip's find-links."""
    links = os.environ.get("PIP_FIND_LINKS", "")
    if not links:
        res = subprocess.run([sys.executable, "-m", "pip", "config", "get", "global.find-links"],
                             capture_output=True, text=True)
        links = res.stdout.strip()
    for folder in links.split():
        for wheel in sorted(Path(folder.removeprefix("file://")).glob("torch-*+cpu-cp311-*.whl")):
            version = wheel.name.split("-")[1]
            major, minor = version.split("+")[0].split(".")[:2]
            return f"torch @ {wheel.as_uri()}", f"torchvision==0.{int(minor) + 15}.*"
    return None


@pytest.mark.slow
def test_binder_install_steps_in_a_scratch_environment(tmp_path: Path) -> None:
    uv = _tool("uv")
    reqs = (BINDER / "requirements.txt").read_text()
    note = "PyTorch's CPU index"
    local = None
    if os.environ.get("COURSE_BINDER_TORCH_INDEX") != "1":
        local = _local_cpu_torch()
        if local is None:
            from browser_utils import _missing

            _missing("no local CPU torch wheel and COURSE_BINDER_TORCH_INDEX is not 1")
        reqs = re.sub(r"(?m)^--extra-index-url .*$", "", reqs)
        reqs = re.sub(r"(?m)^torch==.*$", local[0], reqs)
        reqs = re.sub(r"(?m)^torchvision==.*$", local[1], reqs)
        note = f"local wheel {urllib.parse.unquote(local[0].rsplit('/', 1)[-1])}"
    (tmp_path / "requirements.txt").write_text(reqs)
    env_dir = tmp_path / "env"
    clone = tmp_path / "repo"
    subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True, timeout=120)
    t0 = time.perf_counter()
    run = subprocess.run([uv, "venv", "-q", "--seed", "-p", sys.executable, str(env_dir)],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    env = {**os.environ, "VIRTUAL_ENV": str(env_dir), "UV_NO_PROGRESS": "1",
           "PATH": f"{env_dir / 'bin'}:{os.environ['PATH']}"}
    run = subprocess.run([uv, "pip", "install", "-q", "-r", str(tmp_path / "requirements.txt")],
                         env=env, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    t_install = time.perf_counter() - t0
    run = subprocess.run(["bash", "binder/postBuild"], cwd=clone, env=env, capture_output=True,
                         text=True, timeout=900)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    t_post = time.perf_counter() - t0 - t_install
    py = str(env_dir / "bin" / "python")
    # torchvision (and learn2learn, which imports it) load only with the torchvision built for
    # the same torch: PyPI's is built for the CUDA torch, the CPU one is on PyTorch's index
    vision = "import torchvision, learn2learn\n" if local is None else ""
    check = subprocess.run([py, "-c", (
        "import torch, course_pkg, jupyterlab_myst, nbgitpuller, jupyterhub, otter, anywidget\n"
        f"{vision}"
        "from course_pkg.grading import notebook_grader\n"
        "import importlib.util as u; assert u.find_spec('learn2learn') is not None\n"
        "assert torch.version.cuda is None, torch.version.cuda\n"
        "print(torch.__version__, course_pkg.__file__)")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert check.returncode == 0, check.stderr[-3000:]
    built = list((env_dir / "lib").glob("python3*/site-packages/learn2learn/**/*.so"))
    assert built, "learn2learn's Cython extensions were not built"
    assert str(clone / "course_pkg") in check.stdout, "course_pkg is not the repository's (-e .)"
    specs = json.loads(subprocess.run([py, "-m", "jupyter", "kernelspec", "list", "--json"],
                                      env=env, capture_output=True, text=True,
                                      check=True).stdout)["kernelspecs"]
    assert specs["python3"]["spec"]["display_name"] == "Python 3 (course)"
    assert specs["python3"]["spec"]["argv"][0].startswith(str(env_dir))
    labext = subprocess.run([py, "-m", "jupyter", "labextension", "list"], env=env,
                            capture_output=True, text=True)
    assert re.search(r"jupyterlab-myst .*enabled", labext.stdout + labext.stderr)
    serverext = subprocess.run([py, "-m", "jupyter", "server", "extension", "list"], env=env,
                               capture_output=True, text=True)
    assert re.search(r"nbgitpuller .*enabled", serverext.stdout + serverext.stderr)
    assert (env_dir / "bin" / "jupyterhub-singleuser").exists()
    settings = env_dir / "share" / "jupyter" / "lab" / "settings" / "overrides.json"
    assert json.loads(settings.read_text()) == json.loads(
        (REPO / ".jupyter" / "lab" / "settings" / "overrides.json").read_text())
    assert (clone / "learner" / "book" / "07_maml.ipynb").is_file()
    assert (clone / "learner" / "exercises" / "tests").is_dir()
    size = sum(f.stat().st_size for f in env_dir.rglob("*") if f.is_file() and not f.is_symlink())
    torch_dir = next((env_dir / "lib").glob("python3*/site-packages/torch"))
    torch_size = sum(f.stat().st_size for f in torch_dir.rglob("*") if f.is_file())
    record = {"torch": note, "torchvision_checked": local is None,
              "env_mb": round(size / 2**20), "torch_mb": round(torch_size / 2**20),
              "install_s": round(t_install, 1), "postbuild_s": round(t_post, 1)}
    out = REPO / ".cache" / "classroom-tools" / "binder_env.json"
    out.write_text(json.dumps(record, indent=1))
    print("binder scratch environment:", json.dumps(record))
    shutil.rmtree(env_dir, ignore_errors=True)

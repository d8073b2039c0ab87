"""The package installs as a wheel and works outside the repository.

Builds the wheel from a copy of the package sources, installs it into a scratch virtual
environment that sees the course's requirements (those of the environment running the tests,
like ``python -m venv --system-site-packages`` on top of it) but not the repository, and there
loads the few-shot table, committed checkpoints (one of them an equal-budget few-shot model
from ``weights/budget``) and one figure's static HTML.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

CHECK = textwrap.dedent("""
    import json, sys
    import course_pkg
    from course_pkg.checkpoints import load_checkpoint
    from course_pkg.experiments import load_model, load_table
    from course_pkg import viz

    table = load_table()
    fig = viz.meta_loss_landscape(mode="static")
    html = fig._repr_html_()
    found = load_checkpoint("sinusoid_maml_k10")
    proto = load_model("protonet", device="cpu", train_if_missing=False)  # weights/budget
    print(json.dumps({"file": course_pkg.__file__, "rows": len(table["rows"]),
                      "html": len(html), "has_js": "staticCompute" in html,
                      "checkpoint": found is not None and proto.meta["loaded"]}))
""")


def _copy_sources(dest: Path) -> None:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(REPO / "course_pkg", dest / "course_pkg", ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, dest / name)


def test_wheel_installs_and_runs_outside_the_repository(tmp_path):
    src, dist, venv = tmp_path / "src", tmp_path / "dist", tmp_path / "venv"
    _copy_sources(src)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "--quiet", "-w", str(dist), str(src)], check=True, env=env, cwd=tmp_path)
    (wheel,) = dist.glob("course_pkg-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for required in ("course_pkg/results/fewshot_table.json", "course_pkg/weights/rl_maml_nav.pt",
                     "course_pkg/viz/static/common.js", "course_pkg/experiments/cli.py"):
        assert required in names, f"{required} is missing from the wheel"

    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, env=env)
    py = venv / "bin" / "python"
    site = Path(subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()"
                                "['purelib'])"], check=True, capture_output=True, text=True,
                               env=env).stdout.strip())
    # --system-site-packages semantics on top of the test environment: its packages come after
    # the scratch environment's own (a .pth path entry; its editable-install hooks do not run).
    (site / "course_requirements.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(py), "install", "--no-deps",
                    "--no-index", "--quiet", str(wheel)], check=True, env=env, cwd=tmp_path)

    out = subprocess.run([str(py), "-c", CHECK], check=True, capture_output=True, text=True,
                         env={**env, "COURSE_STATIC_FIGURES": "1", "TQDM_DISABLE": "1"},
                         cwd=tmp_path)
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert Path(got["file"]).resolve().is_relative_to(venv.resolve()), got["file"]
    assert got["rows"] > 0
    assert got["checkpoint"], "committed checkpoints are missing from the wheel"
    assert got["has_js"] and got["html"] > 1000


@pytest.fixture(autouse=True)
def _no_stray_build_files():
    """Building must not write into the repository (build/, *.egg-info)."""
    before = {p.name for p in REPO.iterdir()}
    yield
    after = {p.name for p in REPO.iterdir()}
    assert not {n for n in after - before if n == "build" or n.endswith(".egg-info")}

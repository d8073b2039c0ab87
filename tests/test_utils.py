"""course_pkg.utils: one module per job, each with its one definition (scale, CI, smoothing)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import numpy as np
import pytest
import torch

import course_pkg
from course_pkg import utils
from course_pkg.utils import mean_ci, resolve_scale, smooth_curve

PKG = Path(course_pkg.__file__).resolve().parent


def test_mean_ci_is_the_normal_interval():
    m, h = mean_ci([0.0, 1.0, 1.0, 0.0])
    assert m == pytest.approx(0.5)
    assert h == pytest.approx(1.96 * np.std([0, 1, 1, 0], ddof=1) / 2)
    assert mean_ci([0.3]) == (pytest.approx(0.3), 0.0)
    mean, half = mean_ci(torch.tensor([[0.0, 2.0], [2.0, 2.0]]), dim=0)
    assert mean.tolist() == [1.0, 2.0] and half[1].item() == 0.0
    with pytest.raises(ValueError, match="at least one"):
        mean_ci([])


@pytest.mark.parametrize("value", ["paper", "PAPER", "Paper", " paper "])
def test_course_scale_paper_in_any_case(monkeypatch, value):
    monkeypatch.setenv("COURSE_SCALE", value)
    assert resolve_scale() == "paper"
    assert resolve_scale("CPU") == "cpu"  # the argument wins over the variable


def test_course_scale_default_and_bad_values(monkeypatch):
    monkeypatch.delenv("COURSE_SCALE", raising=False)
    assert resolve_scale() == "cpu"
    monkeypatch.setenv("COURSE_SCALE", "gpu")
    with pytest.raises(ValueError, match=r"\$COURSE_SCALE.*'gpu'"):
        resolve_scale()


def test_paper_in_upper_case_reaches_the_configs(monkeypatch):
    """The bug of issue 22: the CLI lower-cased COURSE_SCALE but the few-shot configs raised."""
    from course_pkg.experiments import common
    from course_pkg.experiments import fewshot as fc

    monkeypatch.setenv("COURSE_SCALE", "PAPER")
    assert common.resolve_scale() == fc.resolve_scale() == "paper"
    assert fc.method_config("maml", 5) == fc.method_config("maml", 5, scale="paper")


def _definitions(name: str) -> list[str]:
    """Files of course_pkg that define (def or assign at module level) ``name``."""
    out = []
    for path in PKG.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in tree.body:
            targets = ([node.name] if isinstance(node, ast.FunctionDef | ast.ClassDef)
                       else [t.id for t in getattr(node, "targets", []) if isinstance(t, ast.Name)]
                       if isinstance(node, ast.Assign) else [])
            if name in targets:
                out.append(str(path.relative_to(PKG)))
    return sorted(out)


@pytest.mark.parametrize("name", ["SCALE_ENV", "resolve_scale", "mean_ci", "smooth_curve",
                                  "power_iteration", "top_hessian_eigenvalue"])
def test_one_definition(name):
    defs = _definitions(name)
    assert len(defs) == 1, f"{name} is defined in {defs}; keep one and import it"


def test_no_second_confidence_interval():
    for alias in ("mean_ci95", "confidence_interval"):
        assert not _definitions(alias), alias


def test_smooth_curve_window_means():
    window, curve = smooth_curve(list(range(100)), points=10)
    assert window == 10 and len(curve) == 10
    assert curve[0] == pytest.approx(4.5) and curve[-1] == pytest.approx(94.5)
    window, curve = smooth_curve([1.0, 3.0, 5.0], points=50)  # short runs: one value per point
    assert (window, curve) == (1, [1.0, 3.0, 5.0])
    window, curve = smooth_curve(list(range(10)), points=3)  # a shorter last window
    assert window == 3 and curve == [1.0, 4.0, 7.0, 9.0]
    assert smooth_curve([]) == (1, [])
    with pytest.raises(ValueError, match="points"):
        smooth_curve([1.0], points=0)


def test_utils_is_split_by_job_and_reexports_everything():
    modules = {p.stem for p in (PKG / "utils").glob("*.py")} - {"__init__"}
    assert {"device", "seeds", "scale", "stats", "checks", "progress", "memory"} <= modules
    for name in utils.__all__:
        assert hasattr(utils, name), name
    for path in (PKG / "utils").glob("*.py"):
        assert len(path.read_text().splitlines()) < 150, f"{path.name}: one job per module"


def test_utils_imports_nothing_of_the_package():
    for path in (PKG / "utils").glob("*.py"):
        if path.name == "__init__.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("course_pkg"):
                raise AssertionError(f"utils/{path.name} imports {node.module}")


def test_only_utils_scale_reads_course_scale():
    """Every reader of the scale goes through resolve_scale (chapter 3 compared the variable
    with "paper" by hand, data/episodes.py had its own copy)."""
    import json

    pattern = re.compile(r"""environ(?:\.get\(|\[)\s*["']COURSE_SCALE["']"""
                         r"""|getenv\(\s*["']COURSE_SCALE""")
    texts = {str(p.relative_to(PKG.parent)): p.read_text() for p in PKG.rglob("*.py")
             if p != PKG / "utils" / "scale.py"}
    for nb in sorted((PKG.parent / "book").glob("*.ipynb")):
        cells = json.loads(nb.read_text())["cells"]
        texts[str(nb.relative_to(PKG.parent))] = "\n".join(
            "".join(c["source"]) for c in cells if c["cell_type"] == "code")
    readers = sorted(name for name, text in texts.items() if pattern.search(text))
    assert not readers, f"read $COURSE_SCALE through course_pkg.utils.resolve_scale: {readers}"
    assert pattern.search('PAPER = os.environ.get("COURSE_SCALE", "").lower() == "paper"')

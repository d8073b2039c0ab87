"""Every dotted ``course_pkg.x.y`` name written in the book, the top-level documents (README,
INSTRUCTORS), the exercise masters, the package's docstrings and the benchmarks resolves to a
module or an attribute that exists.

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
    for path in [*sorted((ROOT / "book").glob("*.md")), *sorted(ROOT.glob("*.md")),
                 *sorted((ROOT / "solutions" / "masters").glob("*.md")),
                 *sorted((ROOT / "course_pkg").rglob("*.py")),
                 *sorted((ROOT / "benchmarks").glob("*.py"))]:
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


def _chapter_code() -> dict[str, str]:
    out = {}
    for path in sorted((ROOT / "book").glob("*.ipynb")):
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        code = [
            "\n".join(line for line in "".join(c["source"]).splitlines()
                      if not line.lstrip().startswith(("%", "!")))
            for c in cells if c["cell_type"] == "code"]
        out[path.name] = "\n".join(code)
    return out


def module_attribute_uses(code: str) -> set[str]:
    """``course_pkg.m.attr`` for every ``alias.attr`` in ``code`` where ``alias`` names a
    course_pkg module (``import course_pkg.x as alias``, ``from course_pkg import x as alias``,
    ``from course_pkg.x import y`` with ``y`` a module)."""
    import ast

    tree = ast.parse(code)
    aliases: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("course_pkg"):
                    aliases[a.asname or a.name.split(".")[0]] = a.name if a.asname else "course_pkg"
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("course_pkg"):
            for a in node.names:
                full = f"{node.module}.{a.name}"
                try:
                    importlib.import_module(full)
                except ModuleNotFoundError:
                    continue
                aliases[a.asname or a.name] = full
    uses = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and (
                node.value.id in aliases):
            uses.add(f"{aliases[node.value.id]}.{node.attr}")
    return uses


def test_the_attribute_scan_can_fail():
    code = ("from course_pkg.algorithms import finetune as ft\nimport course_pkg.utils as u\n"
            "ft.design_choice_table()\nu.mean_ci([1.0])\n")
    uses = module_attribute_uses(code)
    assert uses == {"course_pkg.algorithms.finetune.design_choice_table",
                    "course_pkg.utils.mean_ci"}
    assert not resolves("course_pkg.algorithms.finetune.design_choice_table")


@pytest.mark.parametrize("chapter", sorted(_chapter_code()))
def test_chapters_use_only_attributes_that_exist(chapter):
    """``ft.design_choice_table()`` on a module that has no such function fails here, not when
    the chapter happens to take that branch."""
    broken = sorted(u for u in module_attribute_uses(_chapter_code()[chapter]) if not resolves(u))
    assert not broken, f"book/{chapter} uses what does not exist: {broken}"


#: ``r["method"] == "x"``, ``rows["x"]``, ``rows.get("x")``: a method key named in chapter code.
METHOD_KEY = re.compile(r'(?:\["method"\]\s*==\s*|rows\[|rows\.get\()"(\w+)"')


def test_chapters_name_only_methods_the_table_has():
    """A chapter comparing a row's ``method`` with a string (or indexing the table's rows by it)
    names a method of the few-shot table ("pretrained_protohead" never existed)."""
    table = json.loads((ROOT / "course_pkg" / "results" / "fewshot_table.json").read_text())
    methods = {r["method"] for r in table["rows"]}
    named = {(chapter, m) for chapter, code in _chapter_code().items()
             for m in METHOD_KEY.findall(code)}
    assert named, "the scan found no method names in the chapters"
    unknown = sorted((c, m) for c, m in named if m not in methods)
    assert not unknown, f"methods the table does not have: {unknown}"
    assert METHOD_KEY.findall('r["method"] == "pretrained_protohead" or rows.get("maml")') == [
        "pretrained_protohead", "maml"]


def _package_functions() -> set[str]:
    """Names of the public functions of course_pkg (every module but the grader's)."""
    import inspect
    import pkgutil

    import course_pkg

    names = set()
    for info in pkgutil.walk_packages(course_pkg.__path__, "course_pkg."):
        if info.name.rsplit(".", 1)[-1].startswith("_") or ".grading" in info.name:
            continue
        mod = importlib.import_module(info.name)
        names |= {n for n, o in vars(mod).items() if not n.startswith("_")
                  and inspect.isfunction(o) and o.__module__ == mod.__name__}
    return names


def test_chapters_do_not_redefine_package_functions():
    """A helper has one home: a chapter calls the package's ``adaptation_curve``,
    ``smooth_curve``, ``top_hessian_eigenvalue``, ``mean_ci`` instead of a local copy (chapter 11
    repeated ``adaptation_curve``; chapters 8 and 10 their own eigenvalue routines)."""
    import ast

    package = _package_functions()
    assert {"adaptation_curve", "smooth_curve", "top_hessian_eigenvalue", "mean_ci"} <= package
    copies = {"largest_eigenvalue", "top_eigenvalue", "smooth", "confidence_interval"}
    found = []
    for chapter, code in _chapter_code().items():
        tree = ast.parse(code)
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef) and node.name in package | copies:
                found.append(f"{chapter}: def {node.name}")
            if isinstance(node, ast.alias) and node.asname in copies:
                found.append(f"{chapter}: import {node.name} as {node.asname}")
    assert not found, found

"""Every call an exercise's text shows can be made as written: each backticked call in a master's
markdown (``conjugate_gradient(matvec, b, cg_steps=...)``, ``inner_adapt(...,
return_trajectory=True)``) binds to the signature of the function it names: a course_pkg function
imported by the notebook or named in full, or a function the learner writes (the solution's
``def``). Exercise 10's text once said ``steps=`` for ``cg_steps``: a learner following it got a
TypeError.

Also: every section a failing test points to (``course_pkg.grading.feedback.SECTIONS``) is a
heading of its chapter, and every reference hidden while grading exists.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import json
import re
from pathlib import Path

import pytest

from course_pkg.grading.feedback import SECTIONS
from course_pkg.grading.paths import course_root, list_masters, masters_dir
from course_pkg.grading.references import REFERENCES, plan, stub_source

ROOT = course_root()
SPAN = re.compile(r"`([A-Za-z_][\w.]*)\(([^`]*)\)`")


def _cells(name: str, kind: str) -> list[str]:
    nb = json.loads((masters_dir(ROOT) / f"{name}.ipynb").read_text())
    return ["".join(c["source"]) if isinstance(c["source"], list) else c["source"]
            for c in nb["cells"] if c["cell_type"] == kind]


def _namespace(name: str) -> dict:
    """Names the notebook's code defines: course_pkg imports resolved, learner defs as
    signature-only stubs."""
    ns: dict = {}
    for src in _cells(name, "code"):
        try:
            tree = ast.parse("\n".join("pass" if ln.lstrip().startswith(("%", "!")) else ln
                                       for ln in src.splitlines()))
        except SyntaxError:
            continue
        for node in tree.body:
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("course_pkg"):
                mod = importlib.import_module(node.module)
                for a in node.names:
                    if hasattr(mod, a.name):
                        ns[a.asname or a.name] = getattr(mod, a.name)
            elif isinstance(node, ast.FunctionDef):
                stub = ast.FunctionDef(node.name, node.args, [ast.Pass()], [], None)
                code = ast.Module([ast.fix_missing_locations(ast.copy_location(stub, node))], [])
                exec(compile(ast.fix_missing_locations(code), name, "exec"), ns)
    return ns


def _resolve(dotted: str, ns: dict):
    if dotted in ns:
        return ns[dotted]
    if dotted.startswith("course_pkg."):
        mod, _, attr = dotted.rpartition(".")
        try:
            return getattr(importlib.import_module(mod), attr)
        except (ImportError, AttributeError):
            raise AssertionError(f"the text names {dotted}, which does not exist") from None
    return None


def _calls(name: str):
    for md in _cells(name, "markdown"):
        for m in SPAN.finditer(md):
            yield m.group(1), m.group(2)


@pytest.mark.parametrize("name", list_masters(ROOT))
def test_every_call_in_the_exercise_text_binds(name):
    ns = _namespace(name)
    checked = 0
    for func, args in _calls(name):
        fn = _resolve(func, ns)
        if fn is None or not callable(fn):
            continue
        try:
            call = ast.parse(f"f({args})", mode="eval").body
        except SyntaxError:
            continue
        assert isinstance(call, ast.Call)
        elided = any(isinstance(a, ast.Constant) and a.value is Ellipsis for a in call.args)
        sig = inspect.signature(fn)
        kwargs = {k.arg: None for k in call.keywords if k.arg}
        if elided:
            unknown = [k for k in kwargs if k not in sig.parameters and not any(
                p.kind is p.VAR_KEYWORD for p in sig.parameters.values())]
            assert not unknown, f"{name}: `{func}({args})`: {func} takes no {unknown}"
        else:
            try:
                sig.bind(*[None] * len(call.args), **kwargs)
            except TypeError as err:
                raise AssertionError(f"{name}: the text shows `{func}({args})`, but {func}"
                                     f"{sig}: {err}") from None
        checked += 1
    assert checked, f"{name}: the text shows no call of a function it defines or imports"


def test_every_section_a_failing_test_points_to_exists():
    headings: dict[int, set[str]] = {}
    for nb_path in (ROOT / "book").glob("[0-9][0-9]_*.ipynb"):
        nb = json.loads(nb_path.read_text())
        heads = set()
        for c in nb["cells"]:
            if c["cell_type"] == "markdown":
                src = "".join(c["source"]) if isinstance(c["source"], list) else c["source"]
                heads |= {ln[3:].strip() for ln in src.splitlines() if ln.startswith("## ")}
        headings[int(nb_path.name[:2])] = heads
    for (ex, q), (chapter, title) in SECTIONS.items():
        assert title in headings[chapter], f"{ex} {q}: chapter {chapter} has no section {title!r}"
    assert {ex for ex, _ in SECTIONS} == set(list_masters(ROOT))


def test_every_hidden_reference_exists_and_stubs_cleanly():
    pkg = Path(importlib.import_module("course_pkg").__file__).parent
    for (ex, q), names in REFERENCES.items():
        for n in names:
            mod, _, attr = f"course_pkg.{n}".rpartition(".")
            assert callable(getattr(importlib.import_module(mod), attr)), f"{ex} {q}: {n}"
    for ex in {e for e, _ in REFERENCES}:
        absent, _ = plan(ex)
        for rel, funcs in absent.items():
            text = stub_source((pkg / rel).read_text(), funcs, rel)
            ns: dict = {"__name__": "stubbed"}
            compile(text, rel, "exec")  # still valid Python
            for f in funcs:
                assert f"def {f}" in text and "not available while grading" in text
            del ns

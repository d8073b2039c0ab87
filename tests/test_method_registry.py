"""One home per method: the registry of specs is the only place that lists method names."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

from course_pkg.experiments import methods as M
from course_pkg.viz import palette

ROOT = Path(__file__).resolve().parent.parent
PKG = ROOT / "course_pkg"
HOME = PKG / "experiments" / "methods.py"


def _name_lists(tree: ast.Module, names: set[str]) -> list[tuple[int, list[str]]]:
    """Module-level assignments (registries, tables) whose value holds a literal tuple, list,
    set or dict keys with two or more method names. Code that compares two methods inside a
    function or a chapter's loop is not a registry and is not flagged."""
    hits = []
    values = [n.value for n in tree.body if isinstance(n, (ast.Assign, ast.AnnAssign))
              and n.value is not None]
    for node in (x for v in values for x in ast.walk(v)):
        elts = []
        if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            elts = node.elts
        elif isinstance(node, ast.Dict):
            elts = [k for k in node.keys if k is not None]
        found = [e.value for e in elts if isinstance(e, ast.Constant) and e.value in names]
        if len(found) >= 2:
            hits.append((node.lineno, found))
    return hits


def _code_cells(path: Path) -> str:
    nb = json.loads(path.read_text())
    return "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"
                     and not "".join(c["source"]).lstrip().startswith(("%", "!")))


def test_no_module_or_chapter_lists_method_names_but_the_registry():
    names = set(M.METHODS)
    offenders = []
    for path in sorted(PKG.rglob("*.py")):
        if path == HOME:
            continue
        for line, found in _name_lists(ast.parse(path.read_text()), names):
            offenders.append(f"{path.relative_to(ROOT)}:{line} {found}")
    for path in sorted((ROOT / "book").glob("*.ipynb")):
        try:
            tree = ast.parse(_code_cells(path))
        except SyntaxError:
            continue
        for line, found in _name_lists(tree, names):
            if len(found) >= 5:  # a chapter's own table of methods (chapter 13 had one)
                offenders.append(f"{path.relative_to(ROOT)} (code line {line}) {found}")
    allowed = KNOWN_LISTS
    new = [o for o in offenders if not any(o.startswith(a) for a in allowed)]
    assert not new, "method names listed outside their specs:\n" + "\n".join(new)
    stale = [a for a in allowed if not any(o.startswith(a) for o in offenders)]
    assert not stale, f"no longer listed (remove from KNOWN_LISTS): {stale}"


#: Lists that stay, and why (none is a place a new method must be added: ANIL and ProtoMAML
#: touched none of them; new lists still fail the test):
#: - ``algorithms/training.py``: ``ALGORITHMS``, the algorithm layer's dispatch from
#:   ``MetaConfig.method`` to meta-gradient functions. Chapters and exercises build
#:   ``MetaConfig(method="maml")`` without the experiments layer, so it lives below it, and a
#:   method that trains through ``meta_train`` brings its own function in its spec instead.
#: - ``viz/palette.py``: the seed colours and labels of the methods chapters draw most, for
#:   figures drawn by a chapter that never imports the experiments layer (viz may not import
#:   upwards); every spec registers its own colour, and a test checks the seeds equal the specs'.
#: - ``viz/methods.py``, ``viz/sinusoid.py``: figures whose subject is a fixed set of methods
#:   (the four toy update rules of chapter 11's comparison; the pretrained-vs-MAML explorer).
KNOWN_LISTS: tuple[str, ...] = (
    "course_pkg/algorithms/training.py",
    "course_pkg/viz/methods.py",
    "course_pkg/viz/palette.py",
    "course_pkg/viz/sinusoid.py",
)


def test_the_list_check_can_fail():
    tree = ast.parse('X = ("maml", "fomaml")\nY = {"protonet": 1, "reptile": 2}\nZ = ("a", "maml")')
    assert [f for _, f in _name_lists(tree, set(M.METHODS))] == [["maml", "fomaml"],
                                                                  ["protonet", "reptile"]]


def test_every_method_has_one_colour_one_label_and_a_known_family():
    colours = [s.color.upper() for s in M.METHODS.values()]
    assert len(set(colours)) == len(colours)
    for key, s in M.METHODS.items():
        assert s.family in M.FAMILIES and s.label and s.title
        if key.isalpha():
            assert palette.method_color(key) == s.color.upper()
            assert palette.method_label(key) == s.label


def test_every_citation_of_a_spec_is_in_the_bibliography():
    bib = (ROOT / "book" / "references.bib").read_text()
    keys = set(re.findall(r"@\w+\{([^,]+),", bib))
    for key, s in M.METHODS.items():
        for c in (s.cite, s.published_source):
            assert c is None or c in keys, (key, c)


def test_every_spec_chapter_exists():
    for key, s in M.METHODS.items():
        assert (ROOT / "book" / f"{s.chapter}.ipynb").exists(), (key, s.chapter)


def test_the_palettes_seed_colours_are_the_specs():
    """The palette's seeds (used before the registry is imported) agree with every spec."""
    tree = ast.parse((PKG / "viz" / "palette.py").read_text())
    seeds = {}
    for node in tree.body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and \
                node.target.id in ("METHOD_COLORS", "METHOD_LABELS"):
            seeds[node.target.id] = ast.literal_eval(node.value)
    assert len(seeds["METHOD_COLORS"]) >= 8
    for name, color in seeds["METHOD_COLORS"].items():
        if name in M.METHODS:
            assert M.METHODS[name].color.upper() == color.upper(), name
            assert M.METHODS[name].label == seeds["METHOD_LABELS"][name], name
        else:  # a baseline drawn beside the methods, not a method
            assert palette._chroma(color) < 5, name

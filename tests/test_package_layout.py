"""The package's shape: layers, import cycles, one vocabulary, file sizes.

Layers, top to bottom (nothing imports upward; sideways within a layer is fine): the table
"Inside ``course_pkg``, modules sit in layers" of README.md is the one list, read here into
:data:`LAYERS` (4: runs and book tooling; 3: algorithms, rl, viz, grading; 2: data, tasks,
models; 1: utils and other plumbing, and the root package).

The import graph is read from the source (AST), with imports inside functions and
``importlib.import_module`` calls included, so lazy imports count too.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import json
import pkgutil
import re
from pathlib import Path

import pytest

import course_pkg

PKG_DIR = Path(course_pkg.__file__).resolve().parent
README = PKG_DIR.parent / "README.md"


def documented_layers(text: str) -> dict[str, int]:
    """``{"course_pkg.<module>": layer}`` from README's layer table (rows ``| 4 | `a`, `b` | … |``
    after the sentence "modules sit in layers"), plus the root package on layer 1."""
    start = text.index("modules sit in layers")
    layers: dict[str, int] = {}
    for line in text[start:].splitlines()[1:]:
        if layers and not line.startswith("|"):
            break
        m = re.match(r"\|\s*(\d)\s*\|([^|]*)\|", line)
        if m:
            for name in re.findall(r"`([\w.]+)`", m.group(2)):
                layers[f"course_pkg.{name}"] = int(m.group(1))
    return {**layers, "course_pkg": 1}


#: The documented layers (README.md), the one list this file checks imports against.
LAYERS: dict[str, int] = documented_layers(README.read_text(encoding="utf-8"))

#: Edges in files owned by another change in flight (the few-shot family is being re-keyed
#: separately); each must disappear when that change lands. Empty this set then.
PENDING: set[tuple[str, str]] = set()

#: Other names for a concept that has one name in code (book/notation.md, "One vocabulary in
#: code"): steps -> inner_steps / test_steps / iterations, k_shot -> k_support, q_query ->
#: k_query, algo/algorithm -> method, eval_steps -> test_steps, …
FORBIDDEN_PARAMS = {"steps", "k", "alpha", "lam", "meta_batch", "outer_lr", "num_steps", "n_steps",
                    "k_shot", "q_query", "n_query", "shots", "queries", "algo", "algorithm",
                    "eval_steps", "eval_lr", "test_lr", "lr_inner", "lr_outer", "n_tasks",
                    "batch_tasks", "tasks_per_batch"}
#: Names forbidden only for a count: ``tasks: int`` is ``num_tasks`` (``tasks`` stays for a
#: task distribution or a list of tasks).
FORBIDDEN_INT_PARAMS = {"tasks"}
#: Modules whose parameter names are being renamed by another change in flight.
PENDING_PARAM_MODULES: set[str] = set()
#: (function, parameter) pairs renamed by another change in flight (issue 22's one config type
#: renames MetaConfig's ``algorithm``); each must still exist, delete it once renamed.
PENDING_PARAMS: set[tuple[str, str]] = set()
#: The packages and modules whose public signatures follow the one vocabulary: all of them.
VOCABULARY_SCOPE = ("course_pkg.algorithms", "course_pkg.rl", "course_pkg.data",
                    "course_pkg.tasks", "course_pkg.models", "course_pkg.utils",
                    "course_pkg.distributed", "course_pkg.experiments", "course_pkg.viz",
                    "course_pkg.grading", "course_pkg.classroom", "course_pkg.checkpoints",
                    "course_pkg.book_tools", "course_pkg.book_references", "course_pkg.train")


#: Modules allowed ONE kind of computed ``importlib.import_module(name)``: looking up a module
#: that is already imported, by a name given as data (not a dependency of the module), with why.
COMPUTED_IMPORTS: dict[str, str] = {
    "course_pkg.grading.agent": "hide() swaps functions of modules the notebook imported, by name",
}
COMPUTED_SEEN: set[str] = set()


def _module_name(path: Path) -> str:
    rel = path.relative_to(PKG_DIR.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES: dict[str, Path] = {_module_name(p): p for p in sorted(PKG_DIR.rglob("*.py"))}


def layer(module: str) -> int:
    """The layer of ``module``: that of its longest listed prefix (the root package's own layer
    covers ``course_pkg/__init__.py`` only, so a new top-level module must be listed)."""
    if module == "course_pkg":
        return LAYERS[module]
    parts = module.split(".")
    for i in range(len(parts), 1, -1):
        if ".".join(parts[:i]) in LAYERS:
            return LAYERS[".".join(parts[:i])]
    raise KeyError(f"{module} is in no layer; add it to the layer table in README.md")


def _resolve(name: str) -> str | None:
    """``name`` if it is a course_pkg module, else its longest course_pkg-module prefix."""
    parts = name.split(".")
    for i in range(len(parts), 0, -1):
        cand = ".".join(parts[:i])
        if cand in MODULES:
            return cand
    return None


def _in_type_checking(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    while node in parents:
        node = parents[node]
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            return True
    return False


def imports_of(module: str) -> set[str]:
    """Every course_pkg module ``module`` imports (anywhere in the file, importlib included)."""
    path = MODULES[module]
    tree = ast.parse(path.read_text(), str(path))
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(tree):
        if _in_type_checking(node, parents):
            continue
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            # `from pkg import sub` imports the submodule; `from mod import name`, the module
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base
                       for a in node.names]
        elif isinstance(node, ast.Call) and ast.unparse(node.func) in (
                "importlib.import_module", "import_module", "__import__"):
            arg = node.args[0] if node.args else None
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                targets = [arg.value]
            elif isinstance(arg, ast.JoinedStr) and ast.unparse(arg).startswith(
                    "f'{__name__}."):
                # a package importing its own submodules lazily: count every submodule
                targets = [m for m in MODULES if m.startswith(module + ".")]
            elif module in COMPUTED_IMPORTS:
                COMPUTED_SEEN.add(module)
            else:
                raise AssertionError(f"{module}: importlib call with a computed name "
                                     f"({ast.unparse(node)}) cannot be checked")
        for t in targets:
            resolved = _resolve(t)
            if resolved is not None and resolved != module:
                out.add(resolved)
    return out


GRAPH = {m: imports_of(m) for m in MODULES}


def test_every_module_has_a_layer():
    for m in MODULES:
        layer(m)


def test_layers_are_the_documented_ones():
    """README's table is read, not skipped: four layers, the modules STYLE.md names on each."""
    assert {LAYERS[m] for m in LAYERS} == {1, 2, 3, 4}
    want = {"course_pkg.experiments": 4, "course_pkg.algorithms": 3, "course_pkg.rl": 3,
            "course_pkg.viz": 3, "course_pkg.grading": 3, "course_pkg.data": 2,
            "course_pkg.tasks": 2, "course_pkg.models": 2, "course_pkg.utils": 1}
    assert {m: LAYERS.get(m) for m in want} == want
    listed = {m for m in LAYERS if m != "course_pkg"}
    missing = sorted(m for m in listed if m not in MODULES)
    assert not missing, f"README's layer table names modules that do not exist: {missing}"
    top = {m.split(".")[1] for m in MODULES if m.count(".") >= 1}
    assert top == {m.split(".")[1] for m in listed}, (
        "every top-level module of course_pkg is listed exactly in README's layer table")


def test_no_import_runs_up_the_layers():
    upward = sorted((a, b) for a, deps in GRAPH.items() for b in deps
                    if layer(b) > layer(a) and (a, b) not in PENDING)
    assert not upward, "imports that run up the layers:\n" + "\n".join(
        f"  {a} (layer {layer(a)}) -> {b} (layer {layer(b)})" for a, b in upward)


def test_no_import_cycles():
    graph = {a: {b for b in deps if (a, b) not in PENDING} for a, deps in GRAPH.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def strongconnect(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                strongconnect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    for v in graph:
        if v not in index:
            strongconnect(v)
    assert not cycles, f"import cycles: {cycles}"


def test_computed_imports_are_still_needed():
    stale = set(COMPUTED_IMPORTS) - COMPUTED_SEEN
    assert not stale, f"no computed import left in {sorted(stale)}: remove from COMPUTED_IMPORTS"


def test_pending_edges_still_exist():
    """Each PENDING exception must still be needed; delete it once its import is gone."""
    stale = [e for e in PENDING if e[1] not in GRAPH.get(e[0], set())]
    assert not stale, f"remove these from PENDING: {stale}"


def test_the_checker_sees_lazy_and_importlib_imports(tmp_path):
    """The walker is not blind: a function-level import and an importlib call both count."""
    assert "course_pkg.experiments.cli" in GRAPH["course_pkg.train"]  # import inside main()
    assert "course_pkg.grading.grade" in GRAPH["course_pkg.grading"]  # importlib f-string


def test_algorithms_and_rl_know_nothing_about_runs():
    for m, deps in GRAPH.items():
        if m.startswith(("course_pkg.algorithms", "course_pkg.rl", "course_pkg.data")):
            runs = {d for d in deps if d.startswith(("course_pkg.experiments", "course_pkg.train",
                                                     "course_pkg.checkpoints"))}
            runs = {d for d in runs if (m, d) not in PENDING}
            assert not runs, f"{m} imports run machinery {runs}"


def _public_callables(module):
    for name, obj in vars(module).items():
        if name.startswith("_") or getattr(obj, "__module__", None) != module.__name__:
            continue
        if inspect.isfunction(obj):
            yield name, obj
        elif inspect.isclass(obj):
            for attr, fn in vars(obj).items():
                if inspect.isfunction(fn) and (not attr.startswith("_") or attr == "__init__"):
                    yield f"{name}.{attr}", fn


def _scope_modules(name: str) -> list[str]:
    """``name`` and, for a package, its public submodules (recursively)."""
    mod = importlib.import_module(name)
    out = [name]
    if hasattr(mod, "__path__"):
        for info in pkgutil.walk_packages(mod.__path__, prefix=f"{name}."):
            if not any(part.startswith("_") for part in info.name.split(".")):
                out.append(info.name)
    return out


def vocabulary_violations(module_names: list[str]) -> list[str]:
    """``"module.function: [names]"`` for every public signature using a forbidden name."""
    bad = []
    for mod_name in module_names:
        if mod_name in PENDING_PARAM_MODULES:
            continue
        mod = importlib.import_module(mod_name)
        for qual, fn in _public_callables(mod):
            sig = inspect.signature(fn)
            names = set(sig.parameters) & FORBIDDEN_PARAMS
            names |= {n for n in set(sig.parameters) & FORBIDDEN_INT_PARAMS
                      if sig.parameters[n].annotation in (int, "int")}
            names = {n for n in names if (f"{mod_name}.{qual}", n) not in PENDING_PARAMS}
            if names:
                bad.append(f"{mod_name}.{qual}: {sorted(names)}")
    return bad


@pytest.mark.parametrize("package", VOCABULARY_SCOPE)
def test_one_vocabulary_in_public_signatures(package):
    bad = vocabulary_violations(_scope_modules(package))
    assert not bad, ("use inner_steps, inner_lr, meta_lr, meta_batch_size, num_tasks, k_support, "
                     "k_query, test_steps, method, iterations, imaml_lambda, gae_lambda "
                     "(book/notation.md):\n" + "\n".join(bad))


def test_the_vocabulary_check_can_fail(tmp_path, monkeypatch):
    """A planted ``k_shot`` or ``tasks: int`` is found; ``tasks`` as a list of tasks is not."""
    (tmp_path / "vocab_plant.py").write_text(
        "def sample(n_way: int, k_shot: int, tasks: int) -> None: ...\n"
        "def loss(theta: float, tasks: list) -> None: ...\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert vocabulary_violations(["vocab_plant"]) == ["vocab_plant.sample: ['k_shot', 'tasks']"]


def _resolve_qualname(qual: str):
    """The object ``module.Class.attr`` names (longest importable module, then attributes)."""
    parts = qual.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ModuleNotFoundError:
            continue
        for attr in parts[i:]:
            obj = getattr(obj, attr)
        return obj
    raise ImportError(qual)


def test_pending_params_still_exist():
    stale = [(q, n) for q, n in PENDING_PARAMS
             if n not in inspect.signature(_resolve_qualname(q)).parameters]
    assert not stale, f"renamed: remove these from PENDING_PARAMS: {stale}"


def test_inner_steps_come_before_inner_lr():
    """One argument order: (…, inner_steps, inner_lr) wherever both appear."""
    wrong = []
    for package in ("course_pkg.algorithms", "course_pkg.rl"):
        pkg = importlib.import_module(package)
        for info in pkgutil.iter_modules(pkg.__path__):
            mod = importlib.import_module(f"{package}.{info.name}")
            for qual, fn in _public_callables(mod):
                params = list(inspect.signature(fn).parameters)
                if "inner_steps" in params and "inner_lr" in params and (
                        params.index("inner_steps") > params.index("inner_lr")):
                    wrong.append(f"{mod.__name__}.{qual}")
    assert not wrong, wrong


#: Files over the limit that another change in flight splits; each must still be over it.
PENDING_LONG: set[str] = set()


def test_no_file_over_600_lines():
    long = {str(p.relative_to(PKG_DIR)): n for p in PKG_DIR.rglob("*.py")
            if (n := len(p.read_text().splitlines())) > 600}
    assert not {k: v for k, v in long.items() if k not in PENDING_LONG}, long
    stale = {k for k in PENDING_LONG if k not in long}
    assert not stale, f"under 600 lines now: remove {sorted(stale)} from PENDING_LONG"


# ----------------------------------------------------------------------------- flags, figures
#: Names a command-line flag or a figure control may not have either (the notation page's
#: names instead: inner_lr/meta_lr for lr/eps/alpha/beta, inner_steps for k/steps, …).
FORBIDDEN_CONTROLS = FORBIDDEN_PARAMS | {"lr", "eps", "beta"}
#: Method prefixes of a multi-method figure's controls (``maml_inner_lr``).
CONTROL_PREFIXES = ("maml_", "fomaml_", "reptile_", "imaml_", "metasgd_")
#: Flags renamed by another change in flight (the command line is the lead's: --algo becomes
#: --method with the method registry). Each must still exist; delete it once renamed.
PENDING_FLAGS: set[tuple[str, str]] = set()
#: Figure controls renamed by another change in flight (course_pkg/viz is the pages helper's):
#: (figure module, control). Each must still exist; delete it once renamed.
PENDING_CONTROLS: set[tuple[str, str]] = set()


def cli_flags() -> set[tuple[str, str]]:
    """``(subcommand, "--flag")`` of every training subcommand of ``python -m course_pkg.train``."""
    import argparse

    from course_pkg.experiments.cli import build_parser

    out = set()
    for action in build_parser()._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                out |= {(name, o) for a in sub._actions for o in a.option_strings
                        if o.startswith("--")}
    return out


def figure_controls() -> set[tuple[str, str]]:
    """``(module, control)`` for every ``self.controls = {...}`` of a figure in course_pkg/viz."""
    out = set()
    for path in sorted((PKG_DIR / "viz").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Dict) and any(
                    ast.unparse(t) == "self.controls" for t in node.targets):
                out |= {(path.stem, k.value) for k in node.value.keys
                        if isinstance(k, ast.Constant)}
    return out


def _control_concept(name: str) -> str:
    for prefix in CONTROL_PREFIXES:
        if name.startswith(prefix):
            return name[len(prefix):]
    return name


def test_one_vocabulary_in_flags():
    flags = cli_flags()
    assert ("fewshot", "--n-way") in flags  # the parser is read, not skipped
    bad = sorted((sub, f) for sub, f in flags if f[2:].replace("-", "_") in FORBIDDEN_CONTROLS
                 and (sub, f) not in PENDING_FLAGS)
    assert not bad, f"flags named outside book/notation.md's vocabulary: {bad}"
    stale = sorted(PENDING_FLAGS - flags)
    assert not stale, f"renamed: remove {stale} from PENDING_FLAGS"


def test_one_vocabulary_in_figure_controls():
    controls = figure_controls()
    assert ("sinusoid", "amplitude") in controls  # the figures are read, not skipped
    assert _control_concept("reptile_eps") == "eps" in FORBIDDEN_CONTROLS  # and can fail
    bad = sorted((m, c) for m, c in controls if _control_concept(c) in FORBIDDEN_CONTROLS
                 and (m, c) not in PENDING_CONTROLS)
    assert not bad, f"figure controls named outside book/notation.md's vocabulary: {bad}"
    stale = sorted(PENDING_CONTROLS - controls)
    assert not stale, f"renamed: remove {stale} from PENDING_CONTROLS"


def test_the_notation_page_names_exist_in_code():
    """Every name of book/notation.md's "One vocabulary in code" table is a parameter of some
    public function or a config field, and none of them is a forbidden name."""
    text = (PKG_DIR.parent / "book" / "notation.md").read_text(encoding="utf-8")
    section = text.split("## One vocabulary in code", 1)[1].split("\n## ", 1)[0]
    names = set(re.findall(r"^\| `(\w+)` \|", section, re.M))
    assert {"inner_steps", "inner_lr", "meta_lr", "k_support", "k_query", "num_tasks"} <= names
    assert not names & FORBIDDEN_CONTROLS
    params: set[str] = set()
    for package in VOCABULARY_SCOPE:
        for mod_name in _scope_modules(package):
            for _, fn in _public_callables(importlib.import_module(mod_name)):
                params |= set(inspect.signature(fn).parameters)
    missing = sorted(names - params)
    assert not missing, f"notation.md names no public signature uses: {missing}"


#: Config keys renamed by another change in flight (stored configs are cache keys: the lead's
#: one config type renames them with the checkpoints): MetaConfig's ``algorithm`` (-> ``method``),
#: the transfer table's ``shots`` (-> ``k_support`` values).
PENDING_CONFIG_KEYS: set[str] = set()


def _config_keys(obj: object) -> set[str]:
    if isinstance(obj, dict):
        return set(obj) | {k for v in obj.values() for k in _config_keys(v)}
    if isinstance(obj, list):
        return {k for v in obj for k in _config_keys(v)}
    return set()


def test_one_vocabulary_in_stored_configs():
    """The configs stored with the checkpoints (the cache keys) use the notation page's names."""
    keys: dict[str, set[str]] = {}
    for path in sorted((PKG_DIR / "weights").rglob("*.json")):  # budget/ too
        config = json.loads(path.read_text())["config"]
        for key in _config_keys(config):
            keys.setdefault(key, set()).add(path.name)
    assert "k_support" in keys and "inner_steps" in keys  # the configs are read
    bad = {k: sorted(v) for k, v in keys.items()
           if k in FORBIDDEN_PARAMS | {"kind"} and k not in PENDING_CONFIG_KEYS}
    assert not bad, f"stored config keys outside book/notation.md's vocabulary: {bad}"
    stale = sorted(PENDING_CONFIG_KEYS - set(keys))
    assert not stale, f"renamed: remove {stale} from PENDING_CONFIG_KEYS"


def _untyped_public_functions(tree: ast.Module) -> list[str]:
    """Public functions and methods (``__init__`` included) of ``tree`` that lack a parameter or
    return annotation."""
    found = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            fns = [(node.name, node)]
        elif isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
            fns = [(f"{node.name}.{f.name}", f) for f in node.body
                   if isinstance(f, ast.FunctionDef | ast.AsyncFunctionDef)
                   and (not f.name.startswith("_") or f.name == "__init__")]
        else:
            continue
        for name, f in fns:
            if name.split(".")[-1].startswith("_") and not name.endswith("__init__"):
                continue
            a = f.args
            params = [p for p in a.posonlyargs + a.args + a.kwonlyargs
                      if p.arg not in ("self", "cls")]
            params += [p for p in (a.vararg, a.kwarg) if p is not None]
            missing = [p.arg for p in params if p.annotation is None]
            if missing or (f.returns is None and not name.endswith("__init__")):
                found.append(f"{name} (line {f.lineno}): untyped {missing or 'return'}")
    return found


def test_public_functions_have_type_hints():
    """The style guide's "type hints on public functions", for every module of the package."""
    bad = [f"{m}.{what}" for m, path in MODULES.items()
           for what in _untyped_public_functions(ast.parse(path.read_text(encoding="utf-8")))]
    assert not bad, "public functions without type hints:\n" + "\n".join(bad)
    planted = ast.parse("def f(x, y: int) -> int: ...\nclass A:\n    def g(self) : ...\n")
    assert len(_untyped_public_functions(planted)) == 2  # the check can fail

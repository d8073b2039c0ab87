"""Rules of a question ("do not use autograd here", "use vmap"), checked by the trusted grader.

The check reads the learner's source (never their kernel): it takes the last definition of the
graded function before the question's check cell, follows the notebook's own helper functions it
calls, resolves import aliases (``from torch.func import hessian as h``, ``tf = torch.func``) and
looks for forbidden qualified names. Dynamic lookups that would hide a name from this reading
(``eval``, ``exec``, ``getattr`` with a computed name, ``__import__``, ``importlib``,
``globals()``, ``sys.modules``) break the rule as well: a graded function must be written plainly.
A broken rule sets the question's score to 0 and says which rule and why.
"""

from __future__ import annotations

import ast
import functools
import re
from dataclasses import dataclass, field

from .submission import parse_cell

DYNAMIC = {"eval", "exec", "compile", "__import__", "globals", "vars", "locals", "importlib",
           "sys.modules", "builtins", "__builtins__"}


@dataclass(frozen=True)
class Rule:
    function: str
    text: str  # the rule as the exercise states it
    forbidden: tuple[str, ...] = ()  # qualified-name prefixes
    forbidden_attrs: tuple[str, ...] = ()  # attribute names, whatever the object
    required: tuple[str, ...] = ()  # at least one of these must be used
    no_loop_over: int | None = None  # index of the parameter that no loop may iterate over
    also_forbidden_functions: tuple[str, ...] = field(default=())  # learner functions
    #: how the rule is enforced: "source" (read from the notebook's code here) or
    #: "construction+source" (the forbidden course_pkg code is also absent while grading)
    how: str = "source"


RULES: dict[tuple[str, str], Rule] = {
    ("ex01_supervised_learning", "q1"): Rule(
        "loss_grad", "implement the closed-form derivative, not autograd",
        forbidden=("torch.autograd", "torch.func", "functorch", "jax", "autograd", "sympy"),
        forbidden_attrs=("backward", "requires_grad_", "grad"),
    ),
    ("ex07_maml", "q2"): Rule(
        "maml_meta_gradient", "do not call course_pkg's MAML meta-gradient",
        forbidden=("course_pkg.algorithms.maml", "course_pkg.experiments",
                   "course_pkg.algorithms.core.batched_inner_adapt"),
    ),
    ("ex09_reptile", "q3"): Rule(
        "reptile_delta_batched", "map over the tasks with torch.vmap, no Python loop over tasks",
        forbidden=("course_pkg.algorithms.reptile",),
        required=("torch.vmap", "torch.func.vmap", "functorch.vmap"),
        no_loop_over=2,
        also_forbidden_functions=("reptile_delta_serial",),
    ),
    ("ex10_imaml", "q2"): Rule(
        "hvp", "do not form the Hessian (torch.func.hessian, torch.autograd.functional)",
        forbidden=("torch.func.hessian", "torch.func.jacrev", "torch.func.jacfwd",
                   "torch.autograd.functional", "functorch", "course_pkg.algorithms.imaml"),
    ),
}

_MAGIC = re.compile(r"^\s*[%!]")
#: magics that run code the grader cannot read
_CODE_MAGIC = re.compile(
    r"^\s*%{1,2}(run|load|load_ext|time|timeit|prun|capture|writefile|file|script|bash|sh|"
    r"python\d*|pypy|perl|ruby|system|sx|sc|macro|store|alias|autoreload|aimport|debug|pdb)\b|"
    r"^\s*!|get_ipython\(\)", re.M)
#: modules whose use can rebind names or run code the grader cannot read
DYNAMIC_MODULES = ("importlib", "builtins", "ctypes", "runpy", "marshal", "imp", "code",
                   "codeop", "types", "pickle", "dill", "cloudpickle", "subprocess", "gc")


def _parse(source: str) -> ast.Module | None:
    return parse_cell(source)


def _qualname(node: ast.AST, aliases: dict[str, str]) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    base = aliases.get(node.id, node.id)
    return ".".join([base, *reversed(parts)])


def _collect_aliases(stmts, aliases: dict[str, str]) -> None:
    for node in stmts:
        for sub in ast.walk(node) if not isinstance(node, ast.FunctionDef) else [node]:
            if isinstance(sub, ast.Import):
                for a in sub.names:
                    aliases[a.asname or a.name.split(".")[0]] = a.name if a.asname else \
                        a.name.split(".")[0]
            elif isinstance(sub, ast.ImportFrom) and sub.module:
                for a in sub.names:
                    aliases[a.asname or a.name] = f"{sub.module}.{a.name}"
            elif isinstance(sub, ast.Assign) and len(sub.targets) == 1 and \
                    isinstance(sub.targets[0], ast.Name):
                q = _qualname(sub.value, aliases)
                if q and q.split(".")[0] in {"torch", "functorch", "course_pkg", "jax", "numpy"}:
                    aliases[sub.targets[0].id] = q


def check_rule(rule: Rule, cells: list[str]) -> str | None:
    """``None`` when ``cells`` (the learner's code up to the question) keep ``rule``, else why
    not."""
    defs: dict[str, ast.AST] = {}
    aliases: dict[str, str] = {}
    for src in cells:
        if _CODE_MAGIC.search(src):
            return "the notebook runs code through magics the grader cannot read (%run, ...)"
        tree = _parse(src)
        if tree is None:
            continue
        dyn = _dynamic_use(tree)
        if dyn:
            return f"the notebook uses {dyn}: names could be rebound out of the grader's sight"
        _collect_aliases(tree.body, aliases)
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                defs[node.name] = node
            elif isinstance(node, ast.Assign):
                for t in node.targets:
                    if isinstance(t, ast.Name):
                        defs[t.id] = node
    if rule.function not in defs:
        return f"{rule.function} is not defined with a plain `def` in the notebook"
    seen, todo, nodes = set(), [rule.function], []
    while todo:
        name = todo.pop()
        if name in seen or name not in defs:
            continue
        seen.add(name)
        nodes.append(defs[name])
        for sub in ast.walk(defs[name]):
            if isinstance(sub, ast.Name) and sub.id in defs:
                todo.append(sub.id)
    local_aliases = dict(aliases)
    for node in nodes:
        _collect_aliases(list(ast.walk(node))[1:], local_aliases)
    used: set[str] = set()
    called: set[str] = set()
    docstrings = {id(n.value) for node in nodes for n in ast.walk(node) if isinstance(n, ast.Expr)}
    for node in nodes:
        for sub in ast.walk(node):
            if isinstance(sub, (ast.Name, ast.Attribute)):
                q = _qualname(sub, local_aliases)
                if q:
                    used.add(q)
            if isinstance(sub, ast.Attribute) and sub.attr in rule.forbidden_attrs:
                return f"uses .{sub.attr}"
            if isinstance(sub, (ast.Import, ast.ImportFrom)):
                mods = [a.name for a in sub.names] if isinstance(sub, ast.Import) else \
                    [f"{sub.module}.{a.name}" for a in sub.names]
                used.update(mods)
            if isinstance(sub, ast.Call) and isinstance(sub.func, ast.Name) and \
                    sub.func.id == "getattr" and len(sub.args) >= 2 and \
                    not isinstance(sub.args[1], ast.Constant):
                return "uses getattr with a computed name (write the call plainly)"
            if isinstance(sub, ast.Call):
                q = _qualname(sub.func, local_aliases)
                if q:
                    called.add(q)
            if isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for d in sub.decorator_list:
                    q = _qualname(d.func if isinstance(d, ast.Call) else d, local_aliases)
                    if q:
                        called.add(q)
            if isinstance(sub, ast.Constant) and isinstance(sub.value, str) and \
                    id(sub) not in docstrings:
                why = _forbidden_string(sub.value, rule)
                if why:
                    return why
    for q in sorted(used):
        for bad in rule.forbidden:
            if q == bad or q.startswith(bad + "."):
                return f"uses {bad}"
        if q in DYNAMIC or q.split(".")[0] in {"importlib"}:
            return f"uses {q} (write the function plainly, the grader must read it)"
    for f in rule.also_forbidden_functions:
        if f in seen:
            return f"calls {f}"
    if rule.required and not any(q == r for q in called for r in rule.required):
        return f"does not call {' / '.join(rule.required)} (a mention is not a call)"
    if rule.no_loop_over is not None:
        why = _loops_over_param(defs[rule.function], rule.no_loop_over)
        if why:
            return why
    return None


def _forbidden_string(text: str, rule: Rule) -> str | None:
    """A string naming a forbidden attribute or module (``getattr(t, "backward")``,
    ``operator.methodcaller("backward")``, ``functools.reduce(getattr, ["autograd", ...])``)."""
    words = set(re.split(r"[^A-Za-z0-9_]+", text))
    for attr in rule.forbidden_attrs:
        if attr in words:
            return f"names .{attr} in a string ({text[:40]!r}): attributes looked up by name count"
    for bad in rule.forbidden:
        parts = bad.split(".")
        if bad in text or (len(parts) > 1 and parts[-1] in words and len(parts[-1]) > 4):
            return f"names {bad} in a string ({text[:40]!r}): modules looked up by name count"
    return None


def dynamic_code(cells: list[str]) -> str | None:
    """The first construct in ``cells`` that could restore what the grader hides in the kernel,
    or ``None``: dynamic code (``exec``, ``__code__``, ``importlib``, ``runpy``, ``gc``, code
    magics, ``getattr`` with a computed name) or any use of the grader's own modules
    (``course_pkg.grading``: its agent does the hiding)."""
    aliases: dict[str, str] = {}
    for src in cells:
        if _CODE_MAGIC.search(src):
            return "a magic that runs code the grader cannot read (%run, %%file...)"
        tree = _parse(src)
        if tree is None:
            continue
        dyn = _dynamic_use(tree)
        if dyn:
            return dyn
        _collect_aliases(tree.body, aliases)
        for sub in ast.walk(tree):
            q = None
            if isinstance(sub, (ast.Name, ast.Attribute)):
                q = _qualname(sub, aliases)
            elif isinstance(sub, ast.ImportFrom) and sub.module:
                q = ".".join([sub.module, *(a.name for a in sub.names[:1])])
            elif isinstance(sub, ast.Import):
                q = sub.names[0].name if len(sub.names) == 1 else None
                for a in sub.names:
                    if a.name.startswith("course_pkg.grading"):
                        q = a.name
            if q and (q == "course_pkg.grading" or q.startswith("course_pkg.grading.")):
                return f"{q} (the grader's own code)"
            if (isinstance(sub, ast.Call) and isinstance(sub.func, ast.Name)
                    and sub.func.id in ("getattr", "setattr", "delattr") and len(sub.args) >= 2
                    and not isinstance(sub.args[1], ast.Constant)):
                return f"{sub.func.id} with a computed name"
            if isinstance(sub, ast.Attribute) and sub.attr in ("_getframe", "f_globals",
                                                               "f_locals", "f_back"):
                return f".{sub.attr}"
    return None


def _dynamic_use(tree: ast.AST) -> str | None:
    """``exec``/``eval``/``globals()``... anywhere in a cell (they can rebind any name)."""
    for sub in ast.walk(tree):
        if isinstance(sub, ast.Name) and sub.id in DYNAMIC:
            return sub.id
        if isinstance(sub, ast.Attribute) and (
                sub.attr in ("__dict__", "__code__", "__globals__", "__builtins__") or
                (sub.attr == "modules" and isinstance(sub.value, ast.Name)
                 and sub.value.id == "sys")):
            return f".{sub.attr}"
        if isinstance(sub, (ast.Import, ast.ImportFrom)):
            mods = [sub.module or ""] if isinstance(sub, ast.ImportFrom) else \
                [a.name for a in sub.names]
            for mod in mods:
                if mod.split(".")[0] in DYNAMIC_MODULES:
                    return mod
                if sub.__class__ is ast.Import or not getattr(sub, "level", 0):
                    if mod and not _installed(mod.split(".")[0]):
                        return (f"import {mod} (a module written by the notebook: the grader "
                                "reads only the notebook's cells)")
            if isinstance(sub, ast.ImportFrom) and sub.level:
                return "a relative import"
    return None


@functools.lru_cache(maxsize=256)
def _installed(top: str) -> bool:
    """Whether ``top`` is a module of the course's installation (not a file a notebook wrote
    into its folder: the grader's own process does not see that folder)."""
    import importlib.util

    try:
        return importlib.util.find_spec(top) is not None
    except (ImportError, ValueError):
        return False


def _loops_over_param(fn: ast.AST, index: int) -> str | None:
    """A ``for`` loop or comprehension of ``fn``'s own body iterating over something derived
    from its ``index``-th parameter (e.g. ``range(batch.num_tasks)``, ``batch.x_support``)."""
    if not isinstance(fn, ast.FunctionDef) or len(fn.args.args) <= index:
        return None
    tainted = {fn.args.args[index].arg}
    for _ in range(3):  # names assigned from the parameter (T = batch.num_tasks; xs = ...)
        for sub in ast.walk(fn):
            if isinstance(sub, ast.Assign) and _mentions(sub.value, tainted):
                for t in sub.targets:
                    tainted |= {n.id for n in ast.walk(t) if isinstance(n, ast.Name)}
    for sub in ast.walk(fn):
        iters = []
        if isinstance(sub, (ast.For, ast.AsyncFor)):
            iters.append(sub.iter)
        elif isinstance(sub, ast.comprehension):
            iters.append(sub.iter)
        elif isinstance(sub, ast.While) and _mentions(sub.test, tainted):
            return "loops over the tasks in Python"
        if any(_mentions(it, tainted) for it in iters):
            return "loops over the tasks in Python"
    return None


def _mentions(node: ast.AST, names: set[str]) -> bool:
    return any(isinstance(n, ast.Name) and n.id in names for n in ast.walk(node))


__all__ = ["RULES", "Rule", "check_rule"]

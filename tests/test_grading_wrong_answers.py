"""Every hidden test can fail: for each one, a wrong answer that it catches and the question's
public tests do not.

The generic wrong answer of a hidden test T is the solution itself, wrapped: on every input the
question's *other* tests use it answers right (so they pass), on any other input it answers
wrong (a perturbed value; a number instead of an exception). T must fail on it, i.e. T tries an
input no other test tries. Tests that check a property on shared inputs (a boundary, a side
effect, a call count) get a hand-written wrong answer (``solutions/masters/wrong_answers.py``).

Runs the solved notebooks' code and the tests in this process (``in_kernel`` is then a plain
call), so it is fast.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
import types

import pytest
import torch

from course_pkg.grading.masters import course_root, output_paths
from course_pkg.grading.paths import list_masters
from course_pkg.grading.questions import load_question
from course_pkg.grading.submission import checked_questions, is_otter_cell, question_files

ROOT = course_root()
_spec = importlib.util.spec_from_file_location("wrong_answers",
                                               ROOT / "solutions" / "masters" / "wrong_answers.py")
WRONG = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(WRONG)
WRONG = WRONG.WRONG


# -- fingerprints of arguments --------------------------------------------------------------------
def _fp(x, h, depth=0) -> None:
    if depth > 8:
        h.update(b"deep")
        return
    h.update(type(x).__name__.encode())
    if isinstance(x, torch.Tensor):
        t = x.detach().cpu()
        h.update(str((tuple(t.shape), t.dtype)).encode())
        h.update(t.contiguous().view(-1).to(torch.float64 if not t.is_complex() else
                                             torch.complex128).numpy().tobytes())
    elif isinstance(x, (bool, int, float, complex, str, bytes, type(None))):
        h.update(repr(x).encode())
    elif isinstance(x, (types.ModuleType, type)) or callable(x) and not isinstance(
            x, (types.FunctionType, functools.partial, torch.nn.Module)):
        h.update(repr(getattr(x, "__name__", type(x).__name__)).encode())
    elif isinstance(x, (list, tuple)):
        for v in x:
            _fp(v, h, depth + 1)
    elif isinstance(x, dict):
        for k, v in x.items():
            h.update(repr(k).encode())
            _fp(v, h, depth + 1)
    elif isinstance(x, torch.nn.Module):
        _fp(dict(x.state_dict()), h, depth + 1)
    elif isinstance(x, torch.Generator):
        _fp(x.get_state(), h, depth + 1)
    elif isinstance(x, functools.partial):
        _fp((x.func, x.args, x.keywords), h, depth + 1)
    elif isinstance(x, types.FunctionType):
        _fp_code(x.__code__, h)
        _fp(x.__defaults__, h, depth + 1)
        for cell in x.__closure__ or ():
            try:
                _fp(cell.cell_contents, h, depth + 1)
            except ValueError:
                pass
    elif hasattr(x, "__array__"):
        _fp(torch.as_tensor(x.__array__()), h, depth + 1)
    elif hasattr(x, "__dict__"):
        _fp(vars(x), h, depth + 1)
    else:
        h.update(repr(x).encode())


def _fp_code(code, h) -> None:
    h.update(code.co_code)
    for c in code.co_consts:
        if isinstance(c, types.CodeType):
            _fp_code(c, h)
        else:
            h.update(repr(c).encode())


def fingerprint(args, kwargs) -> str:
    h = hashlib.sha256()
    _fp((args, kwargs), h)
    return h.hexdigest()


# -- wrong values ------------------------------------------------------------------------------
def perturb(x, salt: float = 0.0):
    """A wrong value like ``x``; ``salt`` (from the input's fingerprint) makes different inputs
    wrong by different amounts, so that invariances (order, scale) break too."""
    e = 0.37 + salt
    if isinstance(x, torch.Tensor):
        if x.dtype == torch.bool:
            return ~x
        if x.is_floating_point() or x.is_complex():
            return x.detach() + e * (1 + x.detach().abs())
        return x + 1
    if isinstance(x, bool):
        return not x
    if isinstance(x, (int, float)):
        return x + e * (1 + abs(x))
    if isinstance(x, tuple):  # each element wrong by its own amount (relations break too)
        return tuple(perturb(v, salt + 0.1 * i) for i, v in enumerate(x))
    if isinstance(x, list):
        return [perturb(v, salt + 0.1 * i) for i, v in enumerate(x)]
    if isinstance(x, dict):
        return {k: perturb(v, salt) for k, v in x.items()}
    if hasattr(x, "__array__"):
        import numpy as np

        a = np.asarray(x)
        return a + e * (1 + abs(a)) if a.dtype.kind in "fc" else a + 1
    return None


# -- the solved notebooks ----------------------------------------------------------------------
def _src(c) -> str:
    return "".join(c["source"]) if isinstance(c["source"], list) else c["source"]


@functools.cache
def solved_namespace(name: str) -> dict:
    """The solved twin's code run in this process, up to its last ``grader.check`` cell."""
    nb = json.loads(output_paths(name, ROOT)["solution"].read_text())
    cells = [_src(c) for c in nb["cells"] if c["cell_type"] == "code"]
    last = max(i for i, s in enumerate(cells) if checked_questions(s))
    ns: dict = {"__name__": f"solved_{name}"}
    try:
        for src in cells[: last + 1]:
            if is_otter_cell(src) or src.lstrip().startswith(("%", "!")):
                continue
            exec(compile(src, f"<{name}>", "exec"), ns)  # noqa: S102 - the course's solution
    finally:
        torch.set_default_dtype(torch.float32)
    return ns


def _run(case, env: dict) -> str | None:
    """``None`` when the test passes, else its message. Tests run with torch's default dtype,
    as in the trusted grader (a notebook's ``set_default_dtype`` stays in its kernel)."""
    torch.set_default_dtype(torch.float32)
    torch.manual_seed(0)  # a test that builds unseeded inputs builds the same ones every run
    try:
        case.func(**{p: (dict(env) if p == "env" else env.get(p)) for p in case.params})
    except BaseException as err:  # noqa: BLE001 - a failing test, whatever it raised
        if isinstance(err, KeyboardInterrupt):
            raise
        return f"{type(err).__name__}: {err}"[:300]
    return None


def _hidden_tests():
    for name in list_masters(ROOT):
        for f in question_files(name, ROOT):
            q = load_question(f)
            for case in q.cases:
                if case.hidden:
                    yield pytest.param(name, q.name, case.name, id=f"{name}-{case.name}")


def _generic_wrong(ns: dict, names: list[str], others) -> dict:
    """The functions of ``names`` answering right on every input ``others`` use, wrong else."""
    seen: dict[str, set[str]] = {n: set() for n in names}
    recording = {}
    for n in names:
        fn = ns[n]

        def rec(*a, _n=n, _fn=fn, **k):
            seen[_n].add(fingerprint(a, k))
            return _fn(*a, **k)
        recording[n] = rec
    for case in others:
        _run(case, {**ns, **recording})
    wrong = {}
    for n in names:
        fn = ns[n]

        def w(*a, _n=n, _fn=fn, **k):
            fp = fingerprint(a, k)
            known = fp in seen[_n]
            try:
                out = _fn(*a, **k)
            except Exception:
                if known:
                    raise
                return 1.0  # a number where the right answer raises
            return out if known else perturb(out, int(fp[:6], 16) / 2**24)
        wrong[n] = w
    return wrong


@pytest.mark.timeout(600)
@pytest.mark.parametrize(("name", "qname", "test"), list(_hidden_tests()))
def test_hidden_test_fails_on_a_wrong_answer_only_it_catches(name, qname, test):
    q = load_question(output_paths(name, ROOT)["tests"] / f"{qname}.py")
    ns = solved_namespace(name)
    target = next(c for c in q.cases if c.name == test)
    public = [c for c in q.cases if not c.hidden]
    assert _run(target, ns) is None, "the hidden test fails on the solution itself"
    if (name, test) in WRONG:
        fname, code = WRONG[(name, test)]
        scope = dict(ns)
        exec(code, scope)  # noqa: S102 - the course's own wrong answer
        env = {**ns, fname: scope[fname]}
        others = public
    else:
        names = [n for n in q.names if n in ns and callable(ns[n])]
        others = [c for c in q.cases if c is not target]
        # a value (not a function) is wrong only when no other test reads it
        values = {n: perturb(ns[n]) for n in target.params if n in ns and not callable(ns[n])
                  and not any(n in c.params for c in others)}
        env = {**ns, **_generic_wrong(ns, names, others), **values}
    assert _run(target, env) is not None, (
        f"{test} passes on a wrong answer: it tries no input the question's other tests do not; "
        "give it one, or add a hand-written wrong answer to solutions/masters/wrong_answers.py")
    for case in others:
        assert _run(case, env) is None, f"{case.name} also catches the wrong answer of {test}"


def test_every_hand_written_wrong_answer_names_a_hidden_test():
    hidden = {(p.values[0], p.values[2]) for p in _hidden_tests()}
    assert set(WRONG) <= hidden, set(WRONG) - hidden


VERDICT_CALLS = {"equal", "allclose", "isclose", "all", "any", "assert_close", "array_equal"}


def _probe_verdicts(path) -> list[str]:
    """Probes (functions passed to ``in_kernel``) that decide something in the notebook's
    kernel: a comparison, ``torch.equal``/``allclose``..., or an assert."""
    import ast

    tree = ast.parse(path.read_text())
    probes = {a.args[0].id for a in ast.walk(tree) if isinstance(a, ast.Call)
              and getattr(a.func, "id", None) == "in_kernel" and a.args
              and isinstance(a.args[0], ast.Name)}
    bad = []
    for fn in ast.walk(tree):
        if not isinstance(fn, ast.FunctionDef) or fn.name not in probes:
            continue
        for node in ast.walk(fn):
            if isinstance(node, ast.Assert):
                bad.append(f"{fn.name}: assert")
            elif isinstance(node, ast.Call) and VERDICT_CALLS & {
                    getattr(node.func, "attr", None), getattr(node.func, "id", None)}:
                bad.append(f"{fn.name}: {ast.unparse(node.func)}()")
            elif isinstance(node, ast.Return) and node.value is not None and any(
                    isinstance(n, ast.Compare) for n in ast.walk(node.value)):
                bad.append(f"{fn.name}: returns a comparison")
    return bad


@pytest.mark.parametrize("name", list_masters(ROOT))
def test_no_verdict_is_computed_in_the_kernel(name):
    """A probe that runs in the learner's kernel returns plain data (values, gradients, counts,
    parameters after the call); the test compares them in the grader, where nothing the notebook
    patched (``torch.equal``, ``allclose``) can decide the verdict."""
    bad = [b for f in question_files(name, ROOT) for b in _probe_verdicts(f)]
    assert not bad, bad

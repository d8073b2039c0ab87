"""The grader's agent inside the learner's kernel: calls learner objects, returns plain data.

Runs in the *untrusted* kernel (:mod:`course_pkg.grading.boundary` is the trusted side). A request
is a pickle written by the grader (trusted -> untrusted, so unpickling it here is safe); the answer
is written with ``torch.save`` holding only tensors, numbers, strings, lists, tuples and dicts,
which the grader reads with ``torch.load(weights_only=True)``. Nothing this module returns is
believed: the learner may patch it, and then only their own answers change.

Encoding of a value (:func:`encode`): tensors (detached copies), Python scalars, strings, ``None``
as themselves; lists, tuples, dicts recursively; numpy arrays and scalars, sets and ``...`` as
tagged dicts ``{"__course__": kind, ...}``; any other object (functions, modules, models) as a
handle (an index into :data:`_objects`) that the grader can call or ask for attributes.
"""

from __future__ import annotations

import sys
from typing import Any

TAG = "__course__"
_objects: list = []
MAX_DEPTH = 12
MAX_ITEMS = 200_000


def _main() -> dict:
    return sys.modules["__main__"].__dict__


def _handle(x) -> dict:
    _objects.append(x)
    return {TAG: "handle", "id": len(_objects) - 1, "type": type(x).__qualname__,
            "callable": callable(x)}


def encode(x: Any, depth: int = 0, count: list | None = None) -> Any:
    """Plain, ``weights_only``-loadable form of ``x`` (see the module docstring)."""
    import torch

    count = count if count is not None else [0]
    count[0] += 1
    if depth > MAX_DEPTH or count[0] > MAX_ITEMS:
        raise ValueError("the returned value is nested too deeply or is too large to grade")
    if x is None or type(x) in (bool, int, float, str):
        return x
    if x is Ellipsis:
        return {TAG: "ellipsis"}
    if isinstance(x, torch.Tensor):
        t = x.detach()
        if type(t) is not torch.Tensor:
            t = t.as_subclass(torch.Tensor)
        if t.is_sparse or t.layout != torch.strided:
            t = t.to_dense()
        return t.cpu().clone().contiguous()
    np = sys.modules.get("numpy")
    if np is not None:
        if isinstance(x, np.ndarray):
            if x.dtype.kind in "biufc" and x.dtype.byteorder in "=|<":
                return {TAG: "ndarray", "data": torch.from_numpy(np.ascontiguousarray(x).copy())}
            return {TAG: "ndarray_list", "data": encode(x.tolist(), depth + 1, count),
                    "shape": list(x.shape)}
        if isinstance(x, np.generic):
            return {TAG: "npscalar", "dtype": x.dtype.str, "value": encode(x.item(), depth + 1,
                                                                             count)}
    if isinstance(x, bool):
        return bool(x)
    if isinstance(x, int):
        return int(x)
    if isinstance(x, float):
        return float(x)
    if isinstance(x, str):
        return str(x)
    if isinstance(x, tuple):
        return tuple(encode(v, depth + 1, count) for v in x)
    if isinstance(x, list):
        return [encode(v, depth + 1, count) for v in x]
    if isinstance(x, (set, frozenset)):
        return {TAG: "set", "items": [encode(v, depth + 1, count) for v in x]}
    if isinstance(x, dict) and all(type(k) in (str, int) for k in x):
        return {k: encode(v, depth + 1, count) for k, v in x.items()}
    return _handle(x)


_SWAPPED: dict = {}


def hide(qualnames: list[str], messages: list[str]) -> list[str]:
    """Swap the code of each function ``module.function`` for one that raises
    ``NotImplementedError(message)`` (every alias of the function object sees it); returns the
    names swapped. :func:`restore` undoes it."""
    import importlib

    done = []
    for qual, msg in zip(qualnames, messages):
        module, attr = qual.rsplit(".", 1)
        fn = getattr(importlib.import_module(module), attr)
        ns: dict = {}
        exec(f"def {attr}(*args, **kwargs):\n    raise NotImplementedError({msg!r})", ns)
        _SWAPPED.setdefault(qual, (fn, fn.__code__))
        fn.__code__ = ns[attr].__code__
        done.append(qual)
    return done


def restore() -> list[str]:
    """Give back the code :func:`hide` swapped out."""
    done = []
    for qual, (fn, code) in list(_SWAPPED.items()):
        fn.__code__ = code
        del _SWAPPED[qual]
        done.append(qual)
    return done


def _load_request(path: str):
    import dill

    class _Unpickler(dill.Unpickler):
        def persistent_load(self, pid):
            kind, key = pid
            if kind == "handle":
                return _objects[key]
            raise KeyError(pid)

    with open(path, "rb") as fh:
        return _Unpickler(fh).load()


def _error(err: BaseException) -> dict:
    return {TAG: "error", "type": type(err).__name__,
            "mro": [c.__name__ for c in type(err).__mro__], "message": str(err)[:2000]}


def serve(request_path: str, response_path: str) -> None:
    """Answer one request of the grader (see :class:`course_pkg.grading.boundary.Session`)."""
    import torch

    try:
        op, target, args, kwargs = _load_request(request_path)
        if op == "lookup":  # target: list of global names
            ns = _main()
            result = {name: (encode(ns[name]) if name in ns else {TAG: "missing"})
                      for name in target}
        elif op == "call":  # target: handle id
            result = encode(_objects[target](*args, **kwargs))
        elif op == "getattr":
            result = encode(getattr(_objects[target], args[0]))
        elif op == "run":  # target: a probe function of the grader, by value
            result = encode(target(*args, **kwargs))
        elif op == "hide":  # target: qualified names; args[0]: messages
            result = hide(list(target), list(args[0]))
        elif op == "restore":
            result = restore()
        else:
            raise ValueError(f"unknown request {op!r}")
        payload = {TAG: "ok", "value": result}
    except BaseException as err:  # noqa: BLE001 - the learner's code may raise anything
        payload = _error(err)
    try:
        torch.save(payload, response_path)
    except BaseException as err:  # noqa: BLE001 - e.g. an unpicklable tensor subclass
        torch.save(_error(err), response_path)


__all__ = ["encode", "serve"]

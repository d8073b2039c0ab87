"""The trusted side of the grading boundary: call the learner's objects, get plain data back.

The hidden tests run in the grader's own process. The names they take as parameters (the
learner's functions and values) are :class:`Remote` proxies or plain values fetched from the
sandboxed kernel: calling a proxy sends the arguments to the kernel (a pickle: trusted ->
untrusted), the kernel's agent (:mod:`course_pkg.grading.agent`) calls the learner's function and
writes the result with ``torch.save``; we read it with ``torch.load(weights_only=True)`` after
checking that it is a regular file below a size cap. Every assertion, reference value and
comparison is computed here, so nothing the learner patches in the kernel (``float``, ``json``,
``np.isclose``, otter...) can change it.

A test that needs the learner's result as an autograd graph (``create_graph=True``) runs a small
probe *inside* the kernel with :func:`in_kernel` and compares the plain numbers it returns.
Outside grading (``grader.check`` in the learner's notebook, ``otter run``) :func:`in_kernel`
simply calls the probe.
"""

from __future__ import annotations

import builtins
import contextvars
import functools
import io
import os
import re
import secrets
import stat
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .agent import TAG
from .sandbox import make_readable

#: the session the current test runs against (None outside grading)
_ACTIVE: contextvars.ContextVar[Session | None] = contextvars.ContextVar("course_grading_session",
                                                                        default=None)
MAX_RESPONSE_BYTES = 64 * 1024 * 1024


class RemoteFailure(Exception):
    """The learner's kernel did not answer (timeout, crash, memory): the test fails."""


class GraderTimeout(BaseException):
    """The trusted grader spent too long on one question (raised by a timer, see
    :func:`course_pkg.grading.grade.trusted_time_bound`); a BaseException so that no test's
    ``except Exception`` swallows it."""


class KernelLost(RemoteFailure):
    """The kernel died or had to be killed: its namespace is gone."""


class Remote:
    """A learner's object living in the sandboxed kernel (a function, a model...)."""

    __slots__ = ("_session", "_id", "_type", "_callable", "_name")

    def __init__(self, session: Session, hid: int, type_name: str, is_callable: bool,
                 name: str | None = None):
        self._session, self._id, self._type, self._callable = session, hid, type_name, is_callable
        self._name = name  # the learner's global name, when it was looked up by name

    def __call__(self, *args, **kwargs):
        if not self._callable:
            raise TypeError(f"'{self._type}' object is not callable")
        out = self._session.request("call", self._id, args, kwargs)
        if out is None and self._name:
            self._session.returned_none.add(self._name)
        return out

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        return self._session.request("getattr", self._id, (name,), {})

    def __repr__(self) -> str:
        return f"<{self._type} from the notebook>"


def in_kernel(probe: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run ``probe(*args, **kwargs)`` next to the learner's code; returns plain data.

    During grading the probe (a function of the test file, sent by value) runs in the sandboxed
    kernel, so it may build autograd graphs through the learner's functions; the test then
    compares what it returns (tensors, numbers...) in the grader. Elsewhere it is a plain call.
    """
    session = _ACTIVE.get()
    if session is None:
        return probe(*args, **kwargs)
    return session.request("run", probe, args, kwargs)


def _exception(info: dict) -> BaseException:
    """An exception of the same builtin class as the learner's (``ValueError``...)."""
    msg = str(info.get("message", ""))[:2000]
    names = [str(n) for n in info.get("mro", [])]
    for n in names:
        cls = getattr(builtins, n, None)
        if isinstance(cls, type) and issubclass(cls, Exception):
            try:
                err = cls(msg)
            except Exception:  # noqa: BLE001 - e.g. UnicodeDecodeError needs 5 arguments
                continue
            if n != names[0]:
                err = cls(f"{names[0]}: {msg}")
            err.course_raised_by_learner = names[0]
            return err
    err = RuntimeError(f"{names[0] if names else 'exception'}: {msg}")
    err.course_raised_by_learner = names[0] if names else "exception"
    return err


class Session:
    """One grading conversation with a sandboxed kernel (:class:`GradingKernel`)."""

    def __init__(self, kernel: Any, timeout: float, deadline: float) -> None:
        self.kernel, self.timeout, self.deadline = kernel, timeout, deadline
        self.lost = False
        self.stopped = False  # set when the trusted side stopped a question mid-call
        self.calls = 0
        self.returned_none: set[str] = set()  # learner functions that returned None

    # -- activation for in_kernel -------------------------------------------------------------
    def __enter__(self) -> Session:
        self._token = _ACTIVE.set(self)
        return self

    def __exit__(self, *exc) -> None:
        _ACTIVE.reset(self._token)

    # -- requests ------------------------------------------------------------------------------
    def lookup(self, names: list[str]) -> dict[str, Any]:
        """The learner's global ``names``: plain values or :class:`Remote`; missing ones left
        out."""
        found = self.request("lookup", list(names), (), {})
        if not isinstance(found, dict):
            raise RemoteFailure("the notebook's kernel answered with something unexpected")
        for k, v in found.items():
            if type(v) is Remote and isinstance(k, str):
                v._name = k
        return {k: v for k, v in found.items() if v is not _MISSING and k in names}

    def request(self, op: str, target: Any, args: tuple, kwargs: dict) -> Any:
        if self.lost:
            raise KernelLost("the notebook's kernel was lost earlier in this question")
        left = self.deadline - time.monotonic()
        if left <= 1:
            raise RemoteFailure("not run: the total time limit was reached (--total-timeout)")
        self.calls += 1
        workdir = Path(self.kernel.cwd)
        token = secrets.token_hex(8)
        req, resp = workdir / f".req-{token}.pkl", workdir / f".resp-{token}.pt"
        try:
            _dump(req, (op, target, args, kwargs))
            make_readable(req)
            code = (f"__import__('course_pkg.grading.agent', fromlist=['serve'])"
                    f".serve({str(req)!r}, {str(resp)!r})")
            limit = min(self.timeout, left)
            res = self.kernel.run(code, timeout=limit)
            if res.kernel_lost:
                self.lost = True
                raise KernelLost(_lost_message(res, limit))
            if res.status == "timeout":
                raise RemoteFailure(f"your code did not finish within {limit:g} s")
            if not res.ok:
                raise RemoteFailure(f"the notebook's kernel refused the call: {res.ename}: "
                                    f"{(res.evalue or '')[:300]}")
            payload = _read_response(resp)
        finally:
            for p in (req, resp):
                try:
                    os.unlink(p)
                except OSError:
                    pass
        if not isinstance(payload, dict) or payload.get(TAG) not in ("ok", "error"):
            raise RemoteFailure("the notebook's kernel answered with something unexpected")
        if payload[TAG] == "error":
            raise _exception(payload)
        return decode(payload.get("value"), self)


def _lost_message(res, limit: float) -> str:
    if res.status == "timeout":
        return f"your code did not finish within {limit:g} s and ignored the interrupt"
    if res.memory:
        return "your code ran out of memory and the kernel died"
    return "the notebook's kernel died while running your code"


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


_MISSING = _Missing()


def _dump(path: Path, obj) -> None:
    import dill

    class _Pickler(dill.Pickler):
        def persistent_id(self, o):
            if type(o) is Remote:
                if o._session is not _ACTIVE.get() and _ACTIVE.get() is not None:
                    raise RemoteFailure("an object of another notebook cannot be sent")
                return ("handle", o._id)
            return None

    buf = io.BytesIO()
    _Pickler(buf, recurse=True).dump(obj)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    with os.fdopen(fd, "wb") as fh:
        fh.write(buf.getvalue())


def _read_response(path: Path):
    """Read the agent's answer safely: a regular file, not a link, under the size cap."""
    import torch

    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as err:
        raise RemoteFailure("the notebook's kernel wrote no answer (was the grader's agent "
                            f"patched?): {err.strerror}") from None
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fh.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise RemoteFailure("the kernel's answer is not a regular file")
        if st.st_size > MAX_RESPONSE_BYTES:
            raise RemoteFailure(f"the returned value is larger than "
                                f"{MAX_RESPONSE_BYTES // 2**20} MB")
        data = fh.read(MAX_RESPONSE_BYTES + 1)
    try:
        return torch.load(io.BytesIO(data), weights_only=True, map_location="cpu")
    except Exception as err:  # noqa: BLE001 - any malformed answer is a failure, never code
        raise RemoteFailure(f"the kernel's answer could not be decoded safely: "
                            f"{type(err).__name__}") from None


#: limits of a decoded answer, checked here whatever the kernel's agent claims
MAX_DEPTH = 32
MAX_ITEMS = 250_000
#: logical bytes of all tensors/arrays of one answer (a zero-stride ``expand`` view is counted
#: at its logical size: comparing it would allocate that much)
MAX_LOGICAL_BYTES = 64 * 1024 * 1024
MAX_INT_BITS = 1024
_NP_DTYPE = re.compile(r"^[<>|=]?[biufc][0-9]{1,2}$")


class _Budget:
    """What one answer may still hold (items, logical bytes); shared by a whole decode."""

    def __init__(self) -> None:
        self.items = MAX_ITEMS
        self.bytes = MAX_LOGICAL_BYTES

    def item(self) -> None:
        self.items -= 1
        if self.items < 0:
            raise RemoteFailure(f"the returned value holds more than {MAX_ITEMS} items")

    def tensor(self, t):
        """A plain, contiguous CPU copy of ``t`` once its logical size fits the budget."""
        import torch

        if not isinstance(t, torch.Tensor) or type(t) not in (torch.Tensor, torch.nn.Parameter):
            raise RemoteFailure(f"the returned value holds a {type(t).__name__}, not a tensor")
        if t.layout != torch.strided or t.is_quantized or t.is_sparse or t.device.type != "cpu":
            raise RemoteFailure("the returned tensor is not a plain dense CPU tensor "
                                f"(layout {t.layout}, dtype {t.dtype})")
        if t.dtype not in _plain_dtypes():
            raise RemoteFailure(f"the returned tensor has the unsupported dtype {t.dtype}")
        logical = t.numel() * t.element_size()
        self.bytes -= logical
        if self.bytes < 0:
            raise RemoteFailure(
                f"the returned value is too large to grade: a tensor of shape {tuple(t.shape)} "
                f"({logical / 2**20:.0f} MB; at most {MAX_LOGICAL_BYTES // 2**20} MB in all)")
        return t.detach().as_subclass(torch.Tensor).clone(memory_format=torch.contiguous_format)


@functools.lru_cache(maxsize=1)
def _plain_dtypes() -> frozenset:
    import torch

    return frozenset({torch.bool, torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64,
                      torch.float16, torch.bfloat16, torch.float32, torch.float64,
                      torch.complex64, torch.complex128})


def decode(x: Any, session: Session, *, _depth: int = 0, _budget: _Budget | None = None
           ) -> Any:
    """Undo :func:`course_pkg.grading.agent.encode` (plain data and :class:`Remote` handles).

    Linear in the size of the answer (each node is visited once), at most :data:`MAX_DEPTH`
    levels and :data:`MAX_ITEMS` nodes deep; tensors and arrays are refused beyond
    :data:`MAX_LOGICAL_BYTES` of *logical* size before anything compares them.

    Raises:
        RemoteFailure: the answer is nested too deeply, too large, or holds a non-plain tensor.
    """
    import numpy as np
    import torch

    budget = _budget or _Budget()
    budget.item()
    if _depth > MAX_DEPTH:
        raise RemoteFailure(f"the returned value is nested more than {MAX_DEPTH} levels deep")

    def sub(v):
        return decode(v, session, _depth=_depth + 1, _budget=budget)

    if x is None or type(x) in (bool, float, str):
        return x
    if type(x) is int:
        if x.bit_length() > MAX_INT_BITS:
            raise RemoteFailure(f"the returned integer has more than {MAX_INT_BITS} bits")
        return x
    if isinstance(x, torch.Tensor):
        return budget.tensor(x)
    if type(x) is dict:
        tag = x.get(TAG) if TAG in x else None
        if tag == "ellipsis":
            return Ellipsis
        if tag == "missing":
            return _MISSING
        if tag == "ndarray" and isinstance(x.get("data"), torch.Tensor):
            return budget.tensor(x["data"]).numpy()
        if tag == "ndarray_list":
            items = sub(x.get("data"))  # decoded once: np.array below never re-decodes
            try:
                arr = np.array(items)
            except Exception:  # noqa: BLE001 - ragged or odd: keep the plain list
                return items
            if arr.nbytes > budget.bytes:
                raise RemoteFailure("the returned array is too large to grade")
            budget.bytes -= arr.nbytes
            return arr
        if tag == "npscalar":
            value = sub(x.get("value"))
            dtype = str(x.get("dtype"))
            if _NP_DTYPE.match(dtype) and type(value) in (bool, int, float, complex):
                try:
                    return np.dtype(dtype).type(value)
                except Exception:  # noqa: BLE001 - e.g. an int too large for the dtype
                    return value
            return value
        if tag == "set":
            items = sub(x.get("items"))
            try:
                return set(items)
            except TypeError:
                return items
        if tag == "handle":
            hid = x.get("id")
            if type(hid) is not int:
                raise RemoteFailure("the kernel answered with a malformed handle")
            return Remote(session, hid, str(x.get("type"))[:100], bool(x.get("callable")))
        out = {}
        for k, v in x.items():
            if type(k) not in (str, int):
                raise RemoteFailure("the returned dict has keys that are not str or int")
            out[sub(k)] = sub(v)
        return out
    if type(x) is list:
        return [sub(v) for v in x]
    if type(x) is tuple:
        return tuple(sub(v) for v in x)
    if type(x) is complex:
        return x
    raise RemoteFailure(f"the kernel answered with an unexpected {type(x).__name__}")


__all__ = ["GraderTimeout", "KernelLost", "Remote", "RemoteFailure", "Session", "in_kernel"]

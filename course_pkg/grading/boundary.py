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
import io
import os
import secrets
import stat
import time
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


class KernelLost(RemoteFailure):
    """The kernel died or had to be killed: its namespace is gone."""


class Remote:
    """A learner's object living in the sandboxed kernel (a function, a model...)."""

    __slots__ = ("_session", "_id", "_type", "_callable")

    def __init__(self, session: Session, hid: int, type_name: str, is_callable: bool):
        self._session, self._id, self._type, self._callable = session, hid, type_name, is_callable

    def __call__(self, *args, **kwargs):
        if not self._callable:
            raise TypeError(f"'{self._type}' object is not callable")
        return self._session.request("call", self._id, args, kwargs)

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        return self._session.request("getattr", self._id, (name,), {})

    def __repr__(self) -> str:
        return f"<{self._type} from the notebook>"


def in_kernel(probe, *args, **kwargs):
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
            return err
    return RuntimeError(f"{names[0] if names else 'exception'}: {msg}")


class Session:
    """One grading conversation with a sandboxed kernel (:class:`GradingKernel`)."""

    def __init__(self, kernel, timeout: float, deadline: float):
        self.kernel, self.timeout, self.deadline = kernel, timeout, deadline
        self.lost = False
        self.calls = 0

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
        return {k: v for k, v in found.items() if v is not _MISSING}

    def request(self, op: str, target, args: tuple, kwargs: dict):
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


def decode(x, session: Session):
    """Undo :func:`course_pkg.grading.agent.encode` (plain data and :class:`Remote` handles)."""
    import numpy as np

    if isinstance(x, dict):
        tag = x.get(TAG) if TAG in x else None
        if tag == "ellipsis":
            return Ellipsis
        if tag == "missing":
            return _MISSING
        if tag == "ndarray" and hasattr(x.get("data"), "numpy"):
            return x["data"].numpy()
        if tag == "ndarray_list":
            try:
                return np.array(decode(x.get("data"), session))
            except Exception:  # noqa: BLE001
                return decode(x.get("data"), session)
        if tag == "npscalar":
            value = decode(x.get("value"), session)
            try:
                dtype = np.dtype(str(x.get("dtype")))
                return dtype.type(value) if dtype.kind in "biufc" else value
            except Exception:  # noqa: BLE001
                return value
        if tag == "set":
            items = decode(x.get("items"), session)
            try:
                return set(items)
            except TypeError:
                return items
        if tag == "handle":
            return Remote(session, int(x.get("id")), str(x.get("type"))[:100],
                          bool(x.get("callable")))
        return {k: decode(v, session) for k, v in x.items()}
    if isinstance(x, list):
        return [decode(v, session) for v in x]
    if isinstance(x, tuple):
        return tuple(decode(v, session) for v in x)
    return x


__all__ = ["KernelLost", "Remote", "RemoteFailure", "Session", "in_kernel"]

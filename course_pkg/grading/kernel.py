"""A Python kernel that runs code one cell at a time, each under a time limit and a memory cap.

The grader executes a learner's notebook in it, inside the bubblewrap sandbox of
:mod:`course_pkg.grading.sandbox` when ``sandbox=True``. Whatever a cell does (loop
forever, raise, fail to parse, exhaust memory, kill its own process), :meth:`GradingKernel.run`
returns within ``timeout + interrupt_grace`` seconds with a :class:`CellResult` saying what
happened; a kernel that did not survive is replaced by a fresh one (``result.kernel_lost``), and
the caller decides what to replay into it.
"""

from __future__ import annotations

import os
import queue
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from jupyter_client import KernelManager
from jupyter_client.kernelspec import KernelSpec, KernelSpecManager

from .sandbox import (
    COURSE_MOUNT,
    Limits,
    _prlimit_argv,
    bwrap_argv,
    prepare_workdir,
    sandbox_python,
)

#: Markers in an error's name/value that mean "out of memory" (numpy, torch, plain Python).
_MEMORY_MARKERS = (
    "MemoryError",
    "Unable to allocate",
    "can't allocate memory",
    "bad_alloc",
    "out of memory",
    "Cannot allocate memory",
)


def is_memory_error(ename: str | None, evalue: str | None) -> bool:
    """Whether an error raised in the kernel looks like an exhausted memory cap."""
    text = f"{ename or ''} {evalue or ''}"
    return any(m in text for m in _MEMORY_MARKERS)


@dataclass
class CellResult:
    """What happened when one piece of code ran in the kernel.

    ``status`` is ``"ok"``, ``"error"`` (an exception or a syntax error), ``"timeout"`` or
    ``"dead"`` (the kernel process died, e.g. ``os._exit`` or the memory cap hit native code).
    ``kernel_lost`` is True when the kernel had to be replaced, i.e. the namespace is gone.
    """

    status: str
    seconds: float
    ename: str | None = None
    evalue: str | None = None
    stdout: str = ""
    kernel_lost: bool = False

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def memory(self) -> bool:
        """True when the failure looks like the memory cap was exceeded."""
        return self.status in ("error", "dead") and is_memory_error(self.ename, self.evalue)


class _FixedSpecManager(KernelSpecManager):
    """Kernel spec manager that always answers with the grader's own spec."""

    spec: KernelSpec | None = None

    def get_kernel_spec(self, kernel_name: str) -> KernelSpec:  # noqa: D102
        assert self.spec is not None
        return self.spec


@dataclass
class GradingKernel:
    """An ipykernel started with the grader's Python interpreter, in a scratch directory.

    Args:
        mem_mb: address-space cap (``RLIMIT_AS``) of the kernel process in MiB; ``None`` or 0
            for no cap. Note that importing torch alone reserves about 3.2 GB of address space.
        sandbox: run the kernel inside bubblewrap (:mod:`course_pkg.grading.sandbox`); its work
            folder is then the only place it can write, and the only folder shared with us.
        cpu_seconds: CPU-time limit of the kernel process (0: none).
        cwd: working directory of the kernel (default: a fresh temporary directory).
        startup_timeout: seconds to wait for a new kernel to answer.
        interrupt_grace: seconds a timed-out cell gets to react to SIGINT before the kernel is
            killed and replaced.
        max_output_chars: stream output kept per cell (the rest is dropped).
    """

    mem_mb: int | None = 6144
    sandbox: bool = False
    cpu_seconds: int = 0
    cwd: str | None = None
    startup_timeout: float = 90.0
    interrupt_grace: float = 5.0
    max_output_chars: int = 200_000
    #: MB the kernel may write into its work folder (0: unwatched); checked while a cell runs
    disk_mb: int = 512
    #: course_pkg module file -> functions absent in the sandbox (stubbed copies mounted over
    #: the originals; see :mod:`course_pkg.grading.references`); sandbox only
    absent: dict | None = None
    #: code run after every (re)start, before any cell, under ``startup_timeout`` (the grader
    #: imports its agent, torch and numpy here, so that their import time is not charged to the
    #: learner's first cell)
    warmup: str | None = None
    restarts: int = field(default=0, init=False)
    #: set by the grader when the namespace must be rebuilt (cells replayed from the top)
    restarts_pending: bool = field(default=False, init=False)

    def __post_init__(self) -> None:
        self._tmp = None
        if self.cwd is None:
            self._tmp = prepare_workdir()
            self.cwd = self._tmp
        self._ipython_dir = os.path.join(self.cwd, ".ipython")
        os.makedirs(self._ipython_dir, exist_ok=True)
        if os.geteuid() == 0 and self.sandbox:
            os.chown(self._ipython_dir, 65534, 65534)
        self.km: KernelManager | None = None
        self.kc = None
        self._stubs: str | None = None
        self._overlays: list[tuple[str, str]] = []
        if self.absent and self.sandbox:
            from .references import stub_tree

            self._stubs = prepare_workdir(stubs=True)
            course_pkg_dir = str(Path(__file__).resolve().parents[1])
            self._overlays = stub_tree(course_pkg_dir, self.absent, self._stubs)

    @property
    def limits(self) -> Limits:
        return Limits(mem_mb=int(self.mem_mb or 0), cpu_seconds=int(self.cpu_seconds or 0),
                      disk_mb=int(self.disk_mb or 0))

    # -- life cycle ------------------------------------------------------------------------
    def _spec(self) -> KernelSpec:
        env = {
            # a clean, quiet, deterministic kernel: no user profile, no history database
            "IPYTHONDIR": self._ipython_dir,
            "HOME": self.cwd,
            "MPLCONFIGDIR": os.path.join(self.cwd, ".matplotlib"),
            "MPLBACKEND": "Agg",
            "TQDM_DISABLE": "1",
            "COURSE_STATIC_FIGURES": "1",
            "PYTHONHASHSEED": "0",
            "PYDEVD_DISABLE_FILE_VALIDATION": "1",
            # grading is small CPU work: one thread and few malloc arenas keep the address space
            # (what RLIMIT_AS counts) independent of the machine's core count, and hiding GPUs
            # avoids CUDA's huge virtual reservations (which RLIMIT_AS would refuse)
            "OMP_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1",
            "MALLOC_ARENA_MAX": "2",
            "CUDA_VISIBLE_DEVICES": "",
            "COURSE_DEVICE": "cpu",
        }
        prefix = _prlimit_argv(self.limits)
        if self.sandbox:
            course_pkg_dir = str(Path(__file__).resolve().parents[1])
            prefix = bwrap_argv(self.cwd, course_pkg_dir, self.limits, self._overlays)
            env["PYTHONPATH"] = COURSE_MOUNT
            env["PATH"] = f"{Path(sys.executable).parent}:/usr/bin:/bin"
        return KernelSpec(
            argv=[
                *prefix,
                sandbox_python() if self.sandbox else sys.executable,
                "-m",
                "ipykernel_launcher",
                "-f",
                "{connection_file}",
                "--HistoryManager.enabled=False",
                "--IPKernelApp.capture_fd_output=False",
            ],
            display_name="course grader",
            language="python",
            env=env,
            # bwrap does not forward signals: ask the kernel to interrupt itself instead
            interrupt_mode="message" if self.sandbox else "signal",
        )

    def start(self) -> None:
        """Start a fresh kernel and apply the memory cap."""
        ksm = _FixedSpecManager()
        ksm.spec = self._spec()
        self.km = KernelManager(
            kernel_name="course-grader", kernel_spec_manager=ksm, transport="ipc",
            connection_file=os.path.join(self.cwd, f".kernel-{self.restarts}.json"),
            ip=os.path.join(self.cwd, f".kernel-{self.restarts}-ipc"),
        )
        self.km.write_connection_file()
        os.chmod(self.km.connection_file, 0o644)  # readable by the sandboxed user
        # the kernel's own stdout/stderr (not the cells' output, which arrives over ZMQ) is noise
        self.km.start_kernel(cwd=self.cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.kc = self.km.blocking_client()
        self.kc.start_channels()
        try:
            self.kc.wait_for_ready(timeout=self.startup_timeout)
        except RuntimeError as err:
            self.shutdown()
            raise RuntimeError(f"the grading kernel did not start: {err}") from err
        if self.mem_mb and not prefix_has_limits():
            res = self.run(_memory_cap_code(int(self.mem_mb)), timeout=30)
            if not res.ok:
                raise RuntimeError(f"could not set the memory cap: {res.ename}: {res.evalue}")
        if self.warmup:
            res = self.run(self.warmup, timeout=self.startup_timeout)
            if not res.ok:
                raise RuntimeError(f"the grading kernel could not import its tools: {res.ename}: "
                                   f"{res.evalue}")

    def shutdown(self) -> None:
        """Kill the kernel (and its process group) if it is running."""
        if self.kc is not None:
            try:
                self.kc.stop_channels()
            except Exception:  # noqa: BLE001 - best effort during teardown
                pass
            self.kc = None
        if self.km is not None:
            try:
                self.km.shutdown_kernel(now=True)
            except Exception:  # noqa: BLE001
                pass
            self.km = None

    def restart(self) -> None:
        """Replace the kernel by a fresh one (the namespace is lost)."""
        self.shutdown()
        self.restarts += 1
        self.start()

    def close(self) -> None:
        """Shut down and remove the scratch directory."""
        self.shutdown()
        for attr in ("_tmp", "_stubs"):
            if getattr(self, attr, None) is not None:
                shutil.rmtree(getattr(self, attr), ignore_errors=True)
                setattr(self, attr, None)

    def __enter__(self) -> GradingKernel:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- execution -------------------------------------------------------------------------
    def _tampered(self, t0: float, out: list[str], err: Exception) -> CellResult:
        """The kernel's messages cannot be decoded (its messaging code was patched, e.g.
        ``json.dumps``): replace the kernel and report the cell as a lost kernel."""
        self.restart()
        return CellResult("dead", time.monotonic() - t0, "KernelProtocolError",
                          f"the kernel sent a message that is not valid Jupyter messaging "
                          f"({type(err).__name__}); was its messaging code changed?",
                          "".join(out), kernel_lost=True)

    def _over_disk_quota(self) -> bool:
        return bool(self.disk_mb) and workdir_bytes(self.cwd) > self.disk_mb * 1024 * 1024

    def _disk_quota_hit(self, t0: float, out: list[str]) -> CellResult:
        """The kernel wrote more than ``disk_mb`` into its work folder: kill it, delete what it
        wrote (the notebook copy and the IPython profile stay) and start a fresh kernel."""
        self.shutdown()
        keep = {"notebook.ipynb", ".ipython"}
        for e in os.scandir(self.cwd):
            if e.name in keep:
                continue
            if e.is_dir(follow_symlinks=False):
                shutil.rmtree(e.path, ignore_errors=True)
            else:
                try:
                    os.unlink(e.path)
                except OSError:
                    pass
        self.restarts += 1
        self.start()
        return CellResult("dead", time.monotonic() - t0, "DiskQuotaExceeded",
                          f"wrote more than {self.disk_mb} MB into the grading folder (files are "
                          "not part of an exercise's answer); the kernel was restarted",
                          "".join(out), kernel_lost=True)

    def run(self, code: str, timeout: float) -> CellResult:
        """Run ``code`` and wait at most ``timeout`` seconds (plus the interrupt grace).

        On a timeout the kernel is interrupted; if it does not become idle within
        ``interrupt_grace`` seconds it is killed and replaced (``kernel_lost=True``). A kernel that
        dies is replaced too.
        """
        assert self.kc is not None and self.km is not None, "kernel not started"
        t0 = time.monotonic()
        msg_id = self.kc.execute(code, store_history=False, allow_stdin=False, stop_on_error=False)
        out: list[str] = []
        n_out = 0
        ename = evalue = None
        deadline = t0 + timeout
        interrupted = False
        while True:
            now = time.monotonic()
            if now >= deadline:
                if interrupted:  # the interrupt did not bring the kernel back: replace it
                    self.restart()
                    return CellResult("timeout", time.monotonic() - t0, ename, evalue,
                                      "".join(out), kernel_lost=True)
                interrupted = True
                try:
                    self.km.interrupt_kernel()
                except Exception:  # noqa: BLE001 - kernel already gone: handled below
                    pass
                deadline = now + self.interrupt_grace
                continue
            if self._over_disk_quota():
                return self._disk_quota_hit(t0, out)
            try:
                msg = self.kc.get_iopub_msg(timeout=min(0.25, deadline - now))
            except queue.Empty:
                if not self.km.is_alive():
                    self.restart()
                    return CellResult("dead", time.monotonic() - t0, ename, evalue,
                                      "".join(out), kernel_lost=True)
                continue
            except Exception as err:  # noqa: BLE001 - a message we cannot decode
                return self._tampered(t0, out, err)
            try:
                if msg.get("parent_header", {}).get("msg_id") != msg_id:
                    continue
                mtype, content = msg["msg_type"], msg["content"]
            except Exception as err:  # noqa: BLE001 - not a Jupyter message
                return self._tampered(t0, out, err)
            if mtype == "stream" and n_out < self.max_output_chars:
                text = content.get("text", "")[: self.max_output_chars - n_out]
                out.append(text)
                n_out += len(text)
            elif mtype == "error":
                ename, evalue = content.get("ename"), content.get("evalue")
            elif mtype == "status" and content.get("execution_state") == "idle":
                break
        if self._over_disk_quota():
            return self._disk_quota_hit(t0, out)
        seconds = time.monotonic() - t0
        if interrupted:
            return CellResult("timeout", seconds, ename, evalue, "".join(out))
        status = "error" if ename is not None else "ok"
        return CellResult(status, seconds, ename, evalue, "".join(out))


#: more entries than this in a work folder count as over any quota (and keep the walk cheap)
MAX_WORKDIR_ENTRIES = 20_000


def workdir_bytes(path: str) -> int:
    """Bytes allocated under ``path`` (files, folders, links; not followed); a folder with more
    than :data:`MAX_WORKDIR_ENTRIES` entries counts as infinitely large."""
    total, stack, seen = 0, [path], 0
    while stack:
        try:
            it = os.scandir(stack.pop())
        except OSError:
            continue
        with it:
            for e in it:
                seen += 1
                if seen > MAX_WORKDIR_ENTRIES:
                    return 1 << 62
                try:
                    st = e.stat(follow_symlinks=False)
                except OSError:
                    continue
                total += st.st_blocks * 512
                if e.is_dir(follow_symlinks=False):
                    stack.append(e.path)
    return total


def prefix_has_limits() -> bool:
    """Whether the kernel's limits are set by ``prlimit`` before it starts."""
    return shutil.which("prlimit") is not None


def _memory_cap_code(mem_mb: int) -> str:
    """Code that lowers the kernel's own RLIMIT_AS (soft and hard: it cannot be raised again)."""
    return (
        "import resource as _r\n"
        f"_cap = {mem_mb} * 1024 * 1024\n"
        "_soft, _hard = _r.getrlimit(_r.RLIMIT_AS)\n"
        "if _hard != _r.RLIM_INFINITY:\n"
        "    _cap = min(_cap, _hard)\n"
        "_r.setrlimit(_r.RLIMIT_AS, (_cap, _cap))\n"
        "del _r, _cap, _soft, _hard\n"
    )


__all__ = ["CellResult", "GradingKernel", "is_memory_error"]

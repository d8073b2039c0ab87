"""Container mode: the grading boundary where bubblewrap cannot run (Docker, a hub pod).

bubblewrap needs user namespaces or the right to mount, which Docker's default seccomp profile
refuses; inside a Gradescope container or a Kubernetes pod ``bwrap`` therefore fails. The
container itself then separates submissions from each other, and this module separates the
learner's kernel from the grader inside it:

- the kernel runs as an unprivileged user of its own (:func:`kernel_uid`: a numeric uid with no
  account, one per grader process; ``setpriv``: no capabilities, empty bounding set,
  ``no_new_privs``), so it cannot write to anything root owns (the tests, the
  grader's files, ``course_pkg``), cannot read files that are not world-readable (the platform
  entry points make the hidden tests root-only, :func:`hide`), cannot ptrace or signal the
  grader and cannot read its memory or environment (``/proc`` of another user);
- it has its own resource limits (``prlimit``: address space, CPU seconds, processes, file size,
  no core dumps);
- the hidden tests and the scoring stay in the grader's process, as with bubblewrap.

What it does not give, unlike bubblewrap: its own PID, network and mount namespaces. The kernel
sees the container's file system (world-readable files) and the network the container has, and
a process it detaches survives the kernel: :func:`end_processes` ends every process of the
kernel's user after grading (the platform entry points call it; that uid is this grader's alone,
so no other grader's kernel is touched). :func:`choose_boundary` is what
``sandbox.sandbox_status`` calls: bubblewrap when it works, else this mode when we are root with
``setpriv`` and ``prlimit``, else no boundary.
``COURSE_GRADING_BOUNDARY=container`` selects this mode even where bubblewrap works (tests).
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

NOBODY_UID = 65534
#: the kernels' uids: UID_BASE + (grader's PID mod UID_SPAN), far above any account's uid
UID_BASE = 1_900_000_000
UID_SPAN = 100_000_000
#: the boundary in use in this process: "bubblewrap", "container" or "none" (set by
#: :func:`choose_boundary`)
_MODE = {"mode": "none"}


def in_container_mode() -> bool:
    """True when :func:`choose_boundary` picked the container mode in this process."""
    return _MODE["mode"] == "container"


def boundary() -> str:
    """``"bubblewrap"``, ``"container"`` or ``"none"``: the boundary this process grades behind."""
    return _MODE["mode"]


def kernel_uid(pid: int | None = None) -> int:
    """The uid (and gid) the container mode runs this grader's kernels as: its own, so that
    RLIMIT_NPROC counts only its processes and :func:`end_processes` ends only them."""
    return UID_BASE + (os.getpid() if pid is None else pid) % UID_SPAN


def prlimit_argv(limits: Any, required: bool = True) -> list[str]:
    """``prlimit … --`` setting ``limits`` (address space, CPU seconds, processes, file size,
    no core dumps) for the command that follows; without prlimit: ``RuntimeError`` when
    ``required``, else ``[]`` (the kernel then lowers its own address space)."""
    exe = shutil.which("prlimit")
    if exe is None:
        if not required:
            return []
        raise RuntimeError("prlimit (util-linux) is missing")
    argv = [exe, "--core=0"]
    if limits.mem_mb:
        argv.append(f"--as={limits.mem_mb * 1024 * 1024}")
    if limits.cpu_seconds:
        argv.append(f"--cpu={limits.cpu_seconds}")
    if limits.processes:
        argv.append(f"--nproc={limits.processes}")
    if limits.file_mb:
        argv.append(f"--fsize={limits.file_mb * 1024 * 1024}")
    return [*argv, "--"]


def container_argv(workdir: str, course_pkg_dir: str, limits: Any) -> list[str]:
    """The command prefix that runs the kernel in container mode (see the module docstring).

    ``limits``: a :class:`course_pkg.grading.sandbox.Limits` (or anything with its fields). The
    kernel imports ``course_pkg`` from ``course_pkg_dir``'s parent and starts in ``workdir``,
    which is given to its user."""
    if os.geteuid() != 0:
        raise RuntimeError("container mode needs root (to run the kernel as another user)")
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        raise RuntimeError("setpriv (util-linux) is missing: cannot drop to another user")
    uid = kernel_uid()
    for folder, dirs, files in os.walk(workdir):
        for name in [*dirs, *files]:
            os.lchown(os.path.join(folder, name), uid, uid)
    os.chown(workdir, uid, uid)
    env = shutil.which("env") or "/usr/bin/env"
    return [*prlimit_argv(limits), setpriv, f"--reuid={uid}", f"--regid={uid}",
            "--clear-groups", "--no-new-privs", "--inh-caps=-all", "--bounding-set=-all", "--",
            env, f"PYTHONPATH={Path(course_pkg_dir).parent}", f"HOME={workdir}",
            f"USER=grader{uid}", f"LOGNAME=grader{uid}"]


def readable_by_others(path: Path) -> bool:
    """True when a user other than the owner could read ``path`` (every parent searchable and
    the file, or for a folder any file in it, readable by "others")."""
    path = Path(path).resolve()
    for parent in path.parents:
        if not parent.stat().st_mode & stat.S_IXOTH:
            return False
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    return any(p.stat().st_mode & stat.S_IROTH for p in files)


def hide(path: Path) -> None:
    """Make ``path`` (a file or a folder tree) readable and writable by its owner only."""
    path = Path(path)
    items = [path] + (sorted(path.rglob("*")) if path.is_dir() else [])
    for p in items:
        os.chmod(p, 0o700 if p.is_dir() else 0o600)


def _python() -> tuple[str, list[str]]:
    """The interpreter the kernel runs (this venv's, by its resolved path, as
    ``sandbox.sandbox_python``) and the folders it needs (installation, venv)."""
    exe = Path(sys.prefix).resolve() / "bin" / Path(sys.executable).name
    dirs = sorted({str(Path(d).resolve()) for d in (sys.base_prefix, sys.prefix, sys.exec_prefix)})
    return (str(exe) if exe.exists() else sys.executable), dirs


def _probe(course_pkg_dir: str) -> tuple[bool, str]:
    workdir = tempfile.mkdtemp(prefix="course-grade-probe-")
    os.chmod(workdir, 0o755)
    try:
        limits = SimpleNamespace(mem_mb=6144, cpu_seconds=60, processes=512, file_mb=64)
        argv = container_argv(workdir, course_pkg_dir, limits)
        script = Path(workdir) / "probe.py"
        script.write_text("import os, course_pkg; open('ok', 'w').write(str(os.getuid()))")
        os.chmod(script, 0o644)
        res = subprocess.run([*argv, _python()[0], str(script)], capture_output=True,
                             text=True, timeout=60, cwd=workdir)
        ok = Path(workdir) / "ok"
        if res.returncode != 0 or not ok.is_file():
            err = (res.stderr or res.stdout).strip().splitlines()
            return False, f"container mode does not start: {err[-1] if err else res.returncode}"
        if ok.read_text() != str(kernel_uid()):
            return False, f"container mode ran as uid {ok.read_text()}, not {kernel_uid()}"
        return True, "ok"
    except (OSError, RuntimeError, subprocess.TimeoutExpired) as err:
        return False, f"container mode does not start: {err}"
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def container_status(course_pkg_dir: str | None = None,
                     tests_dir: Path | None = None) -> tuple[bool, str]:
    """``(True, description)`` when the container mode works here, else ``(False, why not)``.

    ``tests_dir``: the hidden tests; the description says whether the kernel's user can read
    them (it can never write them)."""
    if os.geteuid() != 0:
        return False, "container mode needs root (to run the kernel as another user)"
    for tool in ("setpriv", "prlimit"):
        if shutil.which(tool) is None:
            return False, f"container mode needs {tool} (util-linux)"
    course_pkg_dir = course_pkg_dir or str(Path(__file__).resolve().parents[1])
    for d in [*_python()[1], course_pkg_dir]:
        closed = [str(p) for p in Path(d).resolve().parents if not p.stat().st_mode & stat.S_IXOTH]
        if closed:
            return False, (f"container mode: {d} is out of other users' reach ({closed[0]} is not "
                           "searchable by others; install Python and the course elsewhere, or "
                           f"chmod o+x {closed[0]})")
    ok, why = _probe(course_pkg_dir)
    if not ok:
        return False, why
    if tests_dir is None:
        from .paths import course_root

        tests_dir = course_root() / "solutions" / "tests"
    seen = ("hidden tests readable by it" if tests_dir.exists() and readable_by_others(tests_dir)
            else "hidden tests not readable by it")
    return True, (f"container mode (no bubblewrap here): kernel as its own unprivileged user "
                  f"(uid {kernel_uid()}) with resource limits, no write access to the tests, "
                  f"{seen}; it shares the container's network and process list")


def choose_boundary(bwrap_probe: Callable[[], tuple[bool, str]]) -> tuple[bool, str]:
    """bubblewrap if ``bwrap_probe()`` says it works, else the container mode if it works here,
    else ``(False, why)`` with both reasons. Records the choice (:func:`boundary`)."""
    _MODE["mode"] = "none"  # the probe must try bubblewrap itself, not this mode
    if os.environ.get("COURSE_GRADING_NO_SANDBOX"):
        return bwrap_probe()
    forced = os.environ.get("COURSE_GRADING_BOUNDARY", "").strip().lower()
    if forced not in ("", "container", "bubblewrap"):
        raise ValueError(f"COURSE_GRADING_BOUNDARY={forced!r}: use 'container' or 'bubblewrap'")
    why = "bubblewrap not tried (COURSE_GRADING_BOUNDARY=container)"
    if forced != "container":
        works, why = bwrap_probe()
        if works or forced == "bubblewrap":
            _MODE["mode"] = "bubblewrap" if works else "none"
            return works, why
    ok, how = container_status()
    _MODE["mode"] = "container" if ok else "none"
    return (True, how) if ok else (False, f"{why}; {how}")


def end_processes(uid: int | None = None) -> int:
    """Kill every process of ``uid`` (default :func:`kernel_uid`, this grader's kernels' own
    user): what a detached child of the kernel left behind. Returns how many were killed."""
    import psutil

    uid = kernel_uid() if uid is None else uid
    if uid < UID_BASE:
        raise ValueError(f"uid {uid} is not a container-mode kernel's (refusing to kill it)")
    procs = []
    for p in psutil.process_iter(["uids"]):
        uids = p.info.get("uids")
        if uids is not None and uids.real == uid:
            procs.append(p)
    for p in procs:
        try:
            p.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(procs, timeout=10)
    return len(procs)


__all__ = ["boundary", "choose_boundary", "container_argv", "container_status", "end_processes",
           "hide", "in_container_mode", "kernel_uid", "readable_by_others"]

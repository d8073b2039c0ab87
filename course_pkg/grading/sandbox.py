"""The sandbox a learner's notebook runs in while it is graded (bubblewrap, Linux).

Why bubblewrap: it is a small, unprivileged-friendly Debian package (``bubblewrap``) that builds
a fresh mount, PID, network and IPC namespace around one command, and it works both as root and
as an ordinary user (through user namespaces). Containers (docker, podman) would need a daemon or
an image; ``nobody`` plus file permissions alone cannot hide the hidden tests from a process that
shares our PID namespace and file system.

What the kernel sees (:func:`bwrap_argv`):

- an empty root with read-only ``/usr``, ``/etc``, the Python installation and the venv;
- ``course_pkg`` read-only at ``/course/course_pkg`` (``PYTHONPATH=/course``): the course's
  repository, hence ``solutions/`` (the hidden tests), is not mounted at all;
- one writable folder, the per-notebook work folder (notebook copy, kernel sockets, exchange
  files; its size is watched by :class:`course_pkg.grading.kernel.GradingKernel`, which kills a
  kernel that writes more than ``Limits.disk_mb`` into it), and a private ``/tmp``: a tmpfs of
  at most ``Limits.tmp_mb`` (``--size``), so it cannot fill the host's RAM;
- no network (``--unshare-net``), its own PID namespace (``--unshare-pid``: it cannot see or
  signal the grader, and ``--die-with-parent`` kills every process it started, ``setsid`` or not,
  when the grader closes it), its own session (``--new-session``: no terminal injection);
- as root, the kernel runs as the unprivileged user ``nobody`` (``setpriv``), with no
  capabilities and ``no_new_privs``; as an ordinary user it keeps that user's identity;
- resource limits (``prlimit``): address space, CPU seconds, processes, file size, no core dumps.

:func:`sandbox_status` tries it once per process and says why it does not work (no bwrap,
not Linux, user namespaces disabled...); the grader then falls back to an unsandboxed kernel and
says that the result is not tamper-proof.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

NOBODY_UID = 65534
NOBODY_GID = 65534
#: where course_pkg is mounted inside the sandbox
COURSE_MOUNT = "/course"


@dataclass(frozen=True)
class Limits:
    """Resource limits of the sandboxed kernel (``prlimit``; 0 means no limit)."""

    mem_mb: int = 6144  # RLIMIT_AS: importing torch alone reserves ~3.2 GB of address space
    cpu_seconds: int = 1200  # RLIMIT_CPU: CPU time of the kernel process in all
    processes: int = 512  # RLIMIT_NPROC (threads count; per user: nobody's processes in all)
    file_mb: int = 64  # RLIMIT_FSIZE: largest file the kernel may write
    tmp_mb: int = 256  # size of the sandbox's private /tmp (a tmpfs: host RAM)
    disk_mb: int = 512  # what the kernel may write into its work folder (watched by the kernel)


def _python_dirs() -> list[str]:
    """Folders the interpreter needs: the base installation and the venv (deduplicated)."""
    dirs = []
    for d in (sys.base_prefix, sys.prefix, sys.exec_prefix):
        d = str(Path(d).resolve())
        if not any(d == x or d.startswith(x + "/") for x in dirs):
            dirs.append(d)
    exe = str(Path(sys.executable).resolve())
    if not any(exe.startswith(x + "/") for x in dirs):
        dirs.append(str(Path(exe).parent))
    return dirs


def sandbox_python() -> str:
    """The interpreter to run inside the sandbox: this venv's python under its resolved prefix
    (the sandbox mounts resolved folders; a symlinked path to the venv would not exist there)."""
    exe = Path(sys.prefix).resolve() / "bin" / Path(sys.executable).name
    return str(exe) if exe.exists() else sys.executable


def _parents(path: str) -> list[str]:
    parts = Path(path).parts[1:-1]
    return ["/" + "/".join(parts[: i + 1]) for i in range(len(parts))]


def _prlimit_argv(limits: Limits) -> list[str]:
    """``prlimit … --`` for ``limits``, or ``[]`` without prlimit."""
    from .container import prlimit_argv

    return prlimit_argv(limits, required=False)


def bwrap_argv(workdir: str, course_pkg_dir: str, limits: Limits,
               overlays: list[tuple[str, str]] | tuple = ()) -> list[str]:
    """The command prefix that runs a program inside the sandbox (see the module docstring).

    ``overlays``: ``(file, path relative to course_pkg)`` pairs: each file is mounted read-only
    over that course_pkg file (the stubbed copies of :mod:`course_pkg.grading.references`), and
    the ``__pycache__`` next to it is hidden behind an empty, read-only folder."""
    from .container import container_argv, in_container_mode  # no bubblewrap: container.py

    if in_container_mode():
        return container_argv(workdir, course_pkg_dir, limits)
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        raise RuntimeError("bubblewrap (bwrap) is not installed")
    root = os.geteuid() == 0
    argv = [bwrap, "--die-with-parent", "--new-session",
            "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts",
            "--unshare-cgroup-try"]
    if not root:  # an ordinary user needs a user namespace to mount anything
        argv.append("--unshare-user")
    argv += ["--ro-bind", "/usr", "/usr"]
    for link in ("bin", "sbin", "lib", "lib64", "lib32"):
        p = Path("/") / link
        if p.is_symlink():
            argv += ["--symlink", os.readlink(p), str(p)]
        elif p.is_dir():
            argv += ["--ro-bind", str(p), str(p)]
    argv += ["--ro-bind", "/etc", "/etc", "--proc", "/proc", "--dev", "/dev",
             "--perms", "01777"]  # world-writable like a real /tmp, of bounded size
    if limits.tmp_mb:
        argv += ["--size", str(limits.tmp_mb * 1024 * 1024)]
    argv += ["--tmpfs", "/tmp"]
    made: set[str] = {"/tmp", "/usr", "/etc"}
    binds = [(d, d, False) for d in _python_dirs()]
    binds.append((course_pkg_dir, f"{COURSE_MOUNT}/course_pkg", False))
    binds.append((workdir, workdir, True))
    for src, dst, writable in binds:
        for parent in _parents(dst):
            if parent not in made:
                argv += ["--perms", "0755", "--dir", parent]
                made.add(parent)
        argv += ["--bind" if writable else "--ro-bind", src, dst]
        made.add(dst)
        if dst == f"{COURSE_MOUNT}/course_pkg":
            caches = set()
            for stub, rel in overlays:
                argv += ["--ro-bind", stub, f"{dst}/{rel}"]
                cache = Path(course_pkg_dir) / Path(rel).parent / "__pycache__"
                if cache.is_dir():
                    caches.add(f"{dst}/{Path(rel).parent.as_posix()}/__pycache__")
            for c in sorted(caches):
                argv += ["--perms", "0555", "--tmpfs", c.replace("/./", "/")]
    # ipykernel polls JPY_PARENT_PID and exits when its parent looks gone, which is always the
    # case in a PID namespace; --die-with-parent does that job here
    argv += ["--chdir", workdir, "--unsetenv", "JPY_PARENT_PID"]
    if root:  # libraries derive cache paths from these (torch: /tmp/torchinductor_$USER)
        argv += ["--setenv", "USER", "nobody", "--setenv", "LOGNAME", "nobody",
                 "--setenv", "HOME", workdir]
    argv += _prlimit_argv(limits)
    if root:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            raise RuntimeError("setpriv (util-linux) is missing: cannot drop to the nobody user")
        argv += [setpriv, f"--reuid={NOBODY_UID}", f"--regid={NOBODY_GID}", "--clear-groups",
                 "--no-new-privs", "--inh-caps=-all", "--bounding-set=-all", "--"]
    return argv


WORKDIR_PREFIX = "course-grade-"


def prepare_workdir(prefix: str = WORKDIR_PREFIX, *, stubs: bool = False) -> str:
    """A fresh work folder the sandboxed kernel may write to (owned by nobody when we are root).

    Its name holds our PID (``course-grade-<pid>-xxxx``) so that :func:`sweep_workdirs` can
    remove the folders of graders that were killed before they could clean up.
    """
    sweep_workdirs()
    d = tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}-{'stubs-' if stubs else ''}")
    os.chmod(d, 0o755)
    if os.geteuid() == 0 and not stubs:  # stubs stay ours: the kernel must not change them
        os.chown(d, NOBODY_UID, NOBODY_GID)
    return d


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_workdirs(tmp: str | None = None) -> list[str]:
    """Remove the work folders (notebook copy, kernel key) of graders that no longer run.

    A grader removes its own folder when it ends, even on SIGTERM; this catches SIGKILL. Only
    folders owned by us (or by nobody, when we are root) are touched. Returns what was removed.
    """
    tmp = tmp or tempfile.gettempdir()
    removed = []
    try:
        entries = list(os.scandir(tmp))
    except OSError:
        return removed
    owners = {os.geteuid()} | ({NOBODY_UID} if os.geteuid() == 0 else set())
    for e in entries:
        if not e.name.startswith(WORKDIR_PREFIX):
            continue
        pid = e.name[len(WORKDIR_PREFIX):].split("-", 1)[0]
        if not pid.isdigit() or int(pid) == os.getpid() or _alive(int(pid)):
            continue
        try:
            st = e.stat(follow_symlinks=False)
        except OSError:
            continue
        if e.is_dir(follow_symlinks=False) and st.st_uid in owners:
            shutil.rmtree(e.path, ignore_errors=True)
            removed.append(e.path)
    return removed


def make_readable(path: str | Path) -> None:
    """Let the sandboxed kernel read a file the grader wrote into its work folder."""
    os.chmod(path, 0o644)


@functools.lru_cache(maxsize=1)
def sandbox_status() -> tuple[bool, str]:
    """``(True, how)`` when a sandboxed Python starts here, else ``(False, why not)``: bubblewrap,
    else the container mode of :mod:`course_pkg.grading.container` (root in a container)."""
    from .container import choose_boundary

    return choose_boundary(_bwrap_status)


def _bwrap_status() -> tuple[bool, str]:
    if os.environ.get("COURSE_GRADING_NO_SANDBOX"):
        return False, "disabled by COURSE_GRADING_NO_SANDBOX"
    if not sys.platform.startswith("linux"):
        return False, f"bubblewrap needs Linux (this is {sys.platform})"
    if shutil.which("bwrap") is None:
        return False, ("bubblewrap is not installed (Debian/Ubuntu: `sudo apt-get install "
                       "bubblewrap`, or `make grade` as root installs it)")
    workdir = prepare_workdir()
    course_pkg_dir = str(Path(__file__).resolve().parents[1])
    probe = ("import os, sys; sys.path.insert(0, '/course'); import course_pkg; "
             "open('ok', 'w').write(str(os.getuid()))")
    try:
        argv = bwrap_argv(workdir, course_pkg_dir, Limits())
        res = subprocess.run([*argv, sandbox_python(), "-c", probe], capture_output=True,
                             text=True, timeout=60)
        ok_file = Path(workdir) / "ok"
        if res.returncode != 0 or not ok_file.is_file():
            err = (res.stderr or res.stdout).strip().splitlines()
            return False, f"bubblewrap does not start here: {err[-1] if err else res.returncode}"
        uid = ok_file.read_text()
        who = "user nobody" if uid == str(NOBODY_UID) else f"uid {uid}"
        return True, f"bubblewrap sandbox ({who}, no network, own PID namespace)"
    except (OSError, RuntimeError, subprocess.TimeoutExpired) as err:
        return False, f"bubblewrap does not start here: {err}"
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


__all__ = [
    "Limits", "bwrap_argv", "make_readable", "prepare_workdir", "sandbox_python", "sandbox_status",
    "sweep_workdirs",
]

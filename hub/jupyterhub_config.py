"""JupyterHub for a class on one machine: the course's single-user environment + nbgitpuller.

Use it as it is (``jupyterhub -f hub/jupyterhub_config.py`` on a machine where the students have
system accounts), or copy its settings into The Littlest JupyterHub / Zero to JupyterHub
(INSTRUCTORS.md says how). Settings come from environment variables so that one file serves:

- ``COURSE_DIR``: the course folder (default: the folder above this file); its ``.venv``
  (``COURSE_VENV``) is the single-user environment: the course's requirements, course_pkg,
  the "Python 3 (course)" kernel, ``hub/requirements.txt`` (jupyterhub, nbgitpuller),
  jupyterlab-myst (``make setup hub``, or ``binder/`` for an image);
- ``COURSE_HUB_BIND_URL`` (default ``http://:8000``), ``COURSE_HUB_ADMINS`` and
  ``COURSE_HUB_STUDENTS`` (comma-separated user names; default: every system user may log in).

Students log in with their system accounts (PAM, JupyterHub's default), and each single-user
server runs as that user (LocalProcessSpawner): a student can read and write their own home
folder only. JupyterLab opens by default, nbgitpuller links open the learner's copies
(``python -m course_pkg.classroom links``), Markdown opens rendered and the kernel runs on the CPU
with one thread per student unless COURSE_DEVICE says otherwise.
"""

import os
from pathlib import Path

c = get_config()  # noqa: F821 (defined by JupyterHub when it loads this file)

COURSE_DIR = Path(os.environ.get("COURSE_DIR", Path(__file__).resolve().parents[1]))
COURSE_VENV = Path(os.environ.get("COURSE_VENV", COURSE_DIR / ".venv"))

c.JupyterHub.bind_url = os.environ.get("COURSE_HUB_BIND_URL", "http://:8000")
c.JupyterHub.spawner_class = "localprocess"
c.JupyterHub.authenticator_class = "pam"
admins = {u for u in os.environ.get("COURSE_HUB_ADMINS", "").split(",") if u}
students = {u for u in os.environ.get("COURSE_HUB_STUDENTS", "").split(",") if u}
c.Authenticator.admin_users = admins
if students:
    c.Authenticator.allowed_users = students | admins
else:
    c.Authenticator.allow_all = True

# The single-user server: the course environment's jupyterhub-singleuser, JupyterLab by default.
c.Spawner.cmd = [str(COURSE_VENV / "bin" / "jupyterhub-singleuser")]
c.Spawner.default_url = "/lab"
c.Spawner.args = [
    # Markdown pages (the course's start page) open rendered, no news or update checks
    f"--LabApp.app_settings_dir={COURSE_DIR / '.jupyter' / 'lab' / 'settings'}",
    # a kernel left idle for an hour is stopped (a chapter's kernel holds ~1 GB)
    "--MappingKernelManager.cull_idle_timeout=3600",
    "--MappingKernelManager.cull_interval=300",
]
c.Spawner.environment = {
    "NBGITPULLER_APP": "lab",  # nbgitpuller links open JupyterLab, not the classic notebook
    "PATH": f"{COURSE_VENV / 'bin'}:/usr/local/bin:/usr/bin:/bin",
    "COURSE_DEVICE": os.environ.get("COURSE_DEVICE", "cpu"),
    "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"),
}
# Each chapter needs ~1 GB while it runs (benchmarks/: peak_mem_mb). LocalProcessSpawner does not
# enforce mem_limit (it only tells JupyterLab's resource display); SystemdSpawner (TLJH) and
# KubeSpawner (Zero to JupyterHub) do.
c.Spawner.mem_limit = os.environ.get("COURSE_HUB_MEM_LIMIT", "2G")
c.Spawner.http_timeout = 120
c.Spawner.start_timeout = 180
c.JupyterHub.shutdown_on_logout = True

"""Plumbing shared by the whole package, one module per job (the lowest layer: imports nothing
else of ``course_pkg``).

- :mod:`~course_pkg.utils.device` — :func:`get_device` (``$COURSE_DEVICE``, CUDA, MPS, CPU) and
  :func:`set_threads` (1 thread on the CPU unless told).
- :mod:`~course_pkg.utils.seeds` — :func:`seed_everything`, :func:`as_generator` (seed →
  ``torch.Generator``), :func:`seeded` (build a model under a seed, global RNG untouched).
- :mod:`~course_pkg.utils.scale` — :data:`SCALE_ENV`, :func:`resolve_scale` (``cpu`` | ``paper``).
- :mod:`~course_pkg.utils.stats` — :func:`mean_ci` (mean and 95 % interval half-width) and
  :func:`smooth_curve` (a loss curve as window means).
- :mod:`~course_pkg.utils.checks` — :func:`check_same_device`, :func:`check_finite`.
- :mod:`~course_pkg.utils.progress` — :func:`progress`, the one progress bar.
- :mod:`~course_pkg.utils.memory` — :func:`saved_tensor_bytes`, :func:`cpu_allocator_peak`.
- :mod:`~course_pkg.utils.deps` — :func:`import_learn2learn` (quietly).
- :mod:`~course_pkg.utils.config` — :class:`Config`, the one config type of every run, and
  :func:`plain` (a config or mapping as JSON-ready data).

Everything is importable from ``course_pkg.utils`` directly.
"""

from course_pkg.utils.checks import check_finite, check_same_device
from course_pkg.utils.config import Config, plain
from course_pkg.utils.deps import import_learn2learn
from course_pkg.utils.device import DEVICE_ENV, get_device, set_threads
from course_pkg.utils.memory import cpu_allocator_peak, saved_tensor_bytes
from course_pkg.utils.progress import progress
from course_pkg.utils.scale import SCALE_ENV, SCALES, resolve_scale
from course_pkg.utils.seeds import as_generator, seed_everything, seeded
from course_pkg.utils.stats import CURVE_POINTS, mean_ci, smooth_curve

__all__ = [
    "CURVE_POINTS",
    "Config",
    "DEVICE_ENV",
    "SCALES",
    "SCALE_ENV",
    "as_generator",
    "check_finite",
    "check_same_device",
    "cpu_allocator_peak",
    "get_device",
    "import_learn2learn",
    "mean_ci",
    "plain",
    "progress",
    "resolve_scale",
    "saved_tensor_bytes",
    "seed_everything",
    "seeded",
    "set_threads",
    "smooth_curve",
]

"""Plumbing shared by the whole package: device, seeds and generators, seeded initialisation,
CPU threads, progress bars, input checks, confidence intervals and memory measures.

One helper per job:

- :func:`as_generator` — seed → ``torch.Generator`` (``None`` means a fresh random seed).
- :func:`seeded` — run model construction under a seed without touching the global RNG.
- :func:`set_threads` — the package's one thread policy (1 thread on the CPU unless told).
- :func:`progress` — a progress bar that honours ``$TQDM_DISABLE``.
- :func:`mean_ci` — mean and 95 % normal-approximation interval half-width.
"""

from __future__ import annotations

import contextlib
import math
import os
import random
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import torch

DEVICE_ENV = "COURSE_DEVICE"


def get_device(device: str | torch.device | None = None) -> torch.device:
    """Return the device to compute on.

    Order: an explicit ``device`` argument, then the ``COURSE_DEVICE`` environment variable
    (e.g. ``cpu``, ``cuda``, ``cuda:1``, ``mps``), then CUDA, then Apple MPS, then the CPU.
    Raises ``ValueError`` when the requested device is not available here.
    """
    choice = device if device is not None else os.environ.get(DEVICE_ENV) or None
    if choice is None:
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    dev = torch.device(choice)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device {str(dev)!r} was requested (argument or ${DEVICE_ENV}) but CUDA is not "
            "available on this machine; use 'cpu' or unset the variable"
        )
    if dev.type == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise ValueError("device 'mps' was requested but Apple MPS is not available here")
    return dev


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and torch; return a fresh CPU ``torch.Generator`` seeded with ``seed``."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return as_generator(seed)


def as_generator(seed: torch.Generator | int | None = None) -> torch.Generator:
    """A CPU ``torch.Generator``: ``seed`` itself if it is one, a new one seeded with an int, or
    (``None``) a new one with a fresh random seed. Sampling on the CPU keeps a seed's draws equal
    on every device."""
    if isinstance(seed, torch.Generator):
        return seed
    g = torch.Generator()
    if seed is None:
        g.seed()
    else:
        g.manual_seed(int(seed))
    return g


@contextlib.contextmanager
def seeded(seed: int | None) -> Iterator[None]:
    """Run the body (typically building a model) with torch's global RNG seeded with ``seed``,
    then restore the global RNG, so the weights depend on ``seed`` only and nothing else changes.
    ``seed=None`` leaves the global RNG as it is."""
    if seed is None:
        yield
        return
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        yield


def set_threads(threads: int | None = None, device: str | torch.device | None = None) -> int:
    """The package's thread policy: ``torch.set_num_threads(threads)`` when given, else one
    thread when computing on the CPU (the small models of the course run fastest, and
    reproducibly, on one thread) and torch's default otherwise. Returns the thread count."""
    if threads is not None:
        if threads < 1:
            raise ValueError(f"threads must be ≥ 1, got {threads}")
        torch.set_num_threads(int(threads))
    elif get_device(device).type == "cpu":
        torch.set_num_threads(1)
    return torch.get_num_threads()


def mean_ci(
    values: torch.Tensor | Sequence[float], dim: int = 0, z: float = 1.96
) -> tuple[Any, Any]:
    """Mean and half-width of the normal-approximation 95 % confidence interval of the mean,
    ``z · s / √n`` along ``dim`` (``s`` the sample standard deviation, ``z = 1.96``; half-width
    0 for a single value).

    ``values (n, …)``: independent scores (per task or per episode). Returns python floats when
    the result is a scalar (1-D input), tensors of shape ``values.shape`` without ``dim``
    otherwise (1-D input is computed in float64 on the CPU; other input keeps its dtype and
    device). Raises ``ValueError`` for no values.
    """
    v = values if isinstance(values, torch.Tensor) else torch.as_tensor(values, dtype=torch.float64)
    if v.dim() <= 1 or not v.is_floating_point():
        v = v.detach().to("cpu", torch.float64).reshape(-1) if v.dim() <= 1 else v.double()
    n = v.shape[dim]
    if n == 0:
        raise ValueError("mean_ci needs at least one value")
    mean = v.mean(dim)
    half = (z * v.std(dim, unbiased=True) / math.sqrt(n) if n > 1 else torch.zeros_like(mean))
    if mean.dim() == 0:
        return float(mean), float(half)
    return mean, half


def check_same_device(params: Mapping[str, torch.Tensor], *tensors: torch.Tensor) -> None:
    """Raise a clear ``ValueError`` when data tensors are not on the parameters' device."""
    if not params:
        return
    pdev = next(iter(params.values())).device
    for t in tensors:
        if t.device != pdev:
            raise ValueError(
                f"data is on {t.device} but the model parameters are on {pdev}; "
                f"move the task batch with `.to({str(pdev)!r})` (see course_pkg.get_device)"
            )


def check_finite(loss: torch.Tensor, step: int, what: str = "loss") -> None:
    """Stop training with a message naming the step when ``loss`` is NaN or infinite."""
    if not bool(torch.isfinite(loss).all()):
        raise FloatingPointError(
            f"{what} became {loss.detach().flatten()[0].item()} at step {step}; training stopped. "
            "Lower the learning rates or check the data."
        )


def import_learn2learn():
    """Import learn2learn quietly (it imports the retired ``gym``, which prints a banner)."""
    import contextlib
    import io
    import warnings

    with contextlib.redirect_stderr(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import learn2learn

    return learn2learn


def progress(iterable=None, disable: bool = False, **kwargs):
    """The package's one progress bar: ``tqdm.auto``, or a silent one when ``disable`` or
    ``$TQDM_DISABLE`` is set.

    The book build sets ``TQDM_DISABLE=1``: tqdm's notebook bar ignores that variable and would put
    widgets (and their CDN scripts) into the HTML, so this falls back to the plain, disabled bar.
    """
    if disable or os.environ.get("TQDM_DISABLE", "").lower() in {"1", "true", "yes"}:
        from tqdm.std import tqdm as std_tqdm

        return std_tqdm(iterable, disable=True, **kwargs)
    from tqdm.auto import tqdm as auto_tqdm

    return auto_tqdm(iterable, **kwargs)


def saved_tensor_bytes(fn: Callable[[], Any]) -> tuple[Any, int]:
    """Run ``fn()`` and return ``(result, peak)``: the largest total size in bytes of the tensors
    autograd kept for backward passes at any moment during ``fn`` (a deterministic, device-free
    memory measure; a tensor saved by two operations counts twice, so it is an upper bound)."""
    live, peak = [0], [0]

    class _Saved:
        __slots__ = ("t", "n")

        def __init__(self, t: torch.Tensor) -> None:
            self.t, self.n = t, t.numel() * t.element_size()
            live[0] += self.n
            peak[0] = max(peak[0], live[0])

        def __del__(self) -> None:
            live[0] -= self.n

    with torch.autograd.graph.saved_tensors_hooks(_Saved, lambda s: s.t):
        out = fn()
    return out, peak[0]


def cpu_allocator_peak(step) -> int:
    """Peak bytes held by torch's CPU allocator during ``step()``, above the level before it.

    Replays the allocation and free events that ``torch.profiler`` records with
    ``profile_memory=True``, so it depends only on what ``step`` allocates, not on the machine's
    load or on glibc. ``step`` is called once and its result dropped inside the measurement.
    """
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        out = step()
        del out
    events = [e for e in prof.profiler.kineto_results.events() if e.name() == "[memory]"]
    events.sort(key=lambda e: e.start_ns())
    level = peak = 0
    for e in events:
        level += e.nbytes()
        peak = max(peak, level)
    return peak

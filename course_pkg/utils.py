"""Device selection, seeding and small input checks shared by the whole package."""

from __future__ import annotations

import os
import random
from collections.abc import Mapping

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
    g = torch.Generator()
    g.manual_seed(seed)
    return g


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


def progress(iterable=None, **kwargs):
    """A ``tqdm.auto`` progress bar, or a silent one when ``$TQDM_DISABLE`` is set.

    The book build sets ``TQDM_DISABLE=1``: tqdm's notebook bar ignores that variable and would put
    widgets (and their CDN scripts) into the HTML, so this falls back to the plain, disabled bar.
    """
    if os.environ.get("TQDM_DISABLE", "").lower() in {"1", "true", "yes"}:
        from tqdm.std import tqdm as std_tqdm

        return std_tqdm(iterable, disable=True, **kwargs)
    from tqdm.auto import tqdm as auto_tqdm

    return auto_tqdm(iterable, **kwargs)


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

"""Where to compute: the device (``$COURSE_DEVICE``, then CUDA, MPS, CPU) and the thread policy."""

from __future__ import annotations

import os

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

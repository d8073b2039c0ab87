"""Memory probes: bytes autograd keeps for backward, and the CPU allocator's peak."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch


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


def cpu_allocator_peak(step: Callable[[], Any]) -> int:
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

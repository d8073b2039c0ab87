"""Seeds and generators: one seed gives the same draws on every device."""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator

import numpy as np
import torch


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

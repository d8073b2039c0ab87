"""Load a committed checkpoint when its configuration matches; train (and save) otherwise.

A checkpoint is two files in ``course_pkg/weights/`` (or another ``directory``):
``<name>.pt`` holding a state dict of tensors and ``<name>.json`` holding
``{"config": {...}, "metrics": {...}}``. The config is compared exactly, so a chapter that asks
for other settings retrains instead of silently loading a mismatched model.

Under torchrun (:mod:`course_pkg.distributed`) only rank 0 writes; the other ranks log that they
skip and wait at a barrier until the files exist.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch

from course_pkg import distributed as dist
from course_pkg.utils.config import plain

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"


def _normalise(config: Mapping[str, Any]) -> dict[str, Any]:
    """Round-trip through JSON so tuples/lists and int/float keys compare like the stored file
    (a :class:`~course_pkg.utils.config.Config` is stored as its ``to_dict()``)."""
    return json.loads(json.dumps(plain(config), sort_keys=True))


def save_checkpoint(
    name: str,
    state: dict[str, torch.Tensor],
    config: Mapping[str, Any],
    metrics: dict[str, Any] | None = None,
    directory: str | Path | None = None,
) -> Path:
    """Write ``<name>.pt`` (tensors moved to the CPU) and ``<name>.json``; return the .pt path.

    Under torchrun every rank calls it: rank 0 writes, the others skip; all return after a barrier.
    """
    d = Path(directory) if directory is not None else WEIGHTS_DIR
    if not dist.is_main():
        logging.getLogger(__name__).info("rank %d: skip writing %s (rank 0 writes checkpoints)",
                                         dist.rank(), d / f"{name}.pt")
        dist.barrier()
        return d / f"{name}.pt"
    d.mkdir(parents=True, exist_ok=True)
    cpu_state = {k: v.detach().cpu().clone() for k, v in state.items()}
    torch.save(cpu_state, d / f"{name}.pt")
    meta = {"config": _normalise(config), "metrics": metrics or {}}
    (d / f"{name}.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    dist.barrier()
    return d / f"{name}.pt"


def load_checkpoint(
    name: str,
    config: Mapping[str, Any] | None = None,
    directory: str | Path | None = None,
    map_location: str | torch.device = "cpu",
) -> tuple[dict[str, torch.Tensor], dict[str, Any]] | None:
    """Return ``(state, meta)`` if the checkpoint exists and (when given) its config matches."""
    d = Path(directory) if directory is not None else WEIGHTS_DIR
    pt, js = d / f"{name}.pt", d / f"{name}.json"
    if not (pt.exists() and js.exists()):
        return None
    meta = json.loads(js.read_text())
    if config is not None and meta.get("config") != _normalise(config):
        return None
    state = torch.load(pt, map_location=map_location, weights_only=True)
    return state, meta


def load_or_train(
    name: str,
    config: Mapping[str, Any],
    train_fn: Callable[[dict[str, Any]], tuple[dict[str, torch.Tensor], dict[str, Any]]],
    directory: str | Path | None = None,
    map_location: str | torch.device = "cpu",
    save: bool = True,
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Load ``name`` if stored with exactly ``config``; else call ``train_fn(config)``.

    ``train_fn`` returns ``(state_dict, metrics)``. Returns ``(state, meta)`` where
    ``meta = {"config": ..., "metrics": ..., "loaded": bool}``.
    """
    found = load_checkpoint(name, config, directory, map_location)
    if found is not None:
        state, meta = found
        meta["loaded"] = True
        return state, meta
    state, metrics = train_fn(config)
    if save:
        save_checkpoint(name, state, config, metrics, directory)
    return state, {"config": _normalise(config), "metrics": metrics, "loaded": False}

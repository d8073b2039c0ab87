"""Meta-training across processes with PyTorch's own engine: torchrun + ``torch.distributed``.

Launch any training command of the course with ``torchrun --nproc_per_node=N …`` (or
``python -m torch.distributed.run``); torchrun starts N processes ("ranks") and sets ``RANK``,
``WORLD_SIZE`` and ``LOCAL_RANK`` (plus ``MASTER_ADDR``/``MASTER_PORT``) in each. Then
:func:`course_pkg.algorithms.training.meta_train`

- calls :func:`setup`: one process group per process (NCCL when the rank's device is CUDA,
  gloo on the CPU) and the rank's device, ``cuda:LOCAL_RANK`` with CUDA, the CPU otherwise;
- broadcasts the initial meta-parameters from rank 0 (:func:`broadcast_params`);
- samples the full global meta-batch on every rank with the same seeded generator and keeps its
  own contiguous share of the tasks (:func:`task_share`, :func:`shard`), so the global batch and
  the random stream are those of one process;
- averages the loss and meta-gradients over ranks with one ``all_reduce`` of a flat buffer,
  each rank weighted by its number of tasks (:func:`average`), so uneven shares (meta-batch not
  divisible by the number of ranks) give the mean over all tasks exactly;
- shows progress only on rank 0 (:func:`is_main`).

:func:`course_pkg.checkpoints.save_checkpoint` writes on rank 0 only; the other ranks wait at a
:func:`barrier`. Without torchrun (no ``RANK``/``WORLD_SIZE``/``LOCAL_RANK``) every function here
is a no-op and a single process trains exactly as before.
"""

from __future__ import annotations

import atexit
import functools
import os
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, fields, is_dataclass, replace
from typing import Any, TypeVar

import torch
import torch.distributed as dist

from course_pkg.utils import DEVICE_ENV, get_device

ENV_VARS = ("RANK", "WORLD_SIZE", "LOCAL_RANK")
T = TypeVar("T")

__all__ = ["RankInfo", "active", "any_rank", "average", "barrier", "broadcast_params", "is_main",
           "launched", "rank", "rank_device", "setup", "shard", "shutdown", "task_share",
           "world_size"]


@dataclass(frozen=True)
class RankInfo:
    """What torchrun told this process: its ``rank`` among ``world_size`` processes and its
    ``local_rank`` on this machine (the GPU index it uses)."""

    rank: int
    world_size: int
    local_rank: int


def launched() -> RankInfo | None:
    """The torchrun environment of this process, or ``None`` when not started by torchrun.

    Raises ``ValueError`` when the variables are only partly set or not integers.
    """
    values = {k: os.environ.get(k) for k in ENV_VARS}
    if all(v is None for v in values.values()):
        return None
    if any(v is None for v in values.values()):
        raise ValueError(f"torchrun sets all of {ENV_VARS}; found only "
                         f"{ {k: v for k, v in values.items() if v is not None} }")
    try:
        info = RankInfo(int(values["RANK"]), int(values["WORLD_SIZE"]),
                        int(values["LOCAL_RANK"]))
    except ValueError as err:
        raise ValueError(f"{ENV_VARS} must be integers, got {values}") from err
    if not 0 <= info.rank < info.world_size:
        raise ValueError(f"RANK={info.rank} is not in 0..WORLD_SIZE-1={info.world_size - 1}")
    return info


def rank_device(device: str | torch.device | None = None) -> torch.device:
    """The device this rank computes on, through :func:`course_pkg.utils.get_device`.

    Without torchrun: ``get_device(device)``. Under torchrun: ``cuda:LOCAL_RANK`` when the
    choice is CUDA without an index, the CPU when it is an implicit MPS (torch.distributed has
    no MPS backend); an explicit ``"mps"`` raises ``ValueError``.
    """
    info = launched()
    dev = get_device(device)
    if info is None or dev.type == "cpu":
        return dev
    if dev.type == "cuda":
        return dev if dev.index is not None else get_device(f"cuda:{info.local_rank}")
    if device is not None or os.environ.get(DEVICE_ENV):
        raise ValueError(f"torch.distributed runs on CUDA (NCCL) or the CPU (gloo), not on "
                         f"{dev.type!r}; pass device 'cpu' or 'cuda'")
    return get_device("cpu")


def setup(device: str | torch.device | None = None) -> torch.device:
    """Join torchrun's process group (once per process) and return this rank's device.

    Backend: NCCL when the device is CUDA, gloo otherwise. Idempotent; without torchrun it only
    returns ``get_device(device)``. The group is destroyed at interpreter exit
    (:func:`shutdown` does it earlier).
    """
    dev = rank_device(device)
    if launched() is None or dist.is_initialized():
        return dev
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
        dist.init_process_group("nccl", device_id=dev)
    else:
        dist.init_process_group("gloo")
    atexit.register(shutdown)
    return dev


def active() -> bool:
    """True inside a process group of several ranks (after :func:`setup` under torchrun)."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    """This process's rank (0 without torchrun)."""
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def world_size() -> int:
    """Number of ranks (1 without torchrun)."""
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def is_main() -> bool:
    """True on rank 0, the one that logs, shows progress and writes files (and without torchrun).

    Before :func:`setup` it reads ``RANK`` from torchrun's environment.
    """
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank() == 0
    info = launched()
    return info is None or info.rank == 0


def task_share(num_tasks: int, rank_: int | None = None, world: int | None = None) -> slice:
    """Rank ``rank_``'s (default: this rank's) contiguous share of ``num_tasks`` tasks among
    ``world`` (default: all) ranks; all tasks without torchrun.

    The first ``num_tasks % world`` ranks get ``ceil(num_tasks / world)`` tasks, the others
    ``floor``. Raises ``ValueError`` when there are fewer tasks than ranks.
    """
    w = world_size() if world is None else world
    r = rank() if rank_ is None else rank_
    if num_tasks < w:
        raise ValueError(f"a meta-batch of {num_tasks} tasks cannot be split over {w} ranks; "
                         f"use meta_batch_size ≥ {w} or fewer processes")
    base, extra = divmod(num_tasks, w)
    start = r * base + min(r, extra)
    return slice(start, start + base + (1 if r < extra else 0))


def shard(batch: T, num_tasks: int) -> T:
    """This rank's share (:func:`task_share`) of a batch of ``num_tasks`` tasks.

    Every tensor whose leading dimension is ``num_tasks`` is sliced, inside tuples, lists, dicts
    and dataclasses (e.g. a :class:`course_pkg.tasks.TaskBatch` and its ``info``); anything
    else is kept. Without torchrun the batch itself is returned.
    """
    if world_size() == 1:
        return batch
    return _slice(batch, task_share(num_tasks), num_tasks)


def _slice(obj: Any, sl: slice, n: int) -> Any:
    if isinstance(obj, torch.Tensor):
        return obj[sl] if obj.dim() > 0 and obj.shape[0] == n else obj
    if is_dataclass(obj) and not isinstance(obj, type):
        return replace(obj, **{f.name: _slice(getattr(obj, f.name), sl, n)
                               for f in fields(obj) if f.init})
    if isinstance(obj, Mapping):
        return type(obj)({k: _slice(v, sl, n) for k, v in obj.items()})
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):
        return type(obj)(*(_slice(v, sl, n) for v in obj))
    if isinstance(obj, tuple | list):
        return type(obj)(_slice(v, sl, n) for v in obj)
    return obj


def average(
    loss: torch.Tensor, grads: Mapping[str, torch.Tensor | None], num_local: int, num_tasks: int
) -> tuple[torch.Tensor, dict[str, torch.Tensor | None]]:
    """Mean over all ranks' tasks of a per-rank mean ``loss`` (scalar) and ``grads`` (dict).

    Each rank's values are weighted by ``num_local / num_tasks`` (its share of the global
    meta-batch) and summed with one ``all_reduce`` of a flat buffer, so the result equals the
    mean over the ``num_tasks`` tasks of one process even when shares are uneven. ``None``
    gradients stay ``None``. Without torchrun returns the inputs unchanged.
    """
    if not active():
        return loss, dict(grads)
    keys = sorted(k for k, g in grads.items() if g is not None)
    parts = [loss.detach().reshape(1)] + [grads[k].detach().reshape(-1) for k in keys]
    dtype = functools.reduce(torch.promote_types, (t.dtype for t in parts))
    flat = torch.cat([t.to(dtype) for t in parts]) * (num_local / num_tasks)
    dist.all_reduce(flat, op=dist.ReduceOp.SUM)
    out: dict[str, torch.Tensor | None] = dict(grads)
    pieces = flat.split([t.numel() for t in parts])
    for k, piece in zip(keys, pieces[1:]):
        out[k] = piece.view_as(grads[k]).to(grads[k].dtype)
    return pieces[0].reshape(loss.shape).to(loss.dtype), out


def broadcast_params(params: MutableMapping[str, torch.Tensor]) -> None:
    """Overwrite ``params`` (in place, under ``torch.no_grad``) with rank 0's values."""
    if not active():
        return
    with torch.no_grad():
        for k in sorted(params):
            dist.broadcast(params[k].data, src=0)


def any_rank(flag: bool) -> bool:
    """True on every rank when ``flag`` is true on any rank (e.g. a stop request)."""
    if not active():
        return bool(flag)
    t = torch.tensor([1.0 if flag else 0.0], device=_collective_device())
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item() > 0)


def barrier() -> None:
    """Wait until every rank arrives (no-op without torchrun)."""
    if active():
        dist.barrier()


def shutdown() -> None:
    """Leave the process group (safe to call twice; no-op without torchrun)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def _collective_device() -> torch.device:
    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")

"""N-way K-shot episodes built with learn2learn's task pipeline, returned as :class:`TaskBatch`.

An episode (task) draws ``N`` classes, then ``K + Q`` distinct images of each; the first ``K`` per
class form the support set, the other ``Q`` the query set, and the classes are relabelled
``0..N-1`` in random order. The pipeline is learn2learn's ``MetaDataset`` → ``Taskset`` (the
new name of ``TaskDataset``) with the transforms ``NWays``, ``KShots``, ``LoadData``,
``RemapLabels``. learn2learn samples with Python's global :mod:`random` module;
:func:`episodes` seeds that module for the duration of the call and restores its previous state
afterwards, so a seed gives the same episodes every time without disturbing anyone else's
random stream.
"""

from __future__ import annotations

import functools
import random
from typing import Any

import torch

from course_pkg.data.datasets import FewShotImages, glyph_splits
from course_pkg.tasks import TaskBatch
from course_pkg.utils import get_device, import_learn2learn, resolve_scale

#: Seed of the fixed evaluation episodes shared by every chapter (:func:`eval_episodes`).
EVAL_SEED = 20240


class _ImageDataset(torch.utils.data.Dataset):
    """``dataset[i] = (uint8 image (1, H, W), label, label)``; the copy survives ``RemapLabels``."""

    def __init__(self, data: FewShotImages) -> None:
        self.images = torch.from_numpy(data.images).unsqueeze(1)
        self.labels = data.labels.tolist()

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int):
        return self.images[i], self.labels[i], self.labels[i]


def meta_dataset(data: FewShotImages) -> Any:
    """learn2learn ``MetaDataset`` over ``data`` (bookkeeping passed in, no pass over images)."""
    l2l = import_learn2learn()
    labels_to_indices: dict[int, list[int]] = {}
    for i, y in enumerate(data.labels.tolist()):
        labels_to_indices.setdefault(y, []).append(i)
    return l2l.data.MetaDataset(_ImageDataset(data), labels_to_indices=labels_to_indices)


_TASK_DATASETS: dict[tuple[int, int, int], tuple[FewShotImages, object]] = {}


def _task_dataset(data: FewShotImages, n_way: int, shots: int):
    """learn2learn ``TaskDataset`` for ``data``, cached per (data set, N, K + Q)."""
    key = (id(data), n_way, shots)
    if key in _TASK_DATASETS and _TASK_DATASETS[key][0] is data:
        return _TASK_DATASETS[key][1]
    l2l = import_learn2learn()
    ds = meta_dataset(data)
    transforms = [
        l2l.data.transforms.NWays(ds, n_way),
        l2l.data.transforms.KShots(ds, shots),
        l2l.data.transforms.LoadData(ds),
        l2l.data.transforms.RemapLabels(ds),
    ]
    tasks = l2l.data.Taskset(ds, task_transforms=transforms, num_tasks=-1)  # = TaskDataset
    if len(_TASK_DATASETS) >= 32:
        _TASK_DATASETS.pop(next(iter(_TASK_DATASETS)))
    _TASK_DATASETS[key] = (data, tasks)
    return tasks


def _resolve(split: str | FewShotImages, source: str) -> FewShotImages:
    if isinstance(split, FewShotImages):
        return split
    if source == "glyphs":
        splits = glyph_splits()
    elif source == "omniglot":
        from course_pkg.data.omniglot import omniglot_splits

        splits = omniglot_splits()
    else:
        raise ValueError(f"unknown source {source!r}; use 'glyphs' or 'omniglot'")
    if split not in splits:
        raise ValueError(f"unknown split {split!r}; use one of {sorted(splits)}")
    return splits[split]


def episodes(
    split: str | FewShotImages = "train",
    n_way: int = 5,
    k_support: int = 1,
    k_query: int = 15,
    num_tasks: int = 1,
    seed: int = 0,
    device: str | torch.device | None = None,
    source: str = "glyphs",
) -> TaskBatch:
    """Sample ``num_tasks`` N-way K-shot episodes from ``split``: ``n_way`` classes,
    ``k_support`` support and ``k_query`` query images per class (``K`` and ``Q`` of the notation
    page; ``T`` = ``num_tasks``).

    ``split`` is "train", "val" or "test" of ``source`` ("glyphs" or "omniglot"), or any
    :class:`FewShotImages`. Returns a :class:`TaskBatch` on ``device`` (default
    :func:`get_device`) with ``x_support (T, N*K, 1, H, W)`` float32 in [0, 1],
    ``y_support (T, N*K)`` int64 in ``0..N-1`` (class-major: ``K`` images of class 0, then
    class 1, …), ``x_query (T, N*Q, 1, H, W)``, ``y_query (T, N*Q)`` in the same order, and
    ``info = {"classes": (T, N) int64}``: the split's class id behind each new label.
    Support and query images of an episode are distinct images.
    """
    data = _resolve(split, source)
    if n_way < 1 or k_support < 1 or k_query < 0 or num_tasks < 1:
        raise ValueError("need n_way ≥ 1, k_support ≥ 1, k_query ≥ 0 and num_tasks ≥ 1")
    counts = data.class_counts()
    eligible = int((counts >= k_support + k_query).sum())
    if eligible < data.num_classes:
        raise ValueError(
            f"{data.name or 'this data set'} has classes with only {int(counts.min())} images; "
            f"{k_support} shots + {k_query} queries need {k_support + k_query} per class"
        )
    if n_way > data.num_classes:
        raise ValueError(
            f"{n_way}-way episodes need {n_way} classes but {data.name or 'the split'} has "
            f"{data.num_classes}"
        )
    shots = k_support + k_query
    tasks = _task_dataset(data, n_way, shots)
    state = random.getstate()
    random.seed(seed)
    try:
        sampled = [tasks.sample() for _ in range(num_tasks)]
    finally:
        random.setstate(state)

    x = torch.stack([t[0] for t in sampled])  # (T, N*(K+Q), 1, H, W) uint8
    y = torch.stack([torch.as_tensor(t[1]) for t in sampled]).long()  # new labels 0..N-1
    orig = torch.stack([torch.as_tensor(t[2]) for t in sampled]).long()  # the split's class ids
    # Class-major order; within a class, KShots' random order decides support vs query.
    order = torch.argsort(y, dim=1, stable=True)
    y = torch.gather(y, 1, order).reshape(num_tasks, n_way, shots)
    orig = torch.gather(orig, 1, order).reshape(num_tasks, n_way, shots)
    x = x[torch.arange(num_tasks)[:, None], order].reshape(num_tasks, n_way, shots, *x.shape[2:])
    dev = get_device(device)

    def images(part: torch.Tensor) -> torch.Tensor:
        return part.reshape(num_tasks, -1, *part.shape[3:]).to(dev).float().div_(255.0)

    return TaskBatch(
        images(x[:, :, :k_support]),
        y[:, :, :k_support].reshape(num_tasks, -1).to(dev),
        images(x[:, :, k_support:]),
        y[:, :, k_support:].reshape(num_tasks, -1).to(dev),
        {"classes": orig[:, :, 0].to(dev)},
    )


def default_eval_tasks() -> int:
    """Episodes in the fixed evaluation set: 200 by default, 600 with ``COURSE_SCALE=paper``
    (read by :func:`course_pkg.utils.resolve_scale`: any case; another value raises)."""
    return 600 if resolve_scale() == "paper" else 200


@functools.lru_cache(maxsize=16)
def _eval_cached(n_way, k_support, k_query, num_tasks, split, source) -> TaskBatch:
    return episodes(split, n_way, k_support, k_query, num_tasks, EVAL_SEED, "cpu", source)


def eval_episodes(
    n_way: int = 5,
    k_support: int = 1,
    k_query: int = 15,
    num_tasks: int | None = None,
    split: str = "test",
    device: str | torch.device | None = None,
    source: str = "glyphs",
) -> TaskBatch:
    """The fixed evaluation episodes (seed :data:`EVAL_SEED`) every method is compared on.

    ``num_tasks`` defaults to :func:`default_eval_tasks`. Same arguments → same episodes, in
    every chapter and on every device. Returns a fresh :class:`TaskBatch` (safe to modify).
    """
    n = default_eval_tasks() if num_tasks is None else num_tasks
    b = _eval_cached(n_way, k_support, k_query, n, split, source)
    copy = TaskBatch(*(t.clone() for t in b), {k: v.clone() for k, v in b.info.items()})
    return copy.to(get_device(device))


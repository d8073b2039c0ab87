"""Few-shot image data: offline glyphs, real Omniglot from a local folder, N-way K-shot episodes.

Data sets
---------
:class:`FewShotImages` holds ``images`` uint8 ``(M, 28, 28)`` (ink = 255 on 0), ``labels`` int64
``(M,)`` in ``0..C-1``, ``class_names`` and ``class_alphabet`` (one per class); ``.tensor()``
gives float32 ``(M, 1, 28, 28)`` in [0, 1], ``.subset(classes)`` relabels a subset.

``glyphs(root=None, seed=0, instances=20) -> FewShotImages``
    The offline Omniglot-like set: letters and symbols of 21 Unicode scripts/blocks rendered from
    the fonts inside matplotlib (DejaVu, STIX), look-alikes removed, 20 jittered instances per
    class (see :mod:`course_pkg.data.glyphgen`). Generated on first use (a few seconds) and cached
    in ``root`` (default ``$COURSE_DATA_DIR/glyphs``, else ``~/.cache/course_pkg/glyphs``) with
    its SHA-256 checksum in ``info["sha256"]`` (reference: :data:`GLYPHS_SHA256`).
    CLI: ``python -m course_pkg.data glyphs [--out DIR]`` prints class counts and the checksum.
``glyph_splits(seed=0, root=None) -> {"train", "val", "test": FewShotImages}``
    Disjoint by alphabet (:data:`GLYPH_SPLIT_ALPHABETS`); labels ``0..C_split-1`` per split.
``omniglot_splits(root=None) -> {"train", "val", "test": FewShotImages}``
    Real Omniglot from a local folder (``root``, else ``$COURSE_OMNIGLOT_DIR``, else
    ``$COURSE_DATA_DIR/omniglot``) in its standard layout
    ``images_background/<alphabet>/<character>/*.png`` + ``images_evaluation/...``:
    "test" = evaluation alphabets, "val" = every 6th background alphabet, "train" = the rest.
    Missing or malformed folders raise errors that say where to put the data.

Episodes
--------
``episodes(split="train", n_way=5, k_support=1, k_query=15, num_tasks=1, seed=0, device=None,
source="glyphs") -> TaskBatch``
    ``split``: "train" | "val" | "test" (of ``source`` "glyphs" | "omniglot") or a
    :class:`FewShotImages`. Built with learn2learn's ``MetaDataset``/``TaskDataset`` and
    ``NWays``, ``KShots``, ``LoadData``, ``RemapLabels``; seeded (Python's ``random`` is seeded
    for the call and restored). ``x_support (T, N*K, 1, 28, 28)`` float32 in [0, 1],
    ``y_support (T, N*K)`` int64 in ``0..N-1`` (class-major), ``x_query (T, N*Q, 1, 28, 28)``,
    ``y_query (T, N*Q)``; support and query images are distinct; ``info["classes"] (T, N)`` holds
    the split's class id behind each new label.
``eval_episodes(n_way=5, k_support=1, k_query=15, num_tasks=None, split="test", device=None,
source="glyphs") -> TaskBatch``
    The fixed evaluation episodes (seed :data:`EVAL_SEED`) every chapter compares methods on;
    ``num_tasks`` defaults to 200 (600 with ``COURSE_SCALE=paper``).
Confidence intervals of accuracies over episodes: :func:`course_pkg.utils.mean_ci`.

Environment variables: ``COURSE_DATA_DIR`` (cache root), ``COURSE_OMNIGLOT_DIR`` (real
Omniglot), ``COURSE_SCALE=paper`` (more evaluation episodes).
"""

from course_pkg.data.datasets import (
    DATA_ENV,
    GLYPH_SPLIT_ALPHABETS,
    GLYPHS_SHA256,
    FewShotImages,
    build_glyphs,
    data_dir,
    glyph_splits,
    glyphs,
)
from course_pkg.data.episodes import (
    EVAL_SEED,
    default_eval_tasks,
    episodes,
    eval_episodes,
    meta_dataset,
)
from course_pkg.data.omniglot import OMNIGLOT_ENV, omniglot, omniglot_dir, omniglot_splits

__all__ = [
    "DATA_ENV",
    "EVAL_SEED",
    "GLYPHS_SHA256",
    "GLYPH_SPLIT_ALPHABETS",
    "OMNIGLOT_ENV",
    "FewShotImages",
    "build_glyphs",
    "data_dir",
    "default_eval_tasks",
    "episodes",
    "eval_episodes",
    "glyph_splits",
    "glyphs",
    "meta_dataset",
    "omniglot",
    "omniglot_dir",
    "omniglot_splits",
]

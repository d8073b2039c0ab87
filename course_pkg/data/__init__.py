"""Few-shot image data: offline glyphs, real Omniglot from a local folder, and N-way K-shot episodes.

(API being implemented; names and signatures below are the contract other modules can code against.)

Data sets
---------
``FewShotImages``: a dataclass ``(images, labels, class_names, alphabets, class_alphabet)`` with
``images`` uint8 ``(M, 28, 28)`` (ink = 255, background = 0), ``labels`` int64 ``(M,)`` in
``0..C-1`` and one name/alphabet per class. ``.tensor()`` gives float ``(M, 1, 28, 28)`` in [0, 1].

``glyphs(root=None, seed=0) -> FewShotImages``
    The offline Omniglot-like set: letters of ~20 Unicode scripts rendered from the fonts that ship
    inside matplotlib (DejaVu, STIX), look-alikes removed, 20 jittered instances per class.
    Generated on first use (seconds) and cached in ``root`` (default ``$COURSE_DATA_DIR/glyphs``
    or ``~/.cache/course_pkg/glyphs``) with a SHA-256 checksum. CLI:
    ``python -m course_pkg.data glyphs --out DIR`` prints class counts and the checksum.
``glyph_splits(seed=0, root=None) -> dict[str, FewShotImages]``
    ``{"train", "val", "test"}``, disjoint by alphabet (script).
``omniglot_splits(root=None) -> dict[str, FewShotImages]``
    Real Omniglot from a local folder (``root``, else ``$COURSE_OMNIGLOT_DIR``) in its standard
    layout ``images_background/<alphabet>/<character>/*.png`` and ``images_evaluation/...``;
    "train"/"val" from background alphabets, "test" = evaluation. Clear error when missing.

Episodes
--------
``episodes(split, n_way=5, k_shot=1, q_query=15, num_tasks=1, seed=0, device=None,
source="glyphs") -> TaskBatch``
    ``split`` is "train" | "val" | "test" or a ``FewShotImages``. Built with learn2learn's
    ``MetaDataset``/``TaskDataset`` (NWays, KShots, LoadData, RemapLabels), seeded.
    ``x_support (T, N*K, 1, 28, 28)`` float32 in [0, 1], ``y_support (T, N*K)`` int64 in 0..N-1
    (class-major order), ``x_query (T, N*Q, 1, 28, 28)``, ``y_query (T, N*Q)``; support and query
    images are disjoint. ``info["classes"] (T, N)`` holds the original class ids.
``eval_episodes(n_way=5, k_shot=1, q_query=15, num_tasks=None, split="test", device=None)``
    The fixed evaluation episodes every chapter uses for fair comparison (fixed seed; default
    ``num_tasks`` 200 on CPU, 600 with ``COURSE_SCALE=paper``).
``mean_ci95(values) -> (mean, half_width)``  95 % normal-approximation confidence interval.
"""

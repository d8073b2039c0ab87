"""Few-shot image sets: the :class:`FewShotImages` container, the cached glyphs and their splits."""

from __future__ import annotations

import functools
import os
import tempfile
import unicodedata
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from course_pkg.data import glyphgen as _glyphs

DATA_ENV = "COURSE_DATA_DIR"

#: SHA-256 of the default glyph set (seed 0, 20 instances); see :func:`course_pkg.data.glyphs`.
GLYPHS_SHA256 = "fff6e6bda7aedb6542ce0a5561f8b311601aa9082802a68bc492a58c1647b00e"

#: Alphabets held out for meta-validation and meta-testing; every other alphabet is meta-training.
GLYPH_SPLIT_ALPHABETS: dict[str, tuple[str, ...]] = {
    "val": ("Lao", "Ogham", "Geometric Shapes"),
    "test": ("Armenian", "Hebrew", "Georgian", "Tifinagh", "Technical", "Dingbats"),
}


def data_dir() -> Path:
    """Root of the course's data cache: ``$COURSE_DATA_DIR``, else ``~/.cache/course_pkg``."""
    env = os.environ.get(DATA_ENV)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "course_pkg"


@dataclass
class FewShotImages:
    """A labelled image set for few-shot learning.

    ``images``: uint8 ``(M, H, W)`` with ink = 255 on background 0; ``labels``: int64 ``(M,)`` in
    ``0..C-1``; ``class_names[c]`` and ``class_alphabet[c]`` describe class ``c``.
    """

    images: np.ndarray
    labels: np.ndarray
    class_names: list[str]
    class_alphabet: list[str]
    name: str = ""
    info: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.images.ndim != 3 or self.images.dtype != np.uint8:
            raise ValueError(
                f"images must be uint8 (M, H, W); got {self.images.dtype} {self.images.shape}"
            )
        if self.labels.shape != (self.images.shape[0],):
            raise ValueError(
                f"labels {self.labels.shape} do not match {self.images.shape[0]} images"
            )
        if len(self.class_names) != len(self.class_alphabet):
            raise ValueError("class_names and class_alphabet must have one entry per class")
        if self.labels.size and (self.labels.min() < 0 or self.labels.max() >= self.num_classes):
            raise ValueError(f"labels must lie in 0..{self.num_classes - 1}")

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def alphabets(self) -> list[str]:
        """Alphabet names in order of first appearance."""
        return list(dict.fromkeys(self.class_alphabet))

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def class_counts(self) -> np.ndarray:
        """Number of images per class, int64 ``(C,)``."""
        return np.bincount(self.labels, minlength=self.num_classes)

    def tensor(self, device: str | torch.device | None = "cpu") -> torch.Tensor:
        """All images as float32 ``(M, 1, H, W)`` in [0, 1] on ``device``."""
        x = torch.from_numpy(self.images).to(device)
        return x.unsqueeze(1).float().div_(255.0)

    def subset(self, classes: list[int] | np.ndarray, name: str | None = None) -> FewShotImages:
        """The images of ``classes`` (indices into this set), relabelled ``0..len(classes)-1``."""
        classes = np.asarray(classes, dtype=np.int64)
        lut = np.full(self.num_classes, -1, np.int64)
        lut[classes] = np.arange(classes.size)
        keep = lut[self.labels] >= 0
        return FewShotImages(
            self.images[keep],
            lut[self.labels[keep]],
            [self.class_names[c] for c in classes],
            [self.class_alphabet[c] for c in classes],
            name=self.name if name is None else name,
            info=dict(self.info),
        )

    def split_by_alphabet(self, held_out: dict[str, tuple[str, ...]]) -> dict[str, FewShotImages]:
        """``{"train": ..., **held_out}``: alphabets listed in ``held_out`` go to their split,
        every other alphabet to ``"train"``; ``ValueError`` if an alphabet is listed twice."""
        owner: dict[str, str] = {}
        for split, names in held_out.items():
            for a in names:
                if a in owner:
                    raise ValueError(f"alphabet {a!r} is listed in both {owner[a]!r} and {split!r}")
                owner[a] = split
        out = {}
        for split in ("train", *held_out):
            cls = [c for c, a in enumerate(self.class_alphabet) if owner.get(a, "train") == split]
            out[split] = self.subset(cls, name=f"{self.name}/{split}")
        return out


# ----------------------------------------------------------------------------- glyph cache


def _glyph_cache_file(root: Path, seed: int, instances: int) -> Path:
    return root / f"glyphs_v{_glyphs.GLYPHS_VERSION}_seed{seed}_k{instances}.npz"


def build_glyphs(
    root: str | Path | None = None, seed: int = 0, instances: int = 20, force: bool = False
) -> tuple[Path, str, bool]:
    """Generate the glyph set into ``root`` (default ``data_dir()/glyphs``) unless cached.

    Returns ``(file, sha256 hex checksum, generated)``. A cached file whose stored checksum does
    not match its content is regenerated. The write is atomic (temporary file, then rename), so
    concurrent processes never read a half-written file.
    """
    root = Path(root).expanduser() if root is not None else data_dir() / "glyphs"
    path = _glyph_cache_file(root, seed, instances)
    if path.exists() and not force:
        try:
            with np.load(path) as z:
                arrays = {k: z[k] for k in z.files}
            stored = str(arrays.pop("sha256"))
            if _glyphs.checksum(arrays) == stored:
                return path, stored, False
            warnings.warn(f"glyph cache {path} is corrupt (checksum mismatch); regenerating",
                          RuntimeWarning, stacklevel=2)
        except (OSError, ValueError, KeyError) as e:
            warnings.warn(f"could not read glyph cache {path} ({e}); regenerating",
                          RuntimeWarning, stacklevel=2)
    arrays = _glyphs.generate_glyphs(seed=seed, instances=instances)
    digest = _glyphs.checksum(arrays)
    if seed == 0 and instances == 20 and digest != GLYPHS_SHA256:
        warnings.warn(
            f"the glyph set's checksum {digest[:16]}… differs from the reference "
            f"{GLYPHS_SHA256[:16]}…: the matplotlib version or its fonts differ from "
            "requirements.txt, so numbers may differ slightly from the book",
            RuntimeWarning,
            stacklevel=2,
        )
    root.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=root, suffix=".npz.tmp")
    os.close(fd)
    try:
        with open(tmp, "wb") as f:
            np.savez_compressed(f, sha256=np.asarray(digest), **arrays)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path, digest, True


@functools.lru_cache(maxsize=4)
def _load_glyphs(root: str | None, seed: int, instances: int) -> FewShotImages:
    path, digest, _ = build_glyphs(root, seed, instances)
    with np.load(path) as z:
        images, labels = z["images"], z["labels"]
        codepoints, class_alpha, alphabets = z["codepoints"], z["class_alphabet"], z["alphabets"]
        seconds = float(z["seconds"])
    names = [f"U+{cp:04X} {unicodedata.name(chr(cp), '?')}" for cp in codepoints]
    return FewShotImages(
        images,
        labels,
        names,
        [str(alphabets[a]) for a in class_alpha],
        name="glyphs",
        info={"sha256": digest, "file": str(path), "seed": seed, "instances": instances,
              "codepoints": codepoints, "generation_seconds": seconds},
    )


def glyphs(root: str | Path | None = None, seed: int = 0, instances: int = 20) -> FewShotImages:
    """The offline Omniglot-like glyph set (generated on first use, then read from the cache).

    ``root`` defaults to ``$COURSE_DATA_DIR/glyphs`` or ``~/.cache/course_pkg/glyphs``.
    ``info`` holds the SHA-256 checksum, the cache file and the code point of each class.
    The returned arrays are shared between calls: do not modify them in place.
    """
    return _load_glyphs(None if root is None else str(root), seed, instances)


def glyph_splits(
    seed: int = 0, root: str | Path | None = None, instances: int = 20
) -> dict[str, FewShotImages]:
    """``{"train", "val", "test"}`` glyph sets, disjoint by alphabet
    (:data:`GLYPH_SPLIT_ALPHABETS`); each split's labels run over its classes, ``0..C_split-1``."""
    return dict(_glyph_splits(seed, None if root is None else str(root), instances))


@functools.lru_cache(maxsize=4)
def _glyph_splits(seed: int, root: str | None, instances: int) -> dict[str, FewShotImages]:
    return glyphs(root, seed, instances).split_by_alphabet(GLYPH_SPLIT_ALPHABETS)

"""Real Omniglot (Lake et al., 2015) read from a local folder in its standard layout.

Expected layout (the two zips ``images_background.zip`` and ``images_evaluation.zip`` of
https://github.com/brendenlake/omniglot, ``python/`` folder, unzipped side by side)::

    <root>/images_background/<alphabet>/<character>/<drawing>.png   (30 alphabets, 964 chars)
    <root>/images_evaluation/<alphabet>/<character>/<drawing>.png   (20 alphabets, 659 chars)

``<root>`` is the ``root`` argument, else ``$COURSE_OMNIGLOT_DIR``, else
``$COURSE_DATA_DIR/omniglot`` (default ``~/.cache/course_pkg/omniglot``). torchvision's layout
``<root>/omniglot-py/images_background/...`` is accepted too. Nothing is downloaded.
"""

from __future__ import annotations

import functools
import hashlib
import os
from pathlib import Path

import numpy as np

from course_pkg.data.datasets import FewShotImages, data_dir

OMNIGLOT_ENV = "COURSE_OMNIGLOT_DIR"
PARTS = ("images_background", "images_evaluation")
URL = "https://github.com/brendenlake/omniglot/tree/master/python"


def omniglot_dir(root: str | Path | None = None) -> Path:
    """Where Omniglot is looked for: ``root``, ``$COURSE_OMNIGLOT_DIR``, ``data_dir()/omniglot``."""
    if root is not None:
        return Path(root).expanduser()
    env = os.environ.get(OMNIGLOT_ENV)
    return Path(env).expanduser() if env else data_dir() / "omniglot"


def _how_to(root: Path) -> str:
    return (
        f"Download images_background.zip and images_evaluation.zip from {URL} and unzip both "
        f"into {root} so that {root}/images_background/<alphabet>/<character>/*.png exists "
        f"(likewise images_evaluation), or point ${OMNIGLOT_ENV} (or the `root` argument) at the "
        "folder that holds them. Without Omniglot, use the offline glyphs: "
        "course_pkg.data.glyph_splits()."
    )


def _resolve(root: Path) -> Path:
    if not root.exists():
        raise FileNotFoundError(f"Omniglot folder {root} does not exist. " + _how_to(root))
    for cand in (root, root / "omniglot-py"):
        if all((cand / p).is_dir() for p in PARTS):
            return cand
    missing = [p for p in PARTS if not (root / p).is_dir()]
    raise FileNotFoundError(
        f"Omniglot folder {root} is missing {', '.join(missing)}. " + _how_to(root)
    )


def _scan(part_dir: Path) -> list[tuple[str, str, list[Path]]]:
    """``[(alphabet, character, [png, ...]), ...]`` sorted; raises ``ValueError`` when malformed."""
    alphabets = sorted(p for p in part_dir.iterdir() if p.is_dir())
    if not alphabets:
        raise ValueError(
            f"{part_dir} contains no alphabet folders; expected "
            f"{part_dir}/<alphabet>/<character>/*.png"
        )
    out = []
    for a in alphabets:
        chars = sorted(p for p in a.iterdir() if p.is_dir())
        if not chars:
            raise ValueError(
                f"alphabet folder {a} contains no character folders; expected {a}/<character>/*.png"
            )
        for c in chars:
            pngs = sorted(c.glob("*.png"))
            if not pngs:
                raise ValueError(f"character folder {c} contains no .png drawings")
            out.append((a.name, c.name, pngs))
    return out


def _load_png(path: Path, size: int) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            im = im.convert("L")
            if im.size != (size, size):
                im = im.resize((size, size), Image.Resampling.LANCZOS)
            arr = np.asarray(im, dtype=np.uint8)
    except (UnidentifiedImageError, OSError) as e:
        raise ValueError(f"cannot read Omniglot image {path}: {e}") from e
    return 255 - arr  # Omniglot draws black strokes on white; the course uses ink = 255


@functools.lru_cache(maxsize=2)
def _load_part(part_dir: str, size: int, signature: str) -> FewShotImages:
    entries = _scan(Path(part_dir))
    images, labels, names, alphas = [], [], [], []
    for label, (alpha, char, pngs) in enumerate(entries):
        names.append(f"{alpha}/{char}")
        alphas.append(alpha)
        for p in pngs:
            images.append(_load_png(p, size))
            labels.append(label)
    return FewShotImages(
        np.stack(images),
        np.asarray(labels, np.int64),
        names,
        alphas,
        name=f"omniglot/{Path(part_dir).name}",
        info={"root": part_dir},
    )


def _signature(part_dir: Path) -> str:
    """Cheap fingerprint of a folder tree (paths and sizes), so edits invalidate the cache."""
    h = hashlib.sha1()
    for p in sorted(part_dir.rglob("*.png")):
        h.update(str(p.relative_to(part_dir)).encode())
        h.update(str(p.stat().st_size).encode())
    return h.hexdigest()


def omniglot(root: str | Path | None = None, image_size: int = 28) -> dict[str, FewShotImages]:
    """``{"background": ..., "evaluation": ...}`` Omniglot parts, resized to ``image_size``.

    Raises ``FileNotFoundError`` (saying where to put the data) when the folder or a part is
    missing and ``ValueError`` naming the offending path when the layout is malformed.
    """
    base = _resolve(omniglot_dir(root))
    out = {}
    for part in PARTS:
        d = base / part
        out[part.removeprefix("images_")] = _load_part(str(d), image_size, _signature(d))
    return out


def omniglot_splits(
    root: str | Path | None = None, image_size: int = 28, val_every: int = 6
) -> dict[str, FewShotImages]:
    """``{"train", "val", "test"}`` from real Omniglot, disjoint by alphabet.

    "test" is ``images_evaluation``; every ``val_every``-th background alphabet (in sorted
    order, starting with the first) is "val", the other background alphabets are "train".
    """
    parts = omniglot(root, image_size)
    bg = parts["background"]
    names = bg.alphabets
    val = tuple(names[::val_every]) if len(names) > 1 else ()
    splits = bg.split_by_alphabet({"val": val})
    splits["train"].name, splits["val"].name = "omniglot/train", "omniglot/val"
    test = parts["evaluation"]
    splits["test"] = test.subset(np.arange(test.num_classes), name="omniglot/test")
    return splits

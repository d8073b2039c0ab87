"""Offline Omniglot-like glyphs rendered from the fonts that ship inside matplotlib.

Every machine with the pinned matplotlib wheel has the same font files (DejaVu Sans/Serif/Mono and
STIX General, each in four styles) and the same bundled FreeType rasteriser, so the data set is a
pure function of the seed. The recipe:

1. **Classes.** Characters of about twenty Unicode scripts or symbol blocks form the "alphabets"
   (:data:`ALPHABETS`). A character is a candidate when it is a letter (for scripts) or a symbol
   (for symbol blocks), has no canonical/compatibility decomposition (so no accented copies such
   as ``é``), is drawn by at least :data:`MIN_FACES` of the 16 font faces and is not tiny.
2. **De-duplication.** Look-alikes (Latin ``A``, Greek ``Α``, Cyrillic ``А``; ``O``/``o`` once
   normalised for size) are removed greedily: a candidate is dropped when the cosine similarity of
   its 28×28 rendering to an already kept character, averaged over the font faces both share,
   exceeds :data:`DEDUP_THRESHOLD`; a lowercase letter is dropped when it matches its capital at
   :data:`CASE_THRESHOLD` (``c``/``C``). At most :data:`MAX_PER_ALPHABET` characters per
   alphabet are kept (evenly spread over the script), like Omniglot's 14–55 per alphabet.
3. **Instances.** Each of the ``instances`` images of a class picks a random face among those that
   draw it, a random stroke thickening (0–2 pixels at twice the final resolution), a random affine
   map (rotation up to about ±15°, anisotropic scale, shear, shift) and a smooth elastic
   displacement field, then is sampled bilinearly to 28×28 grayscale (ink = 255).

Only IEEE-exact elementwise arithmetic is used after rendering (no BLAS, no transcendental
functions; rotations are parameterised by the Cayley transform), so the bytes — and the SHA-256
checksum over images, labels and class code points — are identical across machines.
"""

from __future__ import annotations

import hashlib
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import numpy as np

IMAGE_SIZE = 28
CANVAS = 2 * IMAGE_SIZE  # masters are rendered at twice the output resolution
GLYPH_BOX = 40  # the longer side of a master glyph, in canvas pixels
MIN_FACES = 2
DEDUP_THRESHOLD = 0.90
CASE_THRESHOLD = 0.80
MAX_PER_ALPHABET = 60
MIN_PER_ALPHABET = 14
GLYPHS_VERSION = 1

#: Font files (inside ``matplotlib/mpl-data/fonts/ttf``) used to draw the glyphs.
FACES: tuple[str, ...] = (
    "DejaVuSans.ttf",
    "DejaVuSans-Bold.ttf",
    "DejaVuSans-Oblique.ttf",
    "DejaVuSans-BoldOblique.ttf",
    "DejaVuSerif.ttf",
    "DejaVuSerif-Bold.ttf",
    "DejaVuSerif-Italic.ttf",
    "DejaVuSerif-BoldItalic.ttf",
    "DejaVuSansMono.ttf",
    "DejaVuSansMono-Bold.ttf",
    "DejaVuSansMono-Oblique.ttf",
    "DejaVuSansMono-BoldOblique.ttf",
    "STIXGeneral.ttf",
    "STIXGeneralBol.ttf",
    "STIXGeneralItalic.ttf",
    "STIXGeneralBolIta.ttf",
)

#: Upright regular faces, used to compare candidates for look-alikes.
REGULAR_FACES = ("DejaVuSans.ttf", "DejaVuSerif.ttf", "DejaVuSansMono.ttf", "STIXGeneral.ttf")

#: ``(alphabet name, kind, code point ranges)``; kind "L" keeps letters, "S" keeps symbols.
#: The order is the de-duplication priority: earlier alphabets keep shared shapes.
ALPHABETS: tuple[tuple[str, str, tuple[tuple[int, int], ...]], ...] = (
    ("Latin", "L", ((0x0041, 0x005A), (0x0061, 0x007A), (0x00C0, 0x024F))),
    ("Greek", "L", ((0x0370, 0x03E1), (0x03F0, 0x03FF), (0x1F00, 0x1FFF))),
    ("Cyrillic", "L", ((0x0400, 0x052F), (0xA640, 0xA69F))),
    ("IPA", "L", ((0x0250, 0x02AF), (0x1D00, 0x1DBF))),
    ("Armenian", "L", ((0x0531, 0x058F),)),
    ("Hebrew", "L", ((0x05D0, 0x05EA),)),
    ("Arabic", "L", ((0x0620, 0x064A), (0x066E, 0x06D3), (0x06FA, 0x06FF))),
    ("NKo", "L", ((0x07C0, 0x07FF),)),
    ("Lao", "L", ((0x0E80, 0x0EFF),)),
    ("Georgian", "L", ((0x10A0, 0x10FF), (0x2D00, 0x2D2F))),
    ("Canadian Syllabics", "L", ((0x1400, 0x167F),)),
    ("Ogham", "L", ((0x1680, 0x169F),)),
    ("Coptic", "L", ((0x2C80, 0x2CFF), (0x03E2, 0x03EF))),
    ("Tifinagh", "L", ((0x2D30, 0x2D7F),)),
    ("Lisu", "L", ((0xA4D0, 0xA4FF),)),
    ("Old Italic", "L", ((0x10300, 0x1032F),)),
    ("Letterlike", "S", ((0x2100, 0x214F),)),
    ("Mathematical Operators", "S", ((0x2200, 0x22FF), (0x27C0, 0x27EF), (0x2980, 0x2AFF))),
    ("Arrows", "S", ((0x2190, 0x21FF), (0x27F0, 0x27FF), (0x2900, 0x297F), (0x2B00, 0x2BFF))),
    ("Technical", "S", ((0x2300, 0x23FF),)),
    ("Box Drawing", "S", ((0x2500, 0x259F),)),
    ("Geometric Shapes", "S", ((0x25A0, 0x25FF),)),
    ("Miscellaneous Symbols", "S", ((0x2600, 0x26FF),)),
    ("Dingbats", "S", ((0x2700, 0x27BF),)),
)


def font_dir() -> Path:
    """Folder of the TrueType fonts bundled with matplotlib."""
    import matplotlib

    return Path(matplotlib.get_data_path()) / "fonts" / "ttf"


# ----------------------------------------------------------------------------- rendering


def _master(font, cp: int, probe_em: float = 48.0) -> np.ndarray | None:
    """``CANVAS×CANVAS`` uint8 master (ink > 0) of code point ``cp``, longer side ``GLYPH_BOX``.

    The glyph's ink box is measured at ``probe_em`` pixels per em, the glyph is rendered at the
    size that makes its longer side ``GLYPH_BOX`` pixels, cropped to its ink and centred.
    Returns ``None`` for empty or tiny glyphs (longer side below a quarter of an em).
    """
    from matplotlib.ft2font import LoadFlags

    font.set_size(probe_em, 72)
    g = font.load_char(cp, flags=LoadFlags.NO_HINTING)
    side = max(g.width, g.height) / 64.0
    if side < probe_em / 4:
        return None
    font.set_size(probe_em * GLYPH_BOX / side, 72)
    g = font.load_char(cp, flags=LoadFlags.NO_HINTING)
    img = np.zeros((2 * CANVAS, 2 * CANVAS), np.uint8)
    font.draw_glyph_to_bitmap(img, CANVAS // 2, CANVAS // 2, g, antialiased=True)
    rows = np.flatnonzero(img.max(axis=1) > 0)
    cols = np.flatnonzero(img.max(axis=0) > 0)
    if rows.size == 0:
        return None
    img = img[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    h, w = img.shape
    if h > CANVAS or w > CANVAS:
        return None
    out = np.zeros((CANVAS, CANVAS), np.uint8)
    top, left = (CANVAS - h) // 2, (CANVAS - w) // 2
    out[top : top + h, left : left + w] = img
    return out


def _is_candidate(cp: int, kind: str) -> bool:
    ch = chr(cp)
    cat = unicodedata.category(ch)
    if unicodedata.decomposition(ch):
        return False
    if kind == "L":
        return cat in ("Lu", "Ll", "Lo", "Lt")
    return cat in ("So", "Sm")


def _downsample(masters: np.ndarray) -> np.ndarray:
    """2×2 mean-pooling of ``(n, CANVAS, CANVAS)`` masters to float64 ``(n, 28, 28)``."""
    m = masters.astype(np.float64)
    return (m[:, 0::2, 0::2] + m[:, 1::2, 0::2] + m[:, 0::2, 1::2] + m[:, 1::2, 1::2]) / 4.0


@dataclass
class GlyphClasses:
    """Selected classes: code points, alphabet index per class, alphabet names, and masters.

    ``masters[c]`` is a ``(F, CANVAS, CANVAS)`` uint8 array over the faces that draw class ``c``
    (``faces[c]`` lists their indices into :data:`FACES`).
    """

    codepoints: list[int]
    alphabet_of: list[int]
    alphabet_names: list[str]
    faces: list[list[int]]
    masters: list[np.ndarray]


def _pool(v: np.ndarray, k: int) -> np.ndarray:
    """Sum-pool ``(..., 28*28)`` integer renderings to ``(..., (28/k)**2)`` (exact)."""
    side = IMAGE_SIZE // k
    x = v.reshape(*v.shape[:-1], side, k, side, k)
    return x.sum(axis=(-3, -1)).reshape(*v.shape[:-1], side * side)


def _lookalike_pairs(vecs: np.ndarray, has: np.ndarray, threshold: float) -> dict:
    """Pairs ``(i, j)``, ``i < j``, whose cosine similarity, averaged over shared faces, is high.

    ``vecs (F, n, 784)`` hold integer renderings (0..64), ``has (F, n)`` marks which face draws
    which candidate. A 14×14 pre-filter (margin 0.1) proposes pairs; their similarity is then
    computed at 28×28. All dot products are sums of integers below 2**24, exact in float32
    whatever the BLAS summation order, so the result is the same on every machine.
    Returns ``{(i, j): similarity}`` for pairs at or above ``threshold``.
    """
    nf, n, _ = vecs.shape
    coarse = _pool(vecs, 2) / 4.0  # values ≤ 64, still integers after the floor below
    coarse = np.floor(coarse)
    sim_sum = np.zeros((n, n), np.float32)
    count = np.zeros((n, n), np.float32)
    for f in range(nf):
        idx = np.flatnonzero(has[f])
        v = coarse[f, idx].astype(np.float32)
        dots = v @ v.T
        norms = np.sqrt(np.maximum(np.diag(dots), 1.0))
        sim_sum[np.ix_(idx, idx)] += dots / norms[:, None] / norms[None, :]
        count[np.ix_(idx, idx)] += 1.0
    proposed = np.argwhere(np.triu(sim_sum >= (threshold - 0.1) * np.maximum(count, 1.0), k=1))
    sims = _pair_similarities(vecs, has, proposed)
    return {
        (int(i), int(j)): float(v) for (i, j), v in zip(proposed, sims) if v >= threshold
    }


def _pair_similarities(
    vecs: np.ndarray, has: np.ndarray, pairs: np.ndarray, chunk: int = 2048
) -> np.ndarray:
    """Exact cosine similarity of candidate pairs ``(P, 2)``, averaged over shared faces."""
    out = np.zeros(len(pairs))
    for start in range(0, len(pairs), chunk):
        i, j = pairs[start : start + chunk, 0], pairs[start : start + chunk, 1]
        total = np.zeros(len(i))
        shared = np.zeros(len(i))
        for f in range(vecs.shape[0]):
            a, b = vecs[f, i], vecs[f, j]  # int64: sums are exact
            both = has[f, i] & has[f, j]
            norms = np.sqrt((a * a).sum(axis=1).astype(np.float64) * (b * b).sum(axis=1))
            cos = (a * b).sum(axis=1) / np.maximum(norms, 1.0)
            total += np.where(both, cos, 0.0)
            shared += both
        out[start : start + chunk] = np.where(shared > 0, total / np.maximum(shared, 1.0), 0.0)
    return out


def select_classes(
    dedup_threshold: float = DEDUP_THRESHOLD,
    max_per_alphabet: int = MAX_PER_ALPHABET,
    min_faces: int = MIN_FACES,
) -> GlyphClasses:
    """Choose the character classes (steps 1–2 of the module docstring); deterministic.

    Look-alikes are compared on the four upright regular faces (DejaVu Sans/Serif/Mono, STIX);
    the remaining faces are rendered only for the characters that survive.
    """
    from matplotlib.ft2font import FT2Font

    fdir = font_dir()
    fonts = [FT2Font(str(fdir / f)) for f in FACES]
    charmaps = [set(f.get_charmap()) for f in fonts]
    regular = [i for i, f in enumerate(FACES) if f in REGULAR_FACES]

    # 1. candidates with masters in the regular faces
    cand: list[tuple[int, int]] = []  # (code point, alphabet index)
    reg_masters: list[dict[int, np.ndarray]] = []
    seen: set[int] = set()
    for a, (_, kind, ranges) in enumerate(ALPHABETS):
        for lo, hi in ranges:
            for cp in range(lo, hi + 1):
                if cp in seen or not _is_candidate(cp, kind):
                    continue
                if sum(cp in cm for cm in charmaps) < min_faces:
                    continue
                ms = {}
                for i in regular:
                    if cp in charmaps[i]:
                        m = _master(fonts[i], cp)
                        if m is not None:
                            ms[i] = m
                if not ms:
                    continue
                seen.add(cp)
                cand.append((cp, a))
                reg_masters.append(ms)

    # 2. greedy de-duplication in priority order
    n = len(cand)
    vecs = np.zeros((len(regular), n, IMAGE_SIZE * IMAGE_SIZE), np.int64)
    has = np.zeros((len(regular), n), bool)
    for c, ms in enumerate(reg_masters):
        for j, i in enumerate(regular):
            if i in ms:
                vecs[j, c] = np.floor(_downsample(ms[i][None])[0] / 4.0 + 0.5).ravel()
                has[j, c] = True
    pairs = _lookalike_pairs(vecs, has, dedup_threshold)
    # A lowercase letter that is a smaller copy of its capital (c/C, o/O, к/К…) looks the same
    # once sizes are normalised, although stroke weights differ: it is dropped when it matches
    # its capital at the lower CASE_THRESHOLD (the capital's shape is kept, or a look-alike of it).
    index = {cp: k for k, (cp, _) in enumerate(cand)}
    case_copies = set()
    for k, (cp, _) in enumerate(cand):
        up = chr(cp).upper()
        if len(up) == 1 and ord(up) != cp and ord(up) in index:
            pair = np.asarray([[index[ord(up)], k]])
            if _pair_similarities(vecs, has, pair)[0] >= CASE_THRESHOLD:
                case_copies.add(k)
    partners: dict[int, list[int]] = {}
    for i, j in pairs:
        partners.setdefault(j, []).append(i)
    kept: list[int] = []
    kept_set: set[int] = set()
    for c in range(n):
        if c in case_copies or any(i in kept_set for i in partners.get(c, ())):
            continue
        kept.append(c)
        kept_set.add(c)

    # 3. spread at most `max_per_alphabet` characters evenly over each script, render all faces
    classes: list[tuple[int, int, list[int], np.ndarray]] = []
    for a in range(len(ALPHABETS)):
        members = [c for c in kept if cand[c][1] == a]
        if len(members) > max_per_alphabet:
            idx = [(i * len(members)) // max_per_alphabet for i in range(max_per_alphabet)]
            members = [members[i] for i in idx]
        rows = []
        for c in members:
            cp = cand[c][0]
            faces, ms = [], []
            for i, cm in enumerate(charmaps):
                if cp not in cm:
                    continue
                m = reg_masters[c].get(i) if i in regular else _master(fonts[i], cp)
                if m is not None:
                    faces.append(i)
                    ms.append(m)
            if len(faces) >= min_faces:
                rows.append((cp, a, faces, np.stack(ms)))
        if len(rows) >= MIN_PER_ALPHABET:
            classes.extend(rows)

    used = sorted({a for _, a, _, _ in classes})
    remap = {a: i for i, a in enumerate(used)}
    return GlyphClasses(
        codepoints=[cp for cp, _, _, _ in classes],
        alphabet_of=[remap[a] for _, a, _, _ in classes],
        alphabet_names=[ALPHABETS[a][0] for a in used],
        faces=[f for _, _, f, _ in classes],
        masters=[m for _, _, _, m in classes],
    )


# ----------------------------------------------------------------------------- jitter


def _dilate(m: np.ndarray, steps: np.ndarray) -> np.ndarray:
    """Grey-level dilation of ``(n, H, W)`` by a 3×3 square, ``steps[i]`` times for image ``i``."""
    out = m.copy()
    for s in range(1, int(steps.max(initial=0)) + 1):
        sel = np.flatnonzero(steps >= s)
        x = out[sel]
        p = np.pad(x, ((0, 0), (1, 1), (0, 0)))
        x = np.maximum(np.maximum(p[:, :-2], p[:, 1:-1]), p[:, 2:])
        p = np.pad(x, ((0, 0), (0, 0), (1, 1)))
        out[sel] = np.maximum(np.maximum(p[:, :, :-2], p[:, :, 1:-1]), p[:, :, 2:])
    return out


def _blur(m: np.ndarray) -> np.ndarray:
    """Separable [1, 2, 1]/4 blur of ``(n, H, W)`` float32 (anti-aliasing before 2× sampling)."""
    p = np.pad(m, ((0, 0), (1, 1), (0, 0)))
    m = (p[:, :-2] + 2.0 * p[:, 1:-1] + p[:, 2:]) * 0.25  # float32 in, float32 out
    p = np.pad(m, ((0, 0), (0, 0), (1, 1)))
    return (p[:, :, :-2] + 2.0 * p[:, :, 1:-1] + p[:, :, 2:]) * 0.25


def _coarse_to_fine(grid: np.ndarray, size: int) -> np.ndarray:
    """Bilinear upsampling of ``(n, g, g)`` control values to ``(n, size, size)``, elementwise."""
    g = grid.shape[1]
    t = (np.arange(size, dtype=np.float64) + 0.5) / size * (g - 1)
    i0 = np.minimum(np.floor(t).astype(np.int64), g - 2)
    f = t - i0
    rows = grid[:, i0, :] * (1.0 - f)[None, :, None] + grid[:, i0 + 1, :] * f[None, :, None]
    return rows[:, :, i0] * (1.0 - f)[None, None, :] + rows[:, :, i0 + 1] * f[None, None, :]


def render_instances(
    masters: np.ndarray,
    rng: np.random.Generator,
    bold: np.ndarray | None = None,
    elastic: float = 1.0,
) -> np.ndarray:
    """Jitter ``(n, CANVAS, CANVAS)`` uint8 masters into ``(n, 28, 28)`` uint8 images.

    Per image: stroke thickening by 0–2 canvas pixels (0–1 when ``bold[i]``), rotation (Cayley
    parameter ``t ∈ ±0.13``, i.e. about ±15°), scale ``0.85–1.10`` with ±8 % anisotropy, shear
    ``±0.15``, shift ``±2`` px, and an elastic field on a 4×4 control grid with amplitude
    ``elastic`` output pixels.
    """
    n = masters.shape[0]
    s = IMAGE_SIZE
    u = rng.random((n, 7))
    levels = np.full(n, 3.0) if bold is None else np.where(bold, 2.0, 3.0)
    strokes = np.floor(u[:, 0] * levels).astype(np.int64)
    t = (u[:, 1] * 2.0 - 1.0) * 0.13
    scale = 0.85 + 0.25 * u[:, 2]
    aniso = 1.0 + (u[:, 3] * 2.0 - 1.0) * 0.08
    shear = (u[:, 4] * 2.0 - 1.0) * 0.15
    shift = (u[:, 5:7] * 2.0 - 1.0) * 2.0
    grid = (rng.random((n, 2, 4, 4)) * 2.0 - 1.0) * elastic

    src = _blur(_dilate(masters.astype(np.float32), strokes))

    # Forward map (output → glyph): A = R(t) @ [[sx, shear], [0, sy]]; we need its inverse to
    # find, for each output pixel, where to read in the master.
    denom = 1.0 + t * t
    c, sn = (1.0 - t * t) / denom, 2.0 * t / denom
    sx, sy = scale * aniso, scale / aniso
    a11, a12 = c * sx, c * shear - sn * sy
    a21, a22 = sn * sx, sn * shear + c * sy
    det = a11 * a22 - a12 * a21
    i11, i12, i21, i22 = a22 / det, -a12 / det, -a21 / det, a11 / det

    centre = (s - 1) / 2.0
    coords = np.arange(s, dtype=np.float64) - centre
    yy = coords[None, :, None] - shift[:, 1, None, None]
    xx = coords[None, None, :] - shift[:, 0, None, None]
    yy = yy + _coarse_to_fine(grid[:, 0], s)
    xx = xx + _coarse_to_fine(grid[:, 1], s)
    # Inverse affine, then output pixels → canvas pixels (×2, centred).
    ys = (i21[:, None, None] * xx + i22[:, None, None] * yy) * 2.0 + (CANVAS - 1) / 2.0
    xs = (i11[:, None, None] * xx + i12[:, None, None] * yy) * 2.0 + (CANVAS - 1) / 2.0

    y0 = np.floor(ys)
    x0 = np.floor(xs)
    fy, fx = (ys - y0).astype(np.float32), (xs - x0).astype(np.float32)
    # Zero padding of 2 on each side: clipping the top-left tap into [-2, CANVAS] keeps every
    # out-of-canvas tap inside the zero border, so all four taps stay valid without more checks.
    width = CANVAS + 4
    y0 = np.clip(y0.astype(np.int64), -2, CANVAS) + 2
    x0 = np.clip(x0.astype(np.int64), -2, CANVAS) + 2
    flat = np.pad(src, ((0, 0), (2, 2), (2, 2))).reshape(n, -1)
    base = (y0 * width + x0).reshape(n, -1)

    def tap(offset: int) -> np.ndarray:
        return np.take_along_axis(flat, base + offset, axis=1).reshape(n, s, s)

    val = (tap(0) * (1.0 - fx) + tap(1) * fx) * (1.0 - fy) + (
        tap(width) * (1.0 - fx) + tap(width + 1) * fx
    ) * fy
    return np.clip(np.rint(val), 0, 255).astype(np.uint8)


# ----------------------------------------------------------------------------- data set


def generate_glyphs(seed: int = 0, instances: int = 20, chunk: int = 4096) -> dict[str, np.ndarray]:
    """Build the glyph data set in memory.

    Returns arrays ``images`` uint8 ``(C*instances, 28, 28)``, ``labels`` int64 (class-major),
    ``codepoints`` int64 ``(C,)``, ``class_alphabet`` int64 ``(C,)``, ``alphabets`` (str ``(A,)``),
    ``faces`` int64 ``(C*instances,)`` (face index of each image) and ``seconds`` (build time).
    """
    if instances < 1:
        raise ValueError(f"instances must be ≥ 1, got {instances}")
    t0 = time.perf_counter()
    cls = select_classes()
    rng = np.random.Generator(np.random.PCG64(seed))
    num = len(cls.codepoints)
    labels = np.repeat(np.arange(num, dtype=np.int64), instances)
    u = rng.random(num * instances)
    nfaces = np.asarray([len(f) for f in cls.faces])[labels]
    which = np.minimum(np.floor(u * nfaces).astype(np.int64), nfaces - 1)
    face_ids = np.asarray([cls.faces[c][w] for c, w in zip(labels, which)], np.int64)
    is_bold = np.asarray(["Bol" in f for f in FACES])
    images = np.empty((num * instances, IMAGE_SIZE, IMAGE_SIZE), np.uint8)
    for start in range(0, num * instances, chunk):
        stop = min(start + chunk, num * instances)
        m = np.stack([cls.masters[labels[i]][which[i]] for i in range(start, stop)])
        images[start:stop] = render_instances(m, rng, bold=is_bold[face_ids[start:stop]])
    return {
        "images": images,
        "labels": labels,
        "codepoints": np.asarray(cls.codepoints, np.int64),
        "class_alphabet": np.asarray(cls.alphabet_of, np.int64),
        "alphabets": np.asarray(cls.alphabet_names),
        "faces": face_ids,
        "seconds": np.float64(time.perf_counter() - t0),
    }


def checksum(arrays: dict[str, np.ndarray]) -> str:
    """SHA-256 (hex) over images, labels, code points and alphabet assignment."""
    h = hashlib.sha256()
    for key in ("images", "labels", "codepoints", "class_alphabet"):
        a = np.ascontiguousarray(arrays[key])
        h.update(key.encode())
        h.update(str(a.shape).encode())
        h.update(a.astype(a.dtype.newbyteorder("<"), copy=False).tobytes())
    h.update("|".join(str(x) for x in arrays["alphabets"]).encode())
    return h.hexdigest()

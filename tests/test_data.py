"""Tests of course_pkg.data: the offline glyphs, the Omniglot folder loader and the episodes."""

from __future__ import annotations

import random
import warnings

import numpy as np
import pytest
import torch

import course_pkg.data as D
from course_pkg.data import datasets as datasets_mod
from course_pkg.data import glyphgen as G
from course_pkg.tasks import TaskBatch

# ----------------------------------------------------------------------------- glyph generation


@pytest.fixture(scope="module")
def glyph_dir(tmp_path_factory):
    """The glyph set generated from scratch into a fresh folder (a few seconds)."""
    root = tmp_path_factory.mktemp("glyphs")
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # a checksum mismatch warns: fail here
        path, digest, generated = D.build_glyphs(root)
    assert generated
    return root, path, digest


def test_generated_glyphs_match_reference_checksum(glyph_dir):
    """Same seed → same bytes, on this machine and on the one that recorded GLYPHS_SHA256."""
    _, path, digest = glyph_dir
    assert digest == D.GLYPHS_SHA256
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files}
    assert str(arrays.pop("sha256")) == digest
    assert G.checksum(arrays) == digest


def test_cached_glyphs_are_reused_and_described(glyph_dir, capsys):
    root, path, digest = glyph_dir
    again = D.build_glyphs(root)
    assert again == (path, digest, False)
    from course_pkg.data.__main__ import main

    assert main(["glyphs", "--out", str(root)]) == 0
    out = capsys.readouterr().out
    assert f"sha256: {digest}" in out and "matches the reference" in out
    assert "Latin" in out and "(total)" in out


def test_glyph_set_shape_and_classes():
    g = D.glyphs()
    assert g.images.shape[1:] == (28, 28) and g.images.dtype == np.uint8
    counts = g.class_counts()
    assert g.num_classes >= 900 and (counts == 20).all()
    assert len(g.alphabets) >= 20
    # each image has ink and background
    assert (g.images.reshape(len(g), -1).max(1) > 128).all()
    assert (g.images[:, 0, :].astype(int) + g.images[:, -1, :]).mean() < 40


def test_glyph_lookalikes_removed():
    """Latin A / Greek Alpha / Cyrillic A are one shape: at most one of them is a class."""
    cps = set(D.glyphs().info["codepoints"].tolist())
    for group in ((0x41, 0x391, 0x410), (0x4F, 0x39F, 0x41E, 0x6F, 0x3BF, 0x43E),
                  (0x43, 0x63, 0x421, 0x441), (0x58, 0x78, 0x3A7, 0x425)):
        assert len(cps & set(group)) <= 1, [hex(c) for c in cps & set(group)]


def test_render_instances_seeded():
    masters = np.zeros((3, G.CANVAS, G.CANVAS), np.uint8)
    masters[:, 14:42, 24:32] = 255  # a vertical bar
    a = G.render_instances(masters, np.random.Generator(np.random.PCG64(1)))
    b = G.render_instances(masters, np.random.Generator(np.random.PCG64(1)))
    c = G.render_instances(masters, np.random.Generator(np.random.PCG64(2)))
    assert a.shape == (3, 28, 28) and a.dtype == np.uint8
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert not np.array_equal(a[0], a[1])  # instances of one master differ (jitter)
    assert a.max() > 200


def test_cache_rejects_corrupt_file(tmp_path, monkeypatch):
    calls = []

    def fake_generate(seed=0, instances=20):
        calls.append(seed)
        rng = np.random.default_rng(seed)
        return {
            "images": rng.integers(0, 255, (4 * instances, 28, 28), dtype=np.uint8),
            "labels": np.repeat(np.arange(4), instances),
            "codepoints": np.arange(65, 69),
            "class_alphabet": np.zeros(4, np.int64),
            "alphabets": np.asarray(["Latin"]),
            "faces": np.zeros(4 * instances, np.int64),
            "seconds": np.float64(0.0),
        }

    monkeypatch.setattr(datasets_mod._glyphs, "generate_glyphs", fake_generate)
    path, digest, generated = D.build_glyphs(tmp_path, seed=5, instances=2)
    assert generated and path.exists() and len(calls) == 1
    assert D.build_glyphs(tmp_path, seed=5, instances=2) == (path, digest, False)
    path.write_bytes(b"not a zip file")
    with pytest.warns(RuntimeWarning, match="regenerating"):
        _, digest2, generated = D.build_glyphs(tmp_path, seed=5, instances=2)
    assert generated and digest2 == digest and len(calls) == 2


def test_data_dir_env(monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    assert D.data_dir() == tmp_path


# ----------------------------------------------------------------------------- splits


def test_glyph_splits_disjoint_by_alphabet():
    splits = D.glyph_splits()
    assert set(splits) == {"train", "val", "test"}
    alphabets = {k: set(v.alphabets) for k, v in splits.items()}
    assert not alphabets["train"] & alphabets["val"]
    assert not alphabets["train"] & alphabets["test"]
    assert not alphabets["val"] & alphabets["test"]
    names = {k: set(v.class_names) for k, v in splits.items()}
    assert not (names["train"] & names["test"]) and not (names["val"] & names["test"])
    assert sum(v.num_classes for v in splits.values()) == D.glyphs().num_classes
    for v in splits.values():
        assert v.labels.min() == 0 and v.labels.max() == v.num_classes - 1
        assert v.num_classes >= 50
    assert alphabets["test"] == set(D.GLYPH_SPLIT_ALPHABETS["test"])


def test_split_by_alphabet_rejects_double_listing():
    g = D.glyphs()
    with pytest.raises(ValueError, match="both"):
        g.split_by_alphabet({"val": ("Latin",), "test": ("Latin",)})


def test_subset_relabels():
    g = D.glyphs()
    sub = g.subset([7, 3])
    assert sub.num_classes == 2 and sub.class_names == [g.class_names[7], g.class_names[3]]
    assert np.array_equal(sub.images[sub.labels == 0], g.images[g.labels == 7])


# ----------------------------------------------------------------------------- episodes


def _find_label(data: D.FewShotImages, image: np.ndarray) -> int:
    hits = np.flatnonzero((data.images == image).all(axis=(1, 2)))
    assert hits.size >= 1
    return int(data.labels[hits[0]])


def test_episode_shapes_and_label_remapping():
    test = D.glyph_splits()["test"]
    b = D.episodes("test", n_way=5, k_support=2, k_query=3, num_tasks=4, seed=0, device="cpu")
    assert isinstance(b, TaskBatch)
    assert b.x_support.shape == (4, 10, 1, 28, 28) and b.x_query.shape == (4, 15, 1, 28, 28)
    assert b.y_support.dtype == torch.int64 and b.x_support.dtype == torch.float32
    assert 0.0 <= float(b.x_support.min()) and float(b.x_support.max()) <= 1.0
    assert torch.equal(b.y_support[0], torch.arange(5).repeat_interleave(2))
    assert torch.equal(b.y_query[0], torch.arange(5).repeat_interleave(3))
    classes = b.info["classes"]
    assert classes.shape == (4, 5)
    for t in range(4):
        assert len(set(classes[t].tolist())) == 5
        for x, y in ((b.x_support[t], b.y_support[t]), (b.x_query[t], b.y_query[t])):
            for img, lab in zip(x, y):
                raw = (img[0] * 255).round().to(torch.uint8).numpy()
                assert _find_label(test, raw) == int(classes[t, lab])
        # support and query images are distinct images
        s = {bytes((v * 255).round().to(torch.uint8).numpy()) for v in b.x_support[t]}
        q = {bytes((v * 255).round().to(torch.uint8).numpy()) for v in b.x_query[t]}
        assert not s & q and len(s) == 10 and len(q) == 15


def test_episodes_seeded_and_isolated():
    state = random.getstate()
    a = D.episodes("train", 5, 1, 2, num_tasks=3, seed=11, device="cpu")
    assert random.getstate() == state  # learn2learn's use of `random` is sandboxed
    b = D.episodes("train", 5, 1, 2, num_tasks=3, seed=11, device="cpu")
    c = D.episodes("train", 5, 1, 2, num_tasks=3, seed=12, device="cpu")
    assert all(torch.equal(u, v) for u, v in zip(a, b))
    assert torch.equal(a.info["classes"], b.info["classes"])
    assert not torch.equal(a.info["classes"], c.info["classes"])


def test_eval_episodes_fixed_and_prefix_stable():
    a = D.eval_episodes(k_support=1, num_tasks=6)
    b = D.eval_episodes(k_support=1, num_tasks=3)
    assert all(torch.equal(u[:3], v) for u, v in zip(a, b))
    a.x_support.zero_()  # callers get copies
    assert D.eval_episodes(k_support=1, num_tasks=6).x_support.abs().sum() > 0
    assert D.default_eval_tasks() >= 100


def test_episode_errors():
    with pytest.raises(ValueError, match="split"):
        D.episodes("nope")
    with pytest.raises(ValueError, match="need 21 per class"):
        D.episodes("test", k_support=6, k_query=15)
    small = D.glyphs().subset([0, 1, 2])
    with pytest.raises(ValueError, match="5-way episodes need 5 classes"):
        D.episodes(small, n_way=5)
    with pytest.raises(ValueError, match="source"):
        D.episodes("train", source="mnist")


def test_eval_episode_count_follows_the_one_scale_switch(monkeypatch):
    """``COURSE_SCALE`` is read by ``utils.resolve_scale`` here too: any case, bad values raise."""
    monkeypatch.setenv("COURSE_SCALE", "PAPER")
    assert D.default_eval_tasks() == 600
    monkeypatch.setenv("COURSE_SCALE", "cpu")
    assert D.default_eval_tasks() == 200
    monkeypatch.setenv("COURSE_SCALE", "gpu")
    with pytest.raises(ValueError, match="COURSE_SCALE"):
        D.default_eval_tasks()


# ----------------------------------------------------------------------------- Omniglot folder


def _write_omniglot(root, layout):
    """Write ``layout = {part: {alphabet: n_characters}}`` with 3 drawings per character."""
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(0)
    for part, alphabets in layout.items():
        for a, n_chars in alphabets.items():
            for c in range(n_chars):
                d = root / part / a / f"character{c + 1:02d}"
                d.mkdir(parents=True)
                for k in range(3):
                    im = Image.new("1", (105, 105), 1)  # white background, black strokes
                    draw = ImageDraw.Draw(im)
                    pts = [tuple(int(v) for v in rng.integers(10, 95, 2)) for _ in range(4)]
                    draw.line(pts, fill=0, width=6)
                    im.save(d / f"{c:04d}_{k + 1:02d}.png")


LAYOUT = {
    "images_background": {"Alpha": 3, "Beta": 4, "Gamma": 2},
    "images_evaluation": {"Delta": 5},
}


def test_omniglot_fixture_loader(tmp_path):
    _write_omniglot(tmp_path, LAYOUT)
    parts = D.omniglot(tmp_path)
    bg, ev = parts["background"], parts["evaluation"]
    assert bg.num_classes == 9 and len(bg) == 27 and ev.num_classes == 5
    assert bg.images.shape[1:] == (28, 28)
    assert bg.class_names[0] == "Alpha/character01" and bg.class_alphabet[-1] == "Gamma"
    # strokes are black on white in the files: ink must come out bright on a dark background
    assert bg.images.mean() < 80 and bg.images.max() > 200
    splits = D.omniglot_splits(tmp_path)
    assert set(splits["val"].alphabets) == {"Alpha"}  # every 6th background alphabet
    assert set(splits["train"].alphabets) == {"Beta", "Gamma"}
    assert splits["test"].num_classes == 5
    b = D.episodes(splits["test"], n_way=3, k_support=1, k_query=2, num_tasks=2, seed=0,
                   device="cpu")
    assert b.x_support.shape == (2, 3, 1, 28, 28) and b.y_query.shape == (2, 6)


def test_omniglot_env_and_torchvision_layout(tmp_path, monkeypatch):
    _write_omniglot(tmp_path / "omniglot-py", LAYOUT)
    monkeypatch.setenv("COURSE_OMNIGLOT_DIR", str(tmp_path))
    splits = D.omniglot_splits()
    assert splits["test"].num_classes == 5
    b = D.episodes("test", n_way=2, k_support=1, k_query=1, seed=0, device="cpu",
                   source="omniglot")
    assert b.num_tasks == 1


def test_omniglot_missing_folder_says_where(tmp_path, monkeypatch):
    missing = tmp_path / "nowhere"
    with pytest.raises(FileNotFoundError) as err:
        D.omniglot_splits(missing)
    msg = str(err.value)
    assert str(missing) in msg and "COURSE_OMNIGLOT_DIR" in msg and "images_background" in msg
    monkeypatch.setenv("COURSE_OMNIGLOT_DIR", str(missing))
    with pytest.raises(FileNotFoundError, match="nowhere"):
        D.episodes("test", source="omniglot")


def test_omniglot_missing_part(tmp_path):
    _write_omniglot(tmp_path, {"images_background": {"Alpha": 1}})
    with pytest.raises(FileNotFoundError, match="missing images_evaluation"):
        D.omniglot(tmp_path)


@pytest.mark.parametrize("defect", ["no_alphabets", "empty_alphabet", "empty_character", "bad_png"])
def test_omniglot_malformed(tmp_path, defect):
    _write_omniglot(tmp_path, LAYOUT)
    ev = tmp_path / "images_evaluation"
    if defect == "no_alphabets":
        for p in sorted(ev.rglob("*"), reverse=True):
            p.unlink() if p.is_file() else p.rmdir()
        expected = "no alphabet folders"
    elif defect == "empty_alphabet":
        (ev / "Epsilon").mkdir()
        expected = "Epsilon contains no character folders"
    elif defect == "empty_character":
        (ev / "Delta" / "character99").mkdir()
        expected = "character99 contains no .png"
    else:
        (ev / "Delta" / "character01" / "0000_01.png").write_bytes(b"garbage")
        expected = "cannot read Omniglot image .*0000_01.png"
    with pytest.raises(ValueError, match=expected):
        D.omniglot(tmp_path)

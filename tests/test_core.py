"""Tests of the package basics: device selection, seeding, input checks, checkpoints."""

from __future__ import annotations

import json

import pytest
import torch

from course_pkg import checkpoints
from course_pkg.utils import check_finite, check_same_device, get_device, seed_everything


def test_device_default_and_override(monkeypatch):
    monkeypatch.delenv("COURSE_DEVICE", raising=False)
    dev = get_device()
    expected = "cuda" if torch.cuda.is_available() else None
    if expected:
        assert dev.type == expected
    monkeypatch.setenv("COURSE_DEVICE", "cpu")
    assert get_device() == torch.device("cpu")
    assert get_device("cpu") == torch.device("cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_unavailable_device_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("COURSE_DEVICE", "cuda")
    with pytest.raises(ValueError, match="CUDA is not available"):
        get_device()


def test_seeding_is_reproducible():
    g1 = seed_everything(123)
    a = torch.rand(5, generator=g1), torch.rand(3)
    g2 = seed_everything(123)
    b = torch.rand(5, generator=g2), torch.rand(3)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])


def test_check_finite_names_the_step():
    check_finite(torch.tensor(1.0), step=3)
    with pytest.raises(FloatingPointError, match="step 17"):
        check_finite(torch.tensor(float("nan")), step=17)
    with pytest.raises(FloatingPointError, match="step 2"):
        check_finite(torch.tensor([1.0, float("inf")]), step=2)


def test_check_same_device_passes_on_one_device():
    p = {"w": torch.zeros(2)}
    check_same_device(p, torch.ones(3))
    fake = torch.empty(1, device="meta")
    with pytest.raises(ValueError, match="move the task batch"):
        check_same_device(p, fake)


def test_checkpoint_load_or_train(tmp_path):
    calls = []

    def train(cfg):
        calls.append(cfg)
        return {"w": torch.full((2,), float(cfg["lr"]))}, {"loss": 0.5}

    cfg = {"lr": 0.1, "sizes": (40, 40)}
    state, meta = checkpoints.load_or_train("m", cfg, train, directory=tmp_path)
    assert not meta["loaded"] and len(calls) == 1
    state2, meta2 = checkpoints.load_or_train("m", cfg, train, directory=tmp_path)
    assert meta2["loaded"] and len(calls) == 1
    assert torch.equal(state["w"], state2["w"])
    assert meta2["metrics"] == {"loss": 0.5}
    # a different config retrains instead of loading a mismatched model
    _, meta3 = checkpoints.load_or_train("m", {"lr": 0.2, "sizes": (40, 40)}, train,
                                         directory=tmp_path)
    assert not meta3["loaded"] and len(calls) == 2
    stored = json.loads((tmp_path / "m.json").read_text())
    assert stored["config"] == {"lr": 0.2, "sizes": [40, 40]}


def test_committed_checkpoints_have_configs():
    """Every committed weight file has its JSON (config + metrics) beside it."""
    for pt in checkpoints.WEIGHTS_DIR.glob("*.pt"):
        js = pt.with_suffix(".json")
        assert js.exists(), f"{pt.name} has no {js.name}"
        meta = json.loads(js.read_text())
        assert "config" in meta and "metrics" in meta

"""The few-shot results table: committed checkpoints match their configs, the cached table is
complete and consistent, and its numbers are reproduced by the package."""

from __future__ import annotations

import json

import pytest
import torch

from course_pkg.checkpoints import WEIGHTS_DIR
from course_pkg.experiments import fewshot as E


def test_every_committed_checkpoint_matches_its_config():
    """Chapters and the table load these files instead of training: their configs must match."""
    for method in E.METHODS:
        if method == "nn_pixels":
            continue
        for n in E.model_ways(method):
            name = E.checkpoint_name(method, n, "cpu")
            meta = WEIGHTS_DIR / f"{name}.json"
            assert meta.exists(), f"missing checkpoint {name}: run `python -m " \
                                  f"course_pkg.experiments train {method} --n-way {n}`"
            stored = json.loads(meta.read_text())
            assert stored["config"] == E.method_config(method, n, "cpu"), name
            assert stored["metrics"]["train_seconds"] > 0
            size = (WEIGHTS_DIR / f"{name}.pt").stat().st_size
            assert size < 1_000_000, f"{name}.pt is {size} bytes; keep checkpoints < 1 MB"


def test_configs_and_names():
    assert E.checkpoint_name("protonet", 20) == "fewshot_protonet_5way"  # shared across N
    assert E.checkpoint_name("maml", 20) == "fewshot_maml_20way"
    assert E.checkpoint_name("maml", 5, "paper") == "fewshot_paper_maml_5way"
    assert E.method_config("maml", 20)["inner_lr"] == 0.1
    assert E.method_config("protonet", 5, "paper")["hidden"] == 64
    with pytest.raises(ValueError, match="scale must be"):
        E.resolve_scale("gpu")
    with pytest.raises(KeyError):
        E.method_config("nn_pixels")


def test_cached_table_is_complete_and_consistent():
    table = E.load_table()
    assert [r["method"] for r in table["rows"]] == list(E.METHODS)
    assert list(table["settings"]) == list(E.SETTINGS)
    for r in table["rows"]:
        for s, (n, _) in E.SETTINGS.items():
            res = r["results"][s]
            assert 0.0 <= res["mean"] <= 1.0 and 0.0 <= res["ci95"] < 0.2
            chance = 1.0 / n
            assert res["mean"] > chance, f"{r['method']} at {s}: {res['mean']} ≤ chance"
    md = (E.RESULTS_DIR / "fewshot_table.md").read_text()
    assert md == E.table_markdown(table)
    frame = E.table_frame(table)
    assert frame.shape == (len(E.METHODS), 6)


def test_table_numbers_are_reproduced():
    """Re-evaluate two rows on the committed test episodes: the cached numbers come back."""
    table = {r["method"]: r for r in E.load_table()["rows"]}
    batch = E.test_episodes("5w1s", device="cpu")
    nn_acc = E.method_accuracy("nn_pixels", batch).mean().item()
    assert nn_acc == pytest.approx(table["nn_pixels"]["results"]["5w1s"]["mean"], abs=1e-4)
    loaded = E.load_model("protonet", 5, device="cpu")
    assert loaded.meta["loaded"], "the committed ProtoNet checkpoint should load, not retrain"
    acc = E.method_accuracy("protonet", batch, loaded).mean().item()
    assert acc == pytest.approx(table["protonet"]["results"]["5w1s"]["mean"], abs=5e-3)


def test_command_line_writes_a_partial_table(tmp_path, capsys):
    threads = torch.get_num_threads()
    try:
        assert E.main(["fewshot-table", "--methods", "nn_pixels", "--out", str(tmp_path),
                       "--quiet"]) == 0
    finally:
        torch.set_num_threads(threads)  # the command picks one thread on a CPU
    table = json.loads((tmp_path / "fewshot_table.json").read_text())
    assert [r["method"] for r in table["rows"]] == ["nn_pixels"]
    assert "Nearest neighbour" in (tmp_path / "fewshot_table.md").read_text()
    assert "Nearest neighbour" in capsys.readouterr().out


def test_load_table_explains_how_to_create_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="fewshot-table"):
        E.load_table(directory=tmp_path)


def test_maml_family_accuracy_uses_adaptation():
    """With zero test-time steps MAML's 5-way model is worse than after its adaptation steps."""
    loaded = E.load_model("maml", 5, device="cpu")
    batch = E.test_episodes("5w1s", device="cpu")
    small = type(batch)(*(t[:20] for t in batch))
    adapted = E.method_accuracy("maml", small, loaded).mean().item()
    cfg = dict(loaded.config, test_steps=0)
    no_steps = E._maml_accuracy(E.Loaded(loaded.model, loaded.params, cfg, loaded.meta),
                                small).mean().item()
    assert adapted > no_steps + 0.1
    assert torch.isfinite(torch.tensor(adapted))


def test_train_all_reaches_every_checkpoint_family():
    """``make weights`` (= ``python -m course_pkg.train all``) must reach every family of
    committed checkpoints: the explicit list covers every prefix in course_pkg/weights."""
    from course_pkg.checkpoints import WEIGHTS_DIR
    from course_pkg.experiments.registry import FAMILIES

    assert set(FAMILIES) == {"sinusoid", "glyphs", "fewshot", "rl"}
    prefixes = {p.name.split("_")[0] for p in WEIGHTS_DIR.glob("*.pt")}
    assert prefixes <= set(FAMILIES), prefixes - set(FAMILIES)

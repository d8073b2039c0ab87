"""The few-shot comparison: configs, early stopping, committed checkpoints and the cached table
(complete, converged, consistent, reproduced by the package)."""

from __future__ import annotations

import json

import pytest
import torch

from course_pkg.checkpoints import WEIGHTS_DIR
from course_pkg.experiments import fewshot as E
from course_pkg.experiments import transfer
from course_pkg.experiments.cli import main as train_main
from course_pkg.experiments.fewshot import config as C
from course_pkg.experiments.fewshot import table as FT
from course_pkg.experiments.methods import METHODS
from course_pkg.experiments.validation import EarlyStopping, last_quarter_gain, plateau_reached

ROWS = list(FT.LEGACY_ROWS)  # the rows of the table the chapters read today
LEARNED = [m for m in ROWS if METHODS[m].fewshot.trained]
#: Checkpoints whose last quarter of training still added ≥ 1.5 validation points within the
#: CPU budget (to retrain with a larger ``iterations`` cap). Must list exactly those.
NOT_YET_CONVERGED: set[str] = set()  # every few-shot model reached its plateau
#: Keys of the old vocabulary that must not come back in stored few-shot configs.
OLD_KEYS = {"k_shot", "q_query", "lr_outer", "outer_lr", "steps", "alpha", "meta_batch"}


def _all_keys(d):
    for k, v in d.items():
        yield k
        if isinstance(v, dict):
            yield from _all_keys(v)


def _checkpoints():
    keys = [(k, n) for k, n in E.trained_models() if k not in METHODS or k in LEARNED]
    for method, n in keys + [(k, 5) for k in C.REGRESSORS]:
        yield method, n, E.checkpoint_name(method, n, "cpu")


def test_every_committed_checkpoint_matches_its_config_and_converged():
    """Chapters and the table load these files instead of training: their configs must match,
    and every few-shot learner's validation curve must have plateaued."""
    for method, n, name in _checkpoints():
        meta = WEIGHTS_DIR / f"{name}.json"
        assert meta.exists(), f"missing checkpoint {name}: run `python -m " \
                              f"course_pkg.train fewshot --method {method} --n-way {n}`"
        stored = json.loads(meta.read_text())
        assert stored["config"] == E.method_config(method, n, "cpu"), name
        m = stored["metrics"]
        assert m["train_seconds"] > 0
        size = (WEIGHTS_DIR / f"{name}.pt").stat().st_size
        assert size < 1_000_000, f"{name}.pt is {size} bytes; keep checkpoints < 1 MB"
        if "validation" not in stored["config"]:  # sinusoid regressors, chapter 4's cores
            continue
        curve = m["validation"]
        assert curve[0][0] == 0 and all(a[0] < b[0] for a, b in zip(curve, curve[1:])), name
        assert m["last_quarter_gain"] == pytest.approx(last_quarter_gain(curve), abs=1e-4)
        converged = m["last_quarter_gain"] < 0.015
        assert converged != (name in NOT_YET_CONVERGED), \
            f"{name}: the last quarter added {100 * m['last_quarter_gain']:.1f} points"
        assert m["best_validation_accuracy"] == max(a for _, a in curve)


def test_configs_use_one_backbone_and_one_vocabulary():
    assert E.checkpoint_name("protonet", 20) == "fewshot_protonet_5way"  # shared across N
    assert E.checkpoint_name("maml", 20) == "fewshot_maml_20way"
    assert E.checkpoint_name("maml", 5, "paper") == "fewshot_paper_maml_5way"
    assert E.checkpoint_name("finetune") == E.checkpoint_name("pretrained") \
        == "fewshot_pretrained_conv4"
    assert E.method_config("maml", 20)["inner_lr"] == 0.1
    assert E.method_config("protonet", 5, "paper")["hidden"] == 64
    assert E.method_config("blackbox")["grad_clip"] == 10.0
    assert transfer.TABLE_CONFIG["pretrain"] == E.method_config("pretrained")  # one network
    widths = set()
    for method, n, _ in _checkpoints():
        cfg = E.method_config(method, n, "cpu")
        assert not OLD_KEYS & set(_all_keys(cfg)), (method, OLD_KEYS & set(_all_keys(cfg)))
        if not method.startswith("sinusoid_"):
            widths.add(cfg["hidden"])
        if method in METHODS:
            v = cfg["validation"]
            assert v["split"] == "val" and {"every", "episodes", "seed", "min_iterations",
                                            "plateau_gain"} <= set(v)
        if "meta_batch_size" in cfg:
            assert "meta_lr" in cfg and "lr" not in cfg, method
    assert widths == {E.HIDDEN["cpu"]}
    with pytest.raises(ValueError, match="scale must be"):
        E.resolve_scale("gpu")
    with pytest.raises(KeyError):
        E.method_config("nn_pixels")


def test_plateau_rule_and_early_stopping():
    assert last_quarter_gain([[0, 0.2], [100, 0.8], [200, 0.9], [400, 0.905]]) == \
        pytest.approx(0.005)
    assert last_quarter_gain([[0, 0.2], [100, 0.5], [200, 0.9]]) == pytest.approx(0.4)
    assert not plateau_reached([[0, 0.5], [100, 0.5]], 0.01, 200)  # too early
    assert plateau_reached([[0, 0.5], [100, 0.9], [200, 0.9], [400, 0.9]], 0.01, 200)
    accs = iter([0.2, 0.5, 0.7, 0.8, 0.8, 0.79, 0.8, 0.8, 0.8])
    es = EarlyStopping({"every": 10, "min_iterations": 20, "plateau_gain": 0.01},
                       lambda p: next(accs), max_iterations=1000)
    es.start({"w": torch.zeros(1)})
    stopped_at = None
    for it in range(1000):
        if es(it, {"w": torch.full((1,), float(it))}):
            stopped_at = it + 1
            break
    assert stopped_at == 40  # the best, 0.8 at 30, was reached within ¾ · 40 = 30
    assert es.best_iteration == 30 and float(es.best_params["w"]) == 29.0
    s = es.summary()
    assert s["stopped_early"] and s["plateaued"] and s["validation"][0] == [0, 0.2]


def test_tiny_training_is_seeded_and_validated():
    """Same config → same weights and curve; the loop stops at the plateau rule or the cap."""
    cfg = E.method_config("protonet").to_dict()
    cfg["iterations"] = 4
    cfg["validation"].update(every=2, episodes=3, min_iterations=100)
    a, ma = E.train_model(cfg, "cpu")
    b, mb = E.train_model(cfg, "cpu")
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert ma["validation"] == mb["validation"] and [t for t, _ in ma["validation"]] == [0, 2, 4]
    assert ma["iterations"] == 4 and not ma["stopped_early"]


def test_tiny_maml_and_reptile_training_run():
    for method in ("maml", "reptile"):
        cfg = E.method_config(method).to_dict()
        cfg["iterations"] = 2
        cfg["validation"].update(every=1, episodes=2, min_iterations=1, plateau_gain=1.0)
        state, m = E.train_model(cfg, "cpu")
        assert m["stopped_early"] and m["iterations"] == 1  # gain < 1.0 after one update
        assert set(state) == set(E.build_model(cfg).state_dict())


def test_cached_table_is_complete_and_consistent():
    table = FT.load_table()
    assert [r["method"] for r in table["rows"]] == ROWS
    assert list(table["settings"]) == list(E.SETTINGS)
    assert all(s["episodes"] == 600 and "95 %" in s["interval"]
               for s in table["settings"].values())
    for r in table["rows"]:
        for s, (n, _) in E.SETTINGS.items():
            res = r["results"][s]
            assert 0.0 <= res["mean"] <= 1.0 and 0.0 <= res["ci95"] < 0.1
            assert res["mean"] > 1.0 / n, f"{r['method']} at {s}: {res['mean']} ≤ chance"
        if r["method"] != "nn_pixels":
            assert set(r["models"]) == {str(n) for n in E.model_ways(r["method"])}
            for info in r["models"].values():
                assert info["validation"]
                assert (info["last_quarter_gain"] < 0.015) != \
                    (info["checkpoint"] in NOT_YET_CONVERGED), info["checkpoint"]
    md = (FT.RESULTS_DIR / "fewshot_table.md").read_text()
    assert md == FT.table_markdown(table)
    frame = FT.table_frame(table)
    assert frame.shape == (len(ROWS), 6)


def test_table_teaches_the_right_lesson():
    """The claims the chapters make about the table: 5-shot ≥ 1-shot for every method, every
    learned method beats nearest neighbour on pixels in every column."""
    rows = {r["method"]: r["results"] for r in FT.load_table()["rows"]}
    for method, res in rows.items():
        assert res["5w5s"]["mean"] >= res["5w1s"]["mean"], method
    for method in LEARNED:
        for col in E.SETTINGS:
            assert rows[method][col]["mean"] > rows["nn_pixels"][col]["mean"], (method, col)


def test_table_numbers_are_reproduced():
    """Re-evaluate two rows on the committed test episodes: the cached numbers come back."""
    table = {r["method"]: r for r in FT.load_table()["rows"]}
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
        assert train_main(["fewshot", "--table", "--methods", "nn_pixels", "--out",
                           str(tmp_path), "--quiet"]) == 0
    finally:
        torch.set_num_threads(threads)  # the command picks one thread on a CPU
    table = json.loads((tmp_path / "fewshot_table.json").read_text())
    assert [r["method"] for r in table["rows"]] == ["nn_pixels"]
    assert "Nearest neighbour" in (tmp_path / "fewshot_table.md").read_text()
    assert "Nearest neighbour" in capsys.readouterr().out


def test_load_table_explains_how_to_create_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="fewshot --table"):
        FT.load_table(directory=tmp_path)


def test_maml_family_accuracy_uses_adaptation():
    """With zero test-time steps MAML's 5-way model is worse than after its adaptation steps."""
    loaded = E.load_model("maml", 5, device="cpu")
    batch = E.test_episodes("5w1s", device="cpu")
    small = type(batch)(*(t[:20] for t in batch))
    adapted = E.method_accuracy("maml", small, loaded).mean().item()
    no_steps = E.maml_accuracy(loaded.model, loaded.params, small, 0,
                               loaded.config["inner_lr"]).mean().item()
    assert adapted > no_steps + 0.1
    assert torch.isfinite(torch.tensor(adapted))


def test_train_all_reaches_every_checkpoint_family():
    """``make weights`` (= ``python -m course_pkg.train all``) must reach every family of
    committed checkpoints: the explicit list covers every prefix in course_pkg/weights."""
    from course_pkg.checkpoints import WEIGHTS_DIR
    from course_pkg.experiments.registry import FAMILIES

    assert set(FAMILIES) == {"sinusoid", "glyphs", "fewshot", "rl", "curves"}
    prefixes = {p.name.split("_")[0] for p in WEIGHTS_DIR.glob("*.pt")}
    assert prefixes <= set(FAMILIES), prefixes - set(FAMILIES)

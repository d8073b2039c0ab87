"""The few-shot comparison: configs, the committed equal-budget checkpoints and the cached
table (complete, one budget, each model's status from its curve, reproduced by the package)."""

from __future__ import annotations

import json

import pytest
import torch

from course_pkg.checkpoints import WEIGHTS_DIR
from course_pkg.experiments import budget as B
from course_pkg.experiments import fewshot as E
from course_pkg.experiments import transfer
from course_pkg.experiments.cli import main as train_main
from course_pkg.experiments.fewshot import cli as FC
from course_pkg.experiments.fewshot import config as C
from course_pkg.experiments.fewshot import sweep as S
from course_pkg.experiments.fewshot import table as FT
from course_pkg.experiments.methods import METHODS, fewshot_methods

ROWS = list(fewshot_methods())
LEARNED = [m for m in ROWS if METHODS[m].fewshot.trained]
#: Keys of the old vocabulary that must not come back in stored few-shot configs.
OLD_KEYS = {"k_shot", "q_query", "lr_outer", "outer_lr", "steps", "alpha", "meta_batch"}
#: Fields every equal-budget checkpoint stores (issue: "budget_s, train_seconds, iterations,
#: episodes, status and a curve of at least 12 points").
RUN_FIELDS = {"budget_s", "train_seconds", "iterations", "episodes", "status", "curve",
              "validation_ci95", "best_iteration", "best_validation_accuracy", "schedule"}


def _all_keys(d):
    for k, v in d.items():
        yield k
        if isinstance(v, dict):
            yield from _all_keys(v)


def _check_run(name: str, stored: dict, fraction: float = 1.0) -> None:
    """One stored equal-budget run: its fields, budget, curve and status agree."""
    m, b = stored["metrics"], stored["config"]["budget"]
    assert RUN_FIELDS <= set(m), (name, RUN_FIELDS - set(m))
    budget = C.BUDGET["cpu"]["cpu_seconds"] * fraction
    assert m["budget_s"] == b["cpu_seconds"] == budget, name
    if not m.get("evaluated_only"):
        assert budget <= m["train_seconds"] <= 1.1 * budget, (name, m["train_seconds"])
    curve = m["curve"]
    assert len(curve) == b["evaluations"] + 1 and len(curve) >= (13 if fraction == 1 else 5)
    assert curve[0][:2] == [0, 0] and all(p[0] < q[0] and p[1] < q[1]
                                          for p, q in zip(curve, curve[1:])), name
    assert [p[0] for p in curve[1:]] == m["schedule"] and curve[-1][0] == m["iterations"]
    assert m["status"] == B.curve_status(curve, m["validation_ci95"], budget), name
    if not m.get("evaluated_only"):
        assert m["best_validation_accuracy"] == max(p[2] for p in curve), name
    assert m["episodes"] == (0 if stored["config"]["method"] == "pretrained" else
                             m["iterations"] * stored["config"]["meta_batch_size"]), name


def test_every_committed_run_matches_its_config_budget_and_status():
    """Chapters and the table load these files instead of training: every run of the queue is
    committed, with the config the package builds, the same budget, and a status that is the
    rule applied to its own curve."""
    for flags, name, _ in FC.budget_runs("cpu"):
        path = S.BUDGET_DIR / f"{name}.json"
        assert path.exists(), f"missing {name}: run `python -m course_pkg.train fewshot`"
        stored = json.loads(path.read_text())
        sweep = "--setting" in flags
        if not sweep:
            key, n = flags[1], int(flags[3])
            assert stored["config"] == E.method_config(key, n, "cpu"), name
        _check_run(name, stored, S.SWEEP_FRACTION if sweep else 1.0)
        size = (S.BUDGET_DIR / f"{name}.pt").stat().st_size
        assert size < 1_000_000, f"{name}.pt is {size} bytes; keep checkpoints < 1 MB"
    for key in C.REGRESSORS:
        name = E.checkpoint_name(key, 5, "cpu")
        stored = json.loads((WEIGHTS_DIR / f"{name}.json").read_text())
        assert stored["config"] == E.method_config(key, 5, "cpu") and \
            stored["metrics"]["train_seconds"] > 0
    stale = {p.stem for p in WEIGHTS_DIR.glob("fewshot_*.pt")} - \
        {E.checkpoint_name(k, 5, "cpu") for k in C.REGRESSORS}
    assert not stale, f"early-stopped checkpoints left in course_pkg/weights: {stale}"


def test_configs_use_one_backbone_one_budget_and_one_vocabulary():
    assert E.checkpoint_name("protonet", 20) == "fewshot_protonet_5way"  # shared across N
    assert E.checkpoint_name("maml", 20) == "fewshot_maml_20way"
    assert E.checkpoint_name("maml", 5, "paper") == "fewshot_paper_maml_5way"
    assert S.sweep_name("maml", 20, 1, "paper") == "fewshot_paper_sweep_maml_20way_s1"
    assert E.checkpoint_name("finetune") == E.checkpoint_name("pretrained") \
        == "fewshot_pretrained_conv4"
    assert E.method_config("protonet", 5, "paper")["hidden"] == 64
    assert E.method_config("blackbox")["grad_clip"] == 10.0
    assert transfer.TABLE_CONFIG["pretrain"] == E.method_config("pretrained")  # one network
    widths = set()
    for key, n in C.trained_models():
        if C.duplicates_method(key):
            continue
        cfg = E.method_config(key, n, "cpu")
        assert not OLD_KEYS & set(_all_keys(cfg)), (key, OLD_KEYS & set(_all_keys(cfg)))
        widths.add(cfg["hidden"])
        assert cfg["budget"] == C.budget_config(key, n)["budget"], key  # one budget
        assert "iterations" not in cfg and "validation" not in cfg, key
        if "meta_batch_size" in cfg:
            assert "meta_lr" in cfg and "lr" not in cfg, key
    assert widths == {E.HIDDEN["cpu"]}
    with pytest.raises(ValueError, match="scale must be"):
        E.resolve_scale("gpu")
    with pytest.raises(KeyError):
        E.method_config("nn_pixels")


def test_method_config_waits_for_the_sweep(tmp_path):
    with pytest.raises(FileNotFoundError, match="sweep of fomaml .5-way. is unfinished"):
        S.method_config("fomaml", 5, "cpu", out=tmp_path)
    assert S.method_config("protonet", 5, "cpu", out=tmp_path) == C.budget_config("protonet", 5)


def test_a_smoke_run_is_seeded():
    """Same config → the same weights; ``iterations`` instead of a budget trains without
    validation (``--method … --iterations N``)."""
    cfg = E.method_config("protonet").to_dict()
    del cfg["budget"]
    cfg["iterations"] = 3
    a, ma = E.train_model(cfg, "cpu")
    b, _ = E.train_model(cfg, "cpu")
    assert all(torch.equal(a[k], b[k]) for k in a) and ma["iterations"] == 3
    with pytest.raises(ValueError, match="budget or iterations"):
        E.train_model({k: v for k, v in cfg.items() if k != "iterations"}, "cpu")


def test_cached_table_is_complete_and_consistent():
    """The done-when fields of the issue: every row, each learned model's budget (equal within
    10 %), time, iterations, episodes, status and curve, the shifted column, the published
    numbers with their citation, and the sweep."""
    table = FT.load_table()
    assert [r["method"] for r in table["rows"]] == ROWS
    assert {"anil", "protomaml"} <= set(ROWS)
    assert list(table["settings"]) == list(E.SETTINGS)
    assert all(s["episodes"] == 600 and "95 %" in s["interval"]
               for s in table["settings"].values())
    budgets = []
    for r in table["rows"]:
        for s, (n, _) in E.SETTINGS.items():
            res = r["results"][s]
            assert 0.0 <= res["mean"] <= 1.0 and 0.0 <= res["ci95"] < 0.1
            assert res["mean"] > 1.0 / n, f"{r['method']} at {s}: {res['mean']} ≤ chance"
        assert 0.0 <= r["shifted"]["mean"] <= 1.0 and r["shifted"]["ci95"] < 0.1
        if METHODS[r["method"]].published:
            assert r["published"] == dict(METHODS[r["method"]].published)
            assert r["published_source"] == METHODS[r["method"]].published_source
        if r["method"] == "nn_pixels":
            assert r["models"] == {}
            continue
        assert set(r["models"]) == {str(n) for n in E.model_ways(C.model_key(r["method"]))}
        for info in r["models"].values():
            assert {"budget_s", "train_seconds", "iterations", "episodes", "status",
                    "curve"} <= set(info)
            assert info["status"] in ("plateau", "rising") and len(info["curve"]) >= 13
            # the CPU time actually spent: the budget, overshot by at most 10 % (a last step)
            assert info["budget_s"] <= info["train_seconds"] <= 1.1 * info["budget_s"]
            budgets.append(info["train_seconds"])
        if C.model_key(r["method"]) == r["method"]:
            assert 0 <= r["transduction"]["one_query"] <= 1
    assert max(budgets) <= 1.1 * min(budgets)
    md = (FT.RESULTS_DIR / "fewshot_table.md").read_text()
    assert md == FT.table_markdown(table)
    assert FT.table_frame(table).shape == (len(ROWS), 2 + len(E.SETTINGS) + 2)
    sweep = table["sweep"]
    for key, n in (("fomaml", 5), ("fomaml", 20), ("reptile", 5), ("reptile", 20),
                   ("maml", 20), ("blackbox_lstm", 5), ("blackbox_mann", 5)):
        assert sweep[f"{key}_{n}way"]["chosen"] == S.chosen_setting(key, n), key


def test_table_teaches_the_right_lesson():
    """The claims the chapters make about the table: five shots never measurably hurt (the two
    95 % intervals overlap at worst); they help every metric learner without retraining
    (chapters 5 and 13); every learned method beats nearest neighbour on pixels in every
    column."""
    rows = {r["method"]: r["results"] for r in FT.load_table()["rows"]}
    for method, res in rows.items():
        one, five = res["5w1s"], res["5w5s"]
        assert five["mean"] >= one["mean"] - (one["ci95"] + five["ci95"]), method
        if METHODS[method].family == "metric":
            assert five["mean"] > one["mean"] + (one["ci95"] + five["ci95"]), method
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


def test_table_rows_in_parallel_processes_are_merged_in_order(tmp_path, monkeypatch):
    """``--table --jobs N`` evaluates groups of rows in N processes (``--rows-to``) and merges
    them in the table's row order (here only the one row that needs no trained model)."""
    import course_pkg.experiments.methods as methods_module

    monkeypatch.setattr(methods_module, "fewshot_methods", lambda: ["nn_pixels"])
    monkeypatch.setattr(FC, "fewshot_methods", lambda: ["nn_pixels"])
    threads = torch.get_num_threads()
    try:
        assert train_main(["fewshot", "--table", "--jobs", "2", "--out", str(tmp_path),
                           "--quiet"]) == 0
    finally:
        torch.set_num_threads(threads)
    table = json.loads((tmp_path / "fewshot_table.json").read_text())
    assert [r["method"] for r in table["rows"]] == ["nn_pixels"] and table["sweep"] == {}
    direct = E.method_accuracy("nn_pixels", E.test_episodes("5w1s", device="cpu")).mean()
    assert table["rows"][0]["results"]["5w1s"]["mean"] == pytest.approx(float(direct), abs=1e-4)


@pytest.mark.parametrize("argv, message", [
    (["--table", "--methods", "nosuch"], "no row"),
    (["--methods", "maml"], "go with --table"),
    (["--rows-to", "x.json"], "go with --table"),
    (["--setting", "1"], "go with --method"),
    (["--n-way", "20"], "go with --method"),
    (["--method", "fomaml", "--setting", "7"], "settings 0 to 2"),
])
def test_command_line_refuses_flags_that_do_not_fit(argv, message, tmp_path):
    """Flags that do not apply get a clear error instead of starting the multi-hour queue or
    a traceback."""
    with pytest.raises(SystemExit, match=message):
        train_main(["fewshot", *argv, "--out", str(tmp_path), "--quiet"])


def test_a_smoke_run_never_writes_to_the_committed_weights(tmp_path, monkeypatch):
    """``--method … --iterations N`` without ``--out`` saves under ``$COURSE_RUNS_DIR/smoke``."""
    monkeypatch.setenv(B.RUNS_ENV, str(tmp_path))
    before = sorted(p.name for p in S.BUDGET_DIR.iterdir())
    threads = torch.get_num_threads()
    try:
        assert train_main(["fewshot", "--method", "protonet", "--iterations", "2", "--quiet"]) == 0
    finally:
        torch.set_num_threads(threads)
    assert (tmp_path / "smoke" / f"{C.checkpoint_name('protonet', 5)}.pt").exists()
    assert sorted(p.name for p in S.BUDGET_DIR.iterdir()) == before
    assert not (WEIGHTS_DIR / f"{C.checkpoint_name('protonet', 5)}.pt").exists()


def test_command_line_refuses_zero_jobs(capsys):
    with pytest.raises(SystemExit):
        train_main(["fewshot", "--jobs", "0"])
    assert "at least 1" in capsys.readouterr().err


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

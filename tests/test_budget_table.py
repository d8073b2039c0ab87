"""The equal-budget table from stored models: columns, the shifted column, transduction, the
published numbers and each model's status (tiny runs: two iterations each)."""

from __future__ import annotations

import pytest
import torch

from course_pkg.checkpoints import save_checkpoint
from course_pkg.experiments.fewshot import budget_table as BT
from course_pkg.experiments.fewshot import config as C
from course_pkg.experiments.fewshot import sweep as S
from course_pkg.experiments.fewshot import table as FT
from course_pkg.experiments.fewshot import train as R
from course_pkg.tasks import TaskBatch


def _episodes(t=3, n=5, q=4) -> TaskBatch:
    g = torch.Generator().manual_seed(0)
    ys = torch.arange(n).expand(t, -1).clone()
    yq = torch.arange(n).repeat_interleave(q).expand(t, -1).clone()
    return TaskBatch(torch.rand(t, n, 1, 28, 28, generator=g), ys,
                     torch.rand(t, n * q, 1, 28, 28, generator=g), yq)


def test_inverted_and_one_query_at_a_time_episodes():
    b = _episodes()
    inv = BT.inverted(b)
    assert torch.equal(inv.x_query, 1 - b.x_query) and torch.equal(inv.y_support, b.y_support)
    single = BT.one_query_at_a_time(b)
    assert single.x_query.shape == (3 * 20, 1, 1, 28, 28)
    assert torch.equal(single.x_query[21, 0], b.x_query[1, 1])
    assert torch.equal(single.x_support[21], b.x_support[1])
    assert torch.equal(single.y_query.view(3, 20), b.y_query)


#: Metrics as a finished run stores them (the table copies them; the models are untrained).
METRICS = {"budget_s": 1200.0, "train_seconds": 1201.3, "iterations": 2, "episodes": 8,
           "status": "rising", "curve": [[0, 0, 0.2], [1, 600.2, 0.3], [2, 1201.3, 0.4]],
           "validation_ci95": [0.01] * 3, "best_iteration": 2, "best_validation_accuracy": 0.4,
           "schedule": [1, 2]}


@pytest.fixture(scope="module")
def tiny_budget_dir(tmp_path_factory):
    """Stored 'full-budget' models (untrained weights) of ProtoNet and MAML, with MAML's
    20-way sweep."""
    out = tmp_path_factory.mktemp("budget")
    for i in range(2):
        cfg = S.sweep_config("maml", 20, i, out)
        save_checkpoint(S.sweep_name("maml", 20, i), {}, cfg,
                        {**METRICS, "best_validation_accuracy": 0.3 + 0.1 * i}, out)
    for key, n in (("protonet", 5), ("maml", 5), ("maml", 20)):
        cfg = S.full_config(key, n, out)
        save_checkpoint(C.checkpoint_name(key, n), R.build_model(cfg).state_dict(), cfg,
                        METRICS, out)
    return out


def test_budget_table_rows(tiny_budget_dir, monkeypatch):
    monkeypatch.setitem(C.EVAL["cpu"], "tasks", 12)
    monkeypatch.setattr(BT, "TRANSDUCTION_EPISODES", 6)
    table = BT.fewshot_table(["nn_pixels", "protonet", "maml"], "cpu", False, tiny_budget_dir)
    rows = {r["method"]: r for r in table["rows"]}
    assert set(rows["maml"]["results"]) == set(C.SETTINGS)
    with pytest.raises(FileNotFoundError, match="python -m course_pkg.train fewshot"):
        BT.fewshot_table(["fomaml"], "cpu", False, tiny_budget_dir)
    for key in ("protonet", "maml"):
        m = rows[key]["models"]["5"]
        assert m["budget_s"] == C.BUDGET["cpu"]["cpu_seconds"] and m["iterations"] == 2
        assert m["status"] in ("plateau", "rising") and len(m["curve"]) == 3
        t = rows[key]["transduction"]
        assert 0 <= t["one_query"] <= 1 and 0 <= t["batch"] <= 1
        assert 0 <= rows[key]["shifted"]["mean"] <= 1
    assert rows["maml"]["models"]["20"]["setting"] == {"inner_steps": 5}  # the sweep's choice
    assert rows["maml"]["published"] == {"5w1s": 98.7, "5w5s": 99.9, "20w1s": 95.8}
    assert "3 at test time (trained with 1)" in rows["maml"]["adaptation"]
    assert "transduction" not in rows["nn_pixels"] and rows["nn_pixels"]["models"] == {}
    md = FT.table_markdown(table)
    assert "inverted glyphs" in md and "98.7 / 99.9 / 95.8" in md and md.count("\n| ") == 3
    pub = FT.published_frame(table)  # only the rows with published numbers
    assert list(pub["method"]) == [rows["protonet"]["name"], rows["maml"]["name"]]
    assert pub.loc[1, "5-way 1-shot: paper"] == "98.7" and pub.loc[1, "source"] == "finn2017maml"
    sweep = S.sweep_summary(tiny_budget_dir)
    frame = FT.sweep_frame(sweep)
    assert list(frame["setting"]) == ["default: inner_steps = 1", "inner_steps = 5"]
    assert list(frame["chosen"]) == ["", "✓"] and list(frame["model"]) == ["MAML, 20-way"] * 2


def test_learning_curves_figure_draws_each_method_in_its_colour():
    import matplotlib

    matplotlib.use("Agg")
    from course_pkg.experiments import methods  # noqa: F401  (registers the colours)
    from course_pkg.viz.curves import learning_curves
    from course_pkg.viz.palette import method_color

    curve = [[0, 0.0, 0.2], [10, 75.0, 0.5], [20, 150.0, 0.6]]
    fig = learning_curves({"maml": {5: curve, 20: curve}, "protonet": {5: curve}},
                          {"maml": {5: "rising", 20: "plateau"}}, budget_s=150)
    assert [ax.get_title() for ax in fig.axes[:2]] == ["5-way 1-shot", "20-way 1-shot"]
    lines = {ln.get_label(): ln for ln in fig.axes[0].get_lines()}
    assert matplotlib.colors.to_hex(lines["MAML"].get_color()).upper() == method_color("maml")
    assert lines["MAML"].get_xdata()[0] == 1.0  # 0 s drawn at 1 s on the log axis
    assert lines["_maml end"].get_marker() == "^"
    assert fig.axes[0].get_xscale() == "log"
    # the zoomed row: points after a third of the budget, linear axes, the last third marked
    zoom = fig.axes[2]
    assert "zoomed" in zoom.get_title() and zoom.get_xscale() == "linear"
    zlines = {ln.get_label(): ln for ln in zoom.get_lines()}
    assert list(zlines["MAML"].get_xdata()) == [75.0, 150.0]
    assert list(zlines["_third"].get_xdata()) == [100.0, 100.0]
    assert len(learning_curves({"maml": {5: curve}}, budget_s=150, zoom=False).axes) == 1
    import pytest as _pytest

    with _pytest.raises(ValueError, match="no curves"):
        learning_curves({})


def test_load_model_reads_the_sweep_of_the_directory_it_loads_from(tiny_budget_dir):
    """A model stored in another directory is the one its own sweep chose (here MAML 20-way with
    5 inner steps), not the committed sweep's; nothing is trained."""
    lm = R.load_model("maml", 20, device="cpu", directory=tiny_budget_dir, train_if_missing=False)
    assert lm.config["inner_steps"] == 5

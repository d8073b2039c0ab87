"""The lessons read off the equal-budget table (course_pkg.experiments.fewshot.lessons), on a
small table written by hand whose answers are known."""

from __future__ import annotations

import pytest

from course_pkg.experiments.fewshot import lessons as L
from course_pkg.experiments.fewshot.table import compare_rows


def _row(method, family, acc, shifted, curve5=None, status="plateau", published=None,
         transduction=None):
    res = {c: {"mean": a, "ci95": 0.01} for c, a in zip(("5w1s", "5w5s", "20w1s"), acc)}
    row = {"method": method, "name": method.title(), "family": family, "results": res,
           "shifted": {"mean": shifted, "ci95": 0.02}, "published": published or {},
           "models": {}}
    if curve5 is not None:
        row["models"]["5"] = {"curve": curve5, "status": status}
    if transduction is not None:
        row["transduction"] = transduction
    return row


TABLE = {
    "shift": {"setting": "5w1s", "key": "5w1s_inverted"},
    "rows": [
        _row("pretrained", "baseline", (0.95, 0.98, 0.85), 0.80,
             curve5=[[0, 0, 0.2], [10, 100, 0.9], [20, 200, 0.92]]),
        _row("protonet", "metric", (0.96, 0.99, 0.88), 0.55,
             curve5=[[0, 0, 0.2], [10, 100, 0.7], [20, 200, 0.95]], status="rising",
             published={"5w1s": 98.8, "20w1s": 96.0},
             transduction={"batch": 0.96, "one_query": 0.90, "one_query_ci95": 0.02}),
        _row("nn_pixels", "baseline", (0.60, 0.70, 0.40), 0.60),
    ],
}


def test_accuracy_at_keeps_the_best_so_far():
    curve = [[0, 0, 0.2], [5, 50, 0.8], [10, 100, 0.7], [15, 150, 0.9]]
    assert L.accuracy_at(curve, 120) == pytest.approx(80.0)
    assert L.accuracy_at(curve, 150) == pytest.approx(90.0)
    with pytest.raises(ValueError, match="no evaluation"):
        L.accuracy_at([[3, 5, 0.5]], 1)


def test_speed_ranking_depends_on_the_time_asked():
    assert [m for m, _ in L.speed_ranking(TABLE, 5, 100)] == ["pretrained", "protonet"]
    assert [m for m, _ in L.speed_ranking(TABLE, 5, 200)] == ["protonet", "pretrained"]
    with pytest.raises(ValueError, match="20-way"):
        L.speed_ranking(TABLE, 20, 100)


def test_rising_models_and_shift_report():
    assert L.rising_models(TABLE) == [("protonet", 5)]
    report = L.shift_report(TABLE)
    assert [d["method"] for d in report] == ["nn_pixels", "pretrained", "protonet"]
    proto = report[-1]
    assert proto["drop"] == pytest.approx(41.0) and proto["drop_ci95"] == pytest.approx(
        100 * (0.01 ** 2 + 0.02 ** 2) ** 0.5)
    c = compare_rows(TABLE, "pretrained", "protonet", "shifted")
    assert c["diff"] == pytest.approx(25.0) and not c["level"]
    assert compare_rows(TABLE, "nn_pixels", "protonet", "shifted")["level"] is False
    with pytest.raises(KeyError, match="rows"):
        compare_rows(TABLE, "maml", "protonet", "shifted")


def test_transduction_and_published_gaps():
    (t,) = L.transduction_report(TABLE)
    assert t["method"] == "protonet" and t["gap"] == pytest.approx(6.0)
    gaps = L.published_gaps(TABLE)
    assert set(gaps) == {"protonet"}
    assert gaps["protonet"] == {"5w1s": pytest.approx(-2.8), "20w1s": pytest.approx(-8.0)}

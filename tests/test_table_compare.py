"""The one rule the chapters use to say a row is above, below or level with another."""

import pytest

from course_pkg.experiments import best_meta_learner, compare_rows, level_with, load_table


def _table(a_mean, a_ci, b_mean, b_ci):
    def row(method, family, mean, ci):
        return {"method": method, "name": method.upper(), "family": family,
                "results": {"5w1s": {"mean": mean, "ci95": ci}}}

    return {"rows": [row("base", "baseline", a_mean, a_ci), row("meta", "metric", b_mean, b_ci),
                     row("weak", "optimization", 0.5, 0.01)]}


def test_level_when_the_difference_is_within_the_summed_half_widths():
    c = compare_rows(_table(0.964, 0.004, 0.957, 0.004), "base", "meta")
    assert c["level"] and c["words"] == "level with META within the 95 % intervals"
    assert c["diff"] == pytest.approx(0.7)


@pytest.mark.parametrize("a, b, word", [(0.97, 0.95, "above"), (0.93, 0.95, "below")])
def test_above_or_below_outside_the_intervals(a, b, word):
    c = compare_rows(_table(a, 0.004, b, 0.004), "base", "meta")
    assert not c["level"] and c["words"] == f"2.0 points {word} META"


def test_best_meta_learner_skips_baselines_and_missing_rows_are_named():
    t = _table(0.99, 0.004, 0.95, 0.004)
    assert best_meta_learner(t) == "meta"
    with pytest.raises(KeyError, match="rows: \\['base', 'meta', 'weak'\\]"):
        compare_rows(t, "base", "nope")


def test_the_stored_table_has_a_best_meta_learner():
    t = load_table()
    assert best_meta_learner(t) in {r["method"] for r in t["rows"] if r["family"] != "baseline"}


def test_level_with_names_the_rows_within_the_intervals():
    t = _table(0.964, 0.004, 0.957, 0.004)
    t["rows"].append({"method": "close", "name": "CLOSE", "family": "metric",
                      "results": {"5w1s": {"mean": 0.960, "ci95": 0.004}}})
    assert level_with(t, "base") == "META and CLOSE"
    assert level_with(t, "base", ["close", "weak"]) == "CLOSE"
    assert level_with(t, "weak") == ""
    t["rows"].append({"method": "third", "name": "THIRD", "family": "metric",
                      "results": {"5w1s": {"mean": 0.961, "ci95": 0.004}}})
    assert level_with(t, "base") == "META, CLOSE and THIRD"

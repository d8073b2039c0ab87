"""The lessons chapter 5 reads off the equal-budget table, as numbers a cell can assert.

Each function takes the table of :func:`~course_pkg.experiments.fewshot.budget_table.fewshot_table`
(``results/fewshot_table.json``) and returns plain data, so that every sentence of the
chapter ("X learns fastest per CPU second", "Y is still rising at the budget", "under the shift
the baseline is level with Z") is computed, glued and asserted next to it:

- :func:`accuracy_at` / :func:`speed_ranking` — the best validation accuracy each learned model
  had reached after a given CPU time (its learning curve, best so far, as training keeps it);
- :func:`rising_models` — the models whose curve was still rising at the budget;
- :func:`shift_report` — each row's accuracy on the shifted column against its in-distribution
  column (the drop, with the interval of the difference); rows against each other there:
  :func:`~course_pkg.experiments.fewshot.table.compare_rows` with ``column="shifted"``;
- :func:`transduction_report` — batch-statistics accuracy against one query at a time;
- :func:`published_gaps` — our accuracy minus the paper's, per column;
- :func:`learned_above_chance` — whether a model learned (chapters 4 and 13 use one bar).

Accuracies are fractions in the table and **points** (× 100) in what these functions return.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any


def accuracy_at(curve: Sequence[Sequence[float]], seconds: float) -> float:
    """Best validation accuracy (points) of ``curve`` ``[[iterations, cpu_s, acc], …]`` among
    the evaluations at or before ``seconds`` CPU seconds (the parameters training would keep)."""
    seen = [p[2] for p in curve if p[1] <= seconds]
    if not seen:
        raise ValueError(f"the curve has no evaluation at or before {seconds} s")
    return 100 * max(seen)


def _models(table: dict[str, Any], n_way: int) -> list[tuple[str, dict[str, Any]]]:
    return [(r["method"], r["models"][str(n_way)]) for r in table["rows"]
            if str(n_way) in r.get("models", {})]


def speed_ranking(table: dict[str, Any], n_way: int, seconds: float) -> list[tuple[str, float]]:
    """``[(method, points), …]``, best first: each ``n_way`` model's best validation accuracy
    after ``seconds`` CPU seconds of training."""
    ranked = [(m, accuracy_at(e["curve"], seconds)) for m, e in _models(table, n_way)]
    if not ranked:
        raise ValueError(f"no {n_way}-way model in the table")
    return sorted(ranked, key=lambda t: -t[1])


def rising_models(table: dict[str, Any]) -> list[tuple[str, int]]:
    """``[(method, N), …]`` of every model whose status at the budget is ``"rising"``."""
    return [(r["method"], int(n)) for r in table["rows"]
            for n, e in r.get("models", {}).items() if e["status"] == "rising"]


def _difference(a: dict[str, float], b: dict[str, float]) -> tuple[float, float]:
    """``a − b`` in points and the 95 % half-width of the difference (independent episodes)."""
    return 100 * (a["mean"] - b["mean"]), 100 * math.hypot(a["ci95"], b["ci95"])


def shift_report(table: dict[str, Any]) -> list[dict[str, Any]]:
    """Per row, sorted by the drop (smallest first): ``{"method", "name", "family", "before",
    "after", "drop", "drop_ci95"}`` with ``before`` the accuracy in the shift's source column
    and ``after`` on the shifted episodes (points); ``drop = before − after``."""
    col = table["shift"]["setting"]
    out = []
    for r in table["rows"]:
        drop, ci = _difference(r["results"][col], r["shifted"])
        out.append({"method": r["method"], "name": r["name"], "family": r["family"],
                    "before": 100 * r["results"][col]["mean"],
                    "after": 100 * r["shifted"]["mean"], "drop": drop, "drop_ci95": ci})
    return sorted(out, key=lambda d: d["drop"])


def transduction_report(table: dict[str, Any]) -> list[dict[str, Any]]:
    """Per row that learns its model: ``{"method", "batch", "one_query", "gap", "gap_ci95"}``
    (points; ``gap = batch − one_query``, its half-width the one-query interval's)."""
    out = []
    for r in table["rows"]:
        t = r.get("transduction")
        if t is None:
            continue
        out.append({"method": r["method"], "batch": 100 * t["batch"],
                    "one_query": 100 * t["one_query"], "gap": 100 * (t["batch"] - t["one_query"]),
                    "gap_ci95": 100 * t["one_query_ci95"]})
    return out


def published_gaps(table: dict[str, Any]) -> dict[str, dict[str, float]]:
    """``{method: {column: ours − published}}`` (points) for every row with published numbers."""
    return {r["method"]: {c: 100 * r["results"][c]["mean"] - p
                          for c, p in r["published"].items() if c in r["results"]}
            for r in table["rows"] if r.get("published")}


LEARNED_MARGIN = 20.0  # points above chance for "the model learned" (issue 23's bar)


def learned_above_chance(meta: dict[str, Any], margin: float = LEARNED_MARGIN) -> bool:
    """Whether a stored model (``meta`` of a checkpoint: ``config`` and ``metrics``) learned:
    its best validation accuracy is at least ``margin`` points above chance, ``100 / n_way``."""
    chance = 100.0 / int(meta["config"]["n_way"])
    return 100.0 * float(meta["metrics"]["best_validation_accuracy"]) >= chance + margin

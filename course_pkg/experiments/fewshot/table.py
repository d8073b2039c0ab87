"""The few-shot results table the chapters read: load, write, display and compare rows.

The table is built by :func:`.budget_table.fewshot_table` (``python -m course_pkg.train fewshot
--table``) from the equal-budget models and written by :func:`write_table` to
``course_pkg/results/fewshot_table.json`` and ``.md`` (``fewshot_table_paper.*`` for the paper
scale). The book only reads these files (:func:`load_table`, :func:`table_frame`). Accuracies
are fractions; ``ci95`` is the half-width of the 95 % normal-approximation confidence interval
over episodes (``1.96 · s / √n``, :func:`course_pkg.utils.mean_ci`). The rows are the methods of
:data:`course_pkg.experiments.methods.METHODS` with a few-shot spec, in order.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from course_pkg.experiments.fewshot.config import SETTING_NAMES, budget_config, owner

RESULTS_DIR = Path(__file__).resolve().parents[2] / "results"

#: What ``ci95`` means (stored in every column's settings).
CI_NOTE = ("ci95 = half-width of the 95 % normal-approximation confidence interval of the mean "
           "over test episodes, 1.96 · s / √n (s: sample standard deviation of the per-episode "
           "accuracies)")


def _pct(res: dict[str, float]) -> str:
    return f"{100 * res['mean']:.1f} ± {100 * res['ci95']:.1f}"


def table_markdown(table: dict[str, Any]) -> str:
    """The table as Markdown: accuracy ± 95 % half-width per column, the shifted column, the
    published numbers and each model's status at the budget."""
    cols = list(table["settings"])
    head = ["Method", *(SETTING_NAMES[c] for c in cols), table["shift"]["name"], "Published",
            "Status (5-way / 20-way)"]
    lines = ["| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(cols) + 2) + "---|"]
    for r in table["rows"]:
        pub = " / ".join(f"{r['published'][c]:.1f}" if c in r["published"] else "—"
                         for c in cols) if r["published"] else "—"
        status = " / ".join(m["status"] for m in r["models"].values()) or "—"
        lines.append("| " + " | ".join([r["name"], *(_pct(r["results"][c]) for c in cols),
                                        _pct(r["shifted"]), pub, status]) + " |")
    b = table["budget"]
    lines += ["", f"Every learned model trained for {b['cpu_seconds']:.0f} CPU-seconds of one "
              f"thread (validation excluded) on the glyph training alphabets, validated "
              f"{b['evaluations']} times on {b['episodes']} fixed episodes of the validation "
              "alphabets; the best validation point is kept. Accuracy in % on "
              f"{table['settings'][cols[0]]['episodes']} fixed test episodes per column, ± the "
              "half-width of the 95 % normal-approximation interval. Published: Omniglot "
              "(28×28, 1200 training characters, 64-channel Conv4, the papers' budgets), not "
              f"our glyphs. Produced by `{table['command']}`."]
    return "\n".join(lines) + "\n"


def write_table(table: dict[str, Any], directory: str | Path | None = None) -> tuple[Path, Path]:
    """Write ``fewshot_table[_paper].json`` and ``.md``; return both paths."""
    d = Path(directory) if directory is not None else RESULTS_DIR
    d.mkdir(parents=True, exist_ok=True)
    stem = "fewshot_table" if table["scale"] == "cpu" else "fewshot_table_paper"
    js, md = d / f"{stem}.json", d / f"{stem}.md"
    js.write_text(json.dumps(table, indent=2, sort_keys=False) + "\n")
    md.write_text(table_markdown(table))
    return js, md


def load_table(scale: str = "cpu", directory: str | Path | None = None) -> dict[str, Any]:
    """The cached table written by ``python -m course_pkg.train fewshot --table``."""
    d = Path(directory) if directory is not None else RESULTS_DIR
    path = d / ("fewshot_table.json" if scale == "cpu" else "fewshot_table_paper.json")
    if not path.exists():
        raise FileNotFoundError(
            f"{path} does not exist; create it with `python -m course_pkg.train fewshot "
            f"--table{'' if scale == 'cpu' else ' --scale paper'}`")
    return json.loads(path.read_text())


def table_frame(table: dict[str, Any] | None = None) -> Any:
    """The table as a pandas DataFrame of strings (``"93.1 ± 1.2"``) for display: one column
    per test setting, the shifted column and each model's status at the budget."""
    import pandas as pd

    table = table or load_table()
    cols = list(table["settings"])
    records = []
    for r in table["rows"]:
        rec = {"method": r["name"], "family": r["family"]}
        rec.update({SETTING_NAMES[c]: _pct(r["results"][c]) for c in cols})
        rec[table["shift"]["name"]] = _pct(r["shifted"])
        rec["at the budget (5 / 20-way)"] = " / ".join(
            m["status"] for m in r["models"].values()) or "—"
        records.append(rec)
    return pd.DataFrame.from_records(records)


def best_meta_learner(table: dict[str, Any], column: str = "5w1s") -> str:
    """The method key of the meta-learning row (any family but ``baseline``) with the highest
    mean accuracy in ``column``."""
    rows = [r for r in table["rows"] if r["family"] != "baseline"]
    if not rows:
        raise ValueError("the table has no meta-learning row")
    return max(rows, key=lambda r: r["results"][column]["mean"])["method"]


def compare_rows(table: dict[str, Any], method: str, other: str,
                 column: str = "5w1s") -> dict[str, Any]:
    """Row ``method`` against row ``other`` (method keys) in ``column`` (a test column, or
    ``"shifted"`` for the shifted one): the one rule every chapter uses to say "above", "below"
    or "level".

    Returns ``{"diff": points, "level": bool, "words": str}``: ``diff`` = 100 × (mean of
    ``method`` − mean of ``other``); ``level`` when ``|diff|`` is at most the sum of the two
    rows' 95 % half-widths (the intervals overlap); ``words`` is ``"level with <other> within
    the 95 % intervals"`` or ``"<|diff|> points above/below <other>"`` (``<other>`` its row
    name). ``KeyError`` naming the table's rows when a key is missing.
    """
    rows = {r["method"]: r for r in table["rows"]}
    for key in (method, other):
        if key not in rows:
            raise KeyError(f"no row {key!r} in the table; rows: {list(rows)}")
    pick = (lambda r: r["shifted"]) if column == "shifted" else (lambda r: r["results"][column])
    a, b = pick(rows[method]), pick(rows[other])
    diff = 100 * (a["mean"] - b["mean"])
    level = abs(diff) <= 100 * (a["ci95"] + b["ci95"])
    name = rows[other]["name"]
    words = (f"level with {name} within the 95 % intervals" if level else
             f"{abs(diff):.1f} points {'above' if diff > 0 else 'below'} {name}")
    return {"diff": diff, "level": level, "words": words}


def _setting_words(setting: dict[str, Any], default: dict[str, Any]) -> str:
    if not setting:
        return ("default: " + ", ".join(f"{k} = {v}" for k, v in default.items())
                if default else "default")
    words = {"anneal_iterations": "annealed to 0 over {} iterations",
             "curriculum_iterations": "2-way to 5-way episodes over {} iterations"}
    return ", ".join(words[k].format(v) if k in words else f"{k} = {v}"
                     for k, v in setting.items())


def sweep_frame(sweep: dict[str, Any], scale: str | None = None) -> Any:
    """The tuning sweep (the table's ``sweep``, :func:`.sweep.sweep_summary`) as a pandas
    DataFrame for display: one line per setting with its best validation accuracy at a
    quarter budget (%), its iterations, and a check mark on the setting the full run uses. The
    default setting is spelled out with the values the other settings change (those of
    ``scale``, the table's)."""
    import pandas as pd

    records = []
    for model, entry in sweep.items():
        key, n = model.rsplit("_", 1)
        changed = {k for s in entry["settings"] for k in s} - {"anneal_iterations",
                                                                "curriculum_iterations"}
        base = budget_config(key, int(n.removesuffix("way")), scale)
        default = {k: base.get(k) for k in sorted(changed) if base.get(k) is not None}
        spec, variant = owner(key)
        label = spec.label + (f" ({', '.join(map(str, variant.values()))})" if variant else "")
        for i, setting in enumerate(entry["settings"]):
            records.append({
                "model": f"{label}, {n.removesuffix('way')}-way",
                "setting": _setting_words(setting, default),
                "best validation (%)": f"{100 * entry['best_validation'][i]:.1f}",
                "iterations": "same model" if entry["evaluated_only"][i]
                else f"{entry['iterations'][i]}",
                "chosen": "✓" if i == entry["chosen"] else ""})
    return pd.DataFrame.from_records(records)


def level_with(table: dict[str, Any], method: str, among: list[str] | None = None,
               column: str = "5w1s") -> str:
    """The names of the rows ``among`` (default: every row) that are level with ``method`` in
    ``column`` by :func:`compare_rows`' rule, as one phrase ("A", "A and B", "A, B and C"), or
    ``""`` when none is."""
    keys = [r["method"] for r in table["rows"]] if among is None else list(among)
    names = [r["name"] for r in table["rows"] if r["method"] in keys and r["method"] != method
             and compare_rows(table, r["method"], method, column)["level"]]
    return ", ".join(names[:-1]) + " and " + names[-1] if len(names) > 1 else "".join(names)


def published_frame(table: dict[str, Any]) -> Any:
    """Our accuracy beside each paper's (pandas DataFrame of strings, %): for every row with
    published Omniglot numbers, ``ours`` and ``paper`` per column and the bibliography key of
    the paper the numbers come from."""
    import pandas as pd

    cols = list(table["settings"])
    records = []
    for r in table["rows"]:
        if not r.get("published"):
            continue
        rec = {"method": r["name"]}
        for c in cols:
            rec[f"{SETTING_NAMES[c]}: ours"] = _pct(r["results"][c])
            rec[f"{SETTING_NAMES[c]}: paper"] = (f"{r['published'][c]:.1f}"
                                                 if c in r["published"] else "—")
        rec["source"] = r["published_source"]
        records.append(rec)
    return pd.DataFrame.from_records(records)

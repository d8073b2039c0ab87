"""The few-shot results table: every method of the course on the same test episodes.

:func:`fewshot_table` loads (or trains) each method's models (:func:`.train.load_model`),
evaluates them on the fixed test episodes of :func:`course_pkg.data.eval_episodes` (5-way
1-shot, 5-way 5-shot, 20-way 1-shot; test alphabets) and returns the table; :func:`write_table`
writes ``course_pkg/results/fewshot_table.json`` and ``.md`` (``fewshot_table_paper.*`` for the
paper scale). The book only reads these files (:func:`load_table`, :func:`table_frame`).
Accuracies are fractions; ``ci95`` is the half-width of the 95 % normal-approximation confidence
interval over episodes (``1.96 · s / √n``, :func:`course_pkg.utils.mean_ci`). The rows are the
methods of :data:`course_pkg.experiments.methods.METHODS` with a few-shot spec, in order.
"""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from course_pkg.experiments.common import Loaded
from course_pkg.experiments.fewshot.config import (
    EVAL,
    HIDDEN,
    SETTING_NAMES,
    SETTINGS,
    checkpoint_name,
    model_ways,
    resolve_scale,
    training_way,
)
from course_pkg.experiments.fewshot.train import load_model, method_accuracy, test_episodes
from course_pkg.experiments.methods import FINETUNE_RECIPE, METHODS, fewshot_methods
from course_pkg.utils import get_device

#: Rows of the table the chapters read today (trained with early stopping); ANIL and ProtoMAML
#: join with the equal-budget table.
LEGACY_ROWS = tuple(k for k in fewshot_methods()
                    if not METHODS[k].fewshot.trained or METHODS[k].fewshot.legacy is not None
                    or METHODS[k].fewshot.model_of is not None)
RESULTS_DIR = Path(__file__).resolve().parents[2] / "results"

#: What ``ci95`` means (stored in every column's settings).
CI_NOTE = ("ci95 = half-width of the 95 % normal-approximation confidence interval of the mean "
           "over test episodes, 1.96 · s / √n (s: sample standard deviation of the per-episode "
           "accuracies)")


def protocol(scale: str | None = None) -> dict[str, Any]:
    """How models are trained and which model evaluates each column (stored in the table)."""
    scale = resolve_scale(scale)
    return {
        "backbone": f"Conv4, {HIDDEN[scale]} channels per block, for every learned method",
        "training": "glyph training alphabets; validation on fixed episodes of the validation "
                    "alphabets every `validation.every` iterations; stop once the last quarter "
                    "of training added less than `validation.plateau_gain` to the best "
                    "validation accuracy (at most `iterations`); keep the best parameters",
        "models": "metric learners and the pre-trained Conv4: one model for every column; "
                  "black-box, MAML, FOMAML, Reptile: one model per N, meta-trained on 1-shot "
                  "episodes (k_support = 1) and evaluated at K = 1 and K = 5 with the same "
                  "test-time settings (test_steps, inner_lr of its config)",
        "pretrained": "supervised pre-training on all training classes; 'pretrained' = frozen "
                      "features + class-mean (prototype) head, no steps; 'finetune' = "
                      f"{FINETUNE_RECIPE}",
        "test_episodes": "course_pkg.data.eval_episodes (test alphabets, fixed seed)",
    }


def model_summary(method: str, n_way: int, loaded: Loaded, scale: str | None = None
                  ) -> dict[str, Any]:
    """One model's entry in ``rows[].models``: checkpoint, training time and validation curve."""
    m = loaded.meta.get("metrics", {})
    keys = ("train_seconds", "iterations", "epochs", "validation", "best_iteration",
            "best_validation_accuracy", "last_quarter_gain", "plateaued", "stopped_early",
            "threads")
    return {"checkpoint": checkpoint_name(method, n_way, scale),
            "loaded": bool(loaded.meta.get("loaded")),
            **{k: m[k] for k in keys if k in m}}



def fewshot_table(scale: str | None = None, retrain: bool = False,
                  methods: Sequence[str] | None = None, device: str | torch.device | None = None,
                  progress: bool = True) -> dict[str, Any]:
    """Train or load every method, evaluate it on every column; return the table as a dict.

    ``{"scale", "conv_width", "settings": {col: {n_way, k_support, k_query, episodes, interval}},
    "protocol": {...}, "rows": [{"method", "name", "family", "models": {N: {checkpoint,
    train_seconds, iterations, validation: [[iteration, accuracy], …], best_iteration,
    last_quarter_gain, …}}, "train_seconds", "results": {col: {"mean", "ci95", "eval_seconds",
    "model_n_way"}}}], "environment": {...}}``; accuracies are fractions in [0, 1].
    """
    from course_pkg.utils import mean_ci

    scale = resolve_scale(scale)
    dev = get_device(device)
    rows_known = fewshot_methods()
    keys = [k for k in rows_known if k in LEGACY_ROWS] if methods is None else list(methods)
    unknown = set(keys) - set(rows_known)
    if unknown:
        raise KeyError(f"unknown methods {sorted(unknown)}; choose from {rows_known}")
    t_all = time.perf_counter()
    batches = {s: test_episodes(s, scale, dev) for s in SETTINGS}
    rows = []
    for key in keys:
        spec = METHODS[key]
        name, family = spec.title, spec.family
        models: dict[int, Loaded] = {}
        if spec.fewshot.trained:
            for n in model_ways(key):
                if progress:
                    print(f"[{key}] {n}-way model ...", flush=True)
                models[n] = load_model(key, n, scale, dev, retrain=retrain, progress=progress)
        results = {}
        for s, batch in batches.items():
            n = SETTINGS[s][0]
            loaded = models.get(training_way(key, n)) if models else None
            t0 = time.perf_counter()
            acc = method_accuracy(key, batch, loaded, seed=EVAL[scale]["seed"])
            mean, ci = mean_ci(acc)
            results[s] = {"mean": round(mean, 4), "ci95": round(ci, 4),
                          "eval_seconds": round(time.perf_counter() - t0, 1),
                          "model_n_way": training_way(key, n) if models else None}
            if progress:
                print(f"  {SETTING_NAMES[s]:>14}: {100 * mean:5.1f} ± {100 * ci:.1f} %", flush=True)
        model_info = {str(n): model_summary(key, n, m, scale) for n, m in models.items()}
        secs = [m.train_seconds for m in models.values()]
        total = round(sum(secs), 1) if models and None not in secs else (0.0 if not models
                                                                          else None)
        rows.append({"method": key, "name": name, "family": family, "models": model_info,
                     "train_seconds": total, "results": results})
    ev = EVAL[scale]
    return {
        "scale": scale,
        "conv_width": HIDDEN[scale],
        "settings": {s: {"n_way": n, "k_support": k, "k_query": ev["queries"][n],
                         "episodes": ev["tasks"], "split": "test", "data": "glyphs",
                         "interval": CI_NOTE}
                     for s, (n, k) in SETTINGS.items()},
        "protocol": protocol(scale),
        "rows": rows,
        "environment": {"torch": torch.__version__, "python": platform.python_version(),
                        "device": str(dev), "threads": torch.get_num_threads(),
                        "machine": platform.machine(),
                        "cpu_count": os.cpu_count(),
                        "total_seconds": round(time.perf_counter() - t_all, 1)},
        "command": "python -m course_pkg.train fewshot --table"
                   + ("" if scale == "cpu" else " --scale paper"),
    }


def table_markdown(table: dict[str, Any]) -> str:
    """The table as Markdown: accuracy (%) ± 95 % CI half-width per column, training time."""
    cols = list(table["settings"])
    head = ["Method", "Family", *(SETTING_NAMES[c] for c in cols), "Training time (s)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] * 2 + ["---:"] * (
        len(cols) + 1)) + "|"]
    for r in table["rows"]:
        cells = [f"{100 * r['results'][c]['mean']:.1f} ± {100 * r['results'][c]['ci95']:.1f}"
                 for c in cols]
        t = r["train_seconds"]
        lines.append("| " + " | ".join([r["name"], r["family"], *cells,
                                        "—" if t is None else f"{t:.0f}"]) + " |")
    s = table["settings"][cols[0]]
    lines.append("")
    lines.append(f"Accuracy in % on {s['episodes']} fixed test episodes per column (glyph test "
                 "alphabets), ± the half-width of the 95 % normal-approximation confidence "
                 "interval of the mean over episodes (1.96 s/√n). Every learned method uses a "
                 f"Conv4 of {table['conv_width']} channels and trains until its accuracy on "
                 "validation alphabets plateaus; "
                 f"{table['environment']['threads']} CPU thread(s), device "
                 f"{table['environment']['device']}. Training time is the wall-clock time of "
                 "all models a method needs (one per N for black-box, MAML, FOMAML and "
                 "Reptile; one in total otherwise; both pre-trained baselines share one "
                 f"network). Produced by `{table['command']}`.")
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
    """The table as a pandas DataFrame of strings (``"93.1 ± 1.2"``) for display."""
    import pandas as pd

    table = table or load_table()
    cols = list(table["settings"])
    records = []
    for r in table["rows"]:
        rec = {"method": r["name"], "family": r["family"]}
        for c in cols:
            res = r["results"][c]
            rec[SETTING_NAMES[c]] = f"{100 * res['mean']:.1f} ± {100 * res['ci95']:.1f}"
        t = r["train_seconds"]
        rec["training time (s)"] = "—" if t is None else f"{t:.0f}"
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
    """Row ``method`` against row ``other`` (method keys) in ``column``: the one rule every
    chapter uses to say "above", "below" or "level".

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
    a, b = rows[method]["results"][column], rows[other]["results"][column]
    diff = 100 * (a["mean"] - b["mean"])
    level = abs(diff) <= 100 * (a["ci95"] + b["ci95"])
    name = rows[other]["name"]
    words = (f"level with {name} within the 95 % intervals" if level else
             f"{abs(diff):.1f} points {'above' if diff > 0 else 'below'} {name}")
    return {"diff": diff, "level": level, "words": words}

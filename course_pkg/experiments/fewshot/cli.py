"""``python -m course_pkg.train fewshot …``: the few-shot family's command line.

- ``fewshot``: train (or load) every checkpoint the chapters load, rewrite the table.
- ``fewshot --algo maml --n-way 5``: train just that model (``--iterations``/``--out`` apply).
- ``fewshot --table [--methods …]``: evaluate the stored models, rewrite the table.
- ``fewshot --budget --algo maml --n-way 20``: one model under the equal-budget protocol
  (:mod:`course_pkg.experiments.budget`), written to ``course_pkg/weights/budget/`` (or
  ``--out``); resumes from its snapshot after an interruption. ``--replay`` reruns the stored
  run's iteration schedule (the same parameters on any machine).
- ``fewshot --budget``: every equal-budget model, ``--jobs`` processes of one thread at a time.
- ``fewshot --sweep``: the tuning sweep (each spec's ``sweep`` settings at a quarter budget),
  results in ``course_pkg/results/fewshot_sweep.json``; the full-budget runs use the setting
  with the best validation accuracy.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from course_pkg.checkpoints import WEIGHTS_DIR, load_checkpoint, save_checkpoint
from course_pkg.experiments.fewshot import config as C
from course_pkg.experiments.fewshot import table as T
from course_pkg.experiments.fewshot import train as R
from course_pkg.experiments.methods import METHODS

HELP = "few-shot glyph classification: every fewshot_* model, the sweep and the results table"
#: Where the equal-budget checkpoints are written until they replace the chapters' ones.
BUDGET_DIR = WEIGHTS_DIR / "budget"
SWEEP_FILE = T.RESULTS_DIR / "fewshot_sweep.json"
#: Settings that change only the test-time adaptation: a sweep evaluates them on the default
#: setting's trained model instead of training again.
EVAL_ONLY = frozenset({"test_steps"})


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The family's own flags (the common ones exist already)."""
    p.add_argument("--algo", default=None, choices=[k for k, _ in C.trained_models()],
                   help="only this method's model")
    p.add_argument("--n-way", type=int, default=5, choices=(5, 20),
                   help="with --algo: the model for N-way episodes (default 5)")
    p.add_argument("--table", action="store_true", help="only rewrite the table")
    p.add_argument("--methods", nargs="+", default=None, help="with --table: only these rows")
    p.add_argument("--budget", action="store_true", help="the equal-budget protocol")
    p.add_argument("--sweep", action="store_true", help="the tuning sweep (quarter budgets)")
    p.add_argument("--setting", type=int, default=None,
                   help="with --budget --algo: train sweep setting i at a quarter budget")
    p.add_argument("--replay", action="store_true",
                   help="with --budget --algo: rerun the stored run's iteration schedule")
    p.add_argument("--jobs", type=int, default=2, help="processes at a time (one thread each)")


# ----------------------------------------------------------------------------- the sweep
def sweep_settings(key: str, n_way: int) -> tuple[dict[str, Any], ...]:
    """The settings a model's sweep tries (the first is the default)."""
    s, _ = C.owner(key)
    sw = s.fewshot.sweep
    return tuple(dict(x) for x in sw.get(key if key not in METHODS else n_way, ({},)))


def sweep_name(key: str, n_way: int, i: int) -> str:
    return f"fewshot_sweep_{key}_{n_way}way_s{i}"


def _resolved(key: str, n_way: int, i: int, out: Path) -> dict[str, Any] | None:
    """Setting ``i`` with ``anneal`` turned into ``anneal_iterations`` (4 × the iterations the
    default setting reached in its quarter budget, i.e. the full budget's; ``None`` until that
    run exists)."""
    over = dict(sweep_settings(key, n_way)[i])
    if over.pop("anneal", False):
        first = load_checkpoint(sweep_name(key, n_way, 0), None, out)
        if first is None:
            return None
        over["anneal_iterations"] = int(first[1]["metrics"]["iterations"])
    return over


def sweep_config(key: str, n_way: int, i: int, out: Path) -> dict[str, Any] | None:
    over = _resolved(key, n_way, i, out)
    return None if over is None else C.budget_config(key, n_way, fraction=0.25, **over)


def chosen_overrides(key: str, n_way: int) -> dict[str, Any]:
    """The settings the sweep chose for a model (``{}`` without a sweep or before it ran);
    ``anneal_iterations`` scaled to the full budget."""
    if len(sweep_settings(key, n_way)) < 2 or not SWEEP_FILE.exists():
        return {}
    entry = json.loads(SWEEP_FILE.read_text()).get(f"{key}_{n_way}way")
    if entry is None:
        return {}
    over = dict(entry["settings"][entry["chosen"]])
    if "anneal_iterations" in over:
        over["anneal_iterations"] *= 4
    return over


def full_config(key: str, n_way: int) -> dict[str, Any]:
    """The equal-budget config of a model: its chosen sweep setting at the full budget."""
    return C.budget_config(key, n_way, **chosen_overrides(key, n_way))


def summarise_sweep(out: Path) -> dict[str, Any]:
    """Every finished sweep as ``{"<key>_<N>way": {settings, best_validation, iterations,
    curves, chosen}}``, written to :data:`SWEEP_FILE`."""
    result = json.loads(SWEEP_FILE.read_text()) if SWEEP_FILE.exists() else {}
    for key, n in C.trained_models():
        settings = sweep_settings(key, n)
        if len(settings) < 2:
            continue
        found = [load_checkpoint(sweep_name(key, n, i), None, out) for i in range(len(settings))]
        if any(f is None for f in found):
            continue
        ms = [f[1]["metrics"] for f in found]
        best = [m["best_validation_accuracy"] for m in ms]
        result[f"{key}_{n}way"] = {
            "settings": [{k: v for k, v in f[1]["config"].items() if k not in
                          C.budget_config(key, n) or C.budget_config(key, n)[k] != v}
                         for f in found],
            "best_validation": best, "iterations": [m["iterations"] for m in ms],
            "curves": [m["curve"] for m in ms], "cpu_seconds": found[0][1]["config"][
                "budget"]["cpu_seconds"],
            "chosen": max(range(len(best)), key=lambda i: (best[i], -i))}
    SWEEP_FILE.parent.mkdir(parents=True, exist_ok=True)
    SWEEP_FILE.write_text(json.dumps(result, indent=1, sort_keys=True) + "\n")
    return result


# ----------------------------------------------------------------------------- running
def _train_one_budget(args: argparse.Namespace) -> list[str]:
    out = Path(args.out) if args.out else BUDGET_DIR
    key, n = args.algo, C.training_way(args.algo, args.n_way)
    if args.setting is not None:
        name = sweep_name(key, n, args.setting)
        over = _resolved(key, n, args.setting, out)
        if over is None:
            raise SystemExit(f"{name}: run setting 0 first (its iterations set the annealing)")
        if set(over) and set(over) <= EVAL_ONLY:
            return _evaluate_setting(key, n, args.setting, over, out, args)
        cfg = C.budget_config(key, n, fraction=0.25, **over)
    else:
        name, cfg = C.checkpoint_name(key, n), full_config(key, n)
    schedule = None
    if args.replay:
        found = load_checkpoint(name, cfg, out)
        if found is None:
            raise SystemExit(f"no checkpoint {name} with this config in {out}")
        schedule = found[1]["metrics"]["schedule"]
    state, metrics = R.train_model(cfg, args.device, not args.quiet, schedule, name=name)
    save_checkpoint(name, state, cfg, metrics, out)
    print(f"{name}: {metrics['status']}, best validation {metrics['best_validation_accuracy']:.4f}"
          f" after {metrics['iterations']} iterations, {metrics['train_seconds']} CPU-s",
          flush=True)
    return [name]


def _evaluate_setting(key, n, i, over, out, args) -> list[str]:
    """A test-time-only setting: the default setting's model, validated with ``over``."""
    from course_pkg.experiments.budget import ci95
    from course_pkg.experiments.validation import validation_episodes

    base = load_checkpoint(sweep_name(key, n, 0), None, out)
    if base is None:
        raise SystemExit(f"{sweep_name(key, n, i)}: run setting 0 first")
    cfg = {**base[1]["config"], **over}
    model = R.build_model(cfg)
    model.load_state_dict({**model.state_dict(), **base[0]})
    params = {k: v.detach() for k, v in model.named_parameters()}
    val = validation_episodes(cfg["budget"]["validation"], "cpu")
    acc, _ = ci95(METHODS[key].fewshot.accuracy(model, cfg)(params, val))
    m = dict(base[1]["metrics"])
    m.update(best_validation_accuracy=round(acc, 5), evaluated_only=True,
             curve=[*m["curve"][:-1], [*m["curve"][-1][:2], round(acc, 5)]])
    save_checkpoint(sweep_name(key, n, i), base[0], cfg, m, out)
    return [sweep_name(key, n, i)]


def _queue(jobs: list[tuple[list[str], str]], out: Path, n_jobs: int) -> list[str]:
    """Run ``python -m course_pkg.train fewshot …`` for each ``(flags, name)`` not done yet,
    ``n_jobs`` at a time, one thread each; a job whose inputs are missing waits its turn."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    pending, running, done = list(jobs), [], []
    out.mkdir(parents=True, exist_ok=True)
    while pending or running:
        for flags, name in list(pending):
            if len(running) >= n_jobs:
                break
            if load_checkpoint(name, None, out) is not None:
                pending.remove((flags, name))
                continue
            if "--setting" in flags and flags[flags.index("--setting") + 1] != "0":
                key, n = flags[flags.index("--algo") + 1], int(flags[flags.index("--n-way") + 1])
                if load_checkpoint(sweep_name(key, n, 0), None, out) is None:
                    continue  # needs setting 0 first
            pending.remove((flags, name))
            log = open(out / f"{name}.log", "a")
            cmd = [sys.executable, "-m", "course_pkg.train", "fewshot", "--budget", *flags,
                   "--threads", "1", "--out", str(out)]
            running.append((subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                             env=env), name))
        if not running and pending:
            raise SystemExit(f"cannot start {[n for _, n in pending]}: inputs missing")
        time.sleep(2)
        for p, name in list(running):
            if p.poll() is not None:
                running.remove((p, name))
                if p.returncode:
                    print(f"{name}: failed (exit {p.returncode}), see {out / name}.log")
                else:
                    done.append(name)
    return done


def run(args: argparse.Namespace) -> list[str]:
    """Dispatch the flags (see the module docstring)."""
    if args.table:
        table = T.fewshot_table(args.scale, False, args.methods, args.device, not args.quiet)
        print(T.table_markdown(table))
        if args.methods is None or args.out is not None:
            T.write_table(table, args.out)
        return []
    if args.sweep or (args.budget and args.algo is None):
        out = Path(args.out) if args.out else BUDGET_DIR
        if args.sweep:
            jobs = [(["--algo", k, "--n-way", str(n), "--setting", str(i)],
                     sweep_name(k, n, i))
                    for k, n in C.trained_models() for i in range(len(sweep_settings(k, n)))
                    if len(sweep_settings(k, n)) > 1]
        else:
            jobs = [(["--algo", k, "--n-way", str(n)], C.checkpoint_name(k, n))
                    for k, n in C.trained_models()]
        done = _queue(jobs, out, args.jobs)
        if args.sweep:
            summarise_sweep(out)
        return done
    if args.budget:
        return _train_one_budget(args)
    if args.algo is not None:
        cfg = C.method_config(args.algo, args.n_way, args.scale)
        if args.iterations is not None:
            if "iterations" not in cfg:
                raise SystemExit(f"fewshot --algo {args.algo}: its config has no iterations")
            cfg["iterations"] = args.iterations
        name = C.checkpoint_name(args.algo, args.n_way, args.scale)
        state, metrics = R.train_model(cfg, args.device, not args.quiet)
        save_checkpoint(name, state, cfg, metrics, args.out)
        print(f"{name}: trained ({metrics.get('train_seconds')} s)")
        return [name]
    if args.iterations is not None:
        raise SystemExit("fewshot: --iterations needs --algo (one model at a time)")
    names = R.train_all(args.scale, args.device, True, not args.quiet, args.out)
    if args.out is None:
        T.write_table(T.fewshot_table(args.scale, False, None, args.device, not args.quiet))
    return names


def run_all(args: argparse.Namespace) -> list[str]:
    """Every checkpoint the chapters load, and the table (``make weights``)."""
    flags = {"algo": None, "table": False, "budget": False, "sweep": False, "methods": None}
    return run(argparse.Namespace(**{**vars(args), **flags}))

"""``python -m course_pkg.train fewshot …``: the few-shot family's command line.

Every learned model of the table trains under the equal-budget protocol
(:mod:`course_pkg.experiments.budget`): the tuning sweep (:mod:`.sweep`) and every full-budget
model, ``--jobs`` processes of one thread at a time, each model after the sweep that chooses its
setting, written to ``course_pkg/weights/budget/`` (or ``--out``).

- ``fewshot``: run every run not done yet (an interrupted run resumes from its snapshot when the
  command is given again; finished models are skipped), then, once every model exists, rewrite
  the table.
- ``fewshot --replay``: rerun every stored run with its stored iteration schedule (``make
  weights``: the same parameters on any machine), then the table.
- ``fewshot --list``: the runs and what each waits for.
- ``fewshot --method maml --n-way 20 [--setting i] [--replay]``: one of those runs;
  ``--iterations N`` instead trains that model for ``N`` iterations without validation (a smoke
  run, written to ``--out`` or ``$COURSE_RUNS_DIR/smoke``, never to the committed weights).
- ``fewshot --table [--jobs N]``: evaluate the stored models (the rows in ``N`` processes of one
  thread) and rewrite ``course_pkg/results/fewshot_table.{json,md}`` (:mod:`.budget_table`);
  ``--table --methods …`` evaluates only those rows, in one process, and writes the table only
  to ``--out``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from course_pkg.checkpoints import load_checkpoint, save_checkpoint
from course_pkg.experiments.budget import runs_dir
from course_pkg.experiments.fewshot import config as C
from course_pkg.experiments.fewshot import sweep as S
from course_pkg.experiments.fewshot import table as T
from course_pkg.experiments.fewshot import train as R
from course_pkg.experiments.methods import METHODS, fewshot_methods

HELP = "few-shot glyph classification: every fewshot_* model, the sweep and the results table"


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The family's own flags (the common ones exist already)."""
    p.add_argument("--method", default=None,
                   choices=[k for k, _ in C.trained_models() if not C.duplicates_method(k)],
                   help="only this method's model")
    p.add_argument("--n-way", type=int, default=5, choices=(5, 20),
                   help="with --method: the model for N-way episodes (default 5)")
    p.add_argument("--table", action="store_true", help="only rewrite the table")
    p.add_argument("--methods", nargs="+", default=None, help="with --table: only these rows")
    p.add_argument("--setting", type=int, default=None,
                   help="with --method: train sweep setting i at a quarter budget")
    p.add_argument("--replay", action="store_true",
                   help="rerun stored runs with their stored iteration schedules")
    p.add_argument("--list", action="store_true", help="list the runs and their state")
    p.add_argument("--rows-to", default=None, metavar="FILE",
                   help="with --table --methods: write only the evaluated rows to FILE (JSON)")
    p.add_argument("--jobs", type=_positive, default=2,
                   help="processes at a time (one thread each)")


def _positive(text: str) -> int:
    n = int(text)
    if n < 1:
        raise argparse.ArgumentTypeError(f"needs a count of at least 1, got {n}")
    return n


# ----------------------------------------------------------------------------- one run
def _smoke_run(args: argparse.Namespace) -> list[str]:
    """``--method … --iterations N``: ``N`` iterations of the model's config (the default
    setting's while its sweep is unfinished), no validation, saved to ``--out`` or
    ``$COURSE_RUNS_DIR/smoke``."""
    try:
        cfg = S.method_config(args.method, args.n_way, args.scale).to_dict()
    except FileNotFoundError:  # the sweep has not chosen yet
        cfg = C.budget_config(args.method, C.training_way(args.method, args.n_way),
                              args.scale).to_dict()
    cfg.pop("budget", None)
    cfg = C.FewShotConfig.from_dict({**cfg, "iterations": args.iterations})
    name = C.checkpoint_name(args.method, args.n_way, args.scale)
    state, metrics = R.train_model(cfg, args.device, not args.quiet)
    out = Path(args.out) if args.out else runs_dir() / "smoke"
    save_checkpoint(name, state, cfg, metrics, out)
    print(f"{name}: trained ({metrics.get('train_seconds')} s), saved in {out}")
    return [name]


def _train_one(args: argparse.Namespace) -> list[str]:
    """One run of the queue: sweep setting ``--setting`` or the full-budget model."""
    out = Path(args.out) if args.out else S.BUDGET_DIR
    key, n, scale = args.method, C.training_way(args.method, args.n_way), args.scale
    if args.setting is not None:
        count = len(S.sweep_settings(key, n))
        if not 0 <= args.setting < count:
            raise SystemExit(f"--setting {args.setting}: {key} {n}-way has settings 0 to "
                             f"{count - 1}")
        name = S.sweep_name(key, n, args.setting, scale)
        over = S.resolved_setting(key, n, args.setting, out, scale)
        if over is None:
            raise SystemExit(f"{name}: run setting 0 first (its iterations set the annealing)")
        if set(over) and set(over) <= S.EVAL_ONLY:
            return _evaluate_setting(key, n, args.setting, over, out, scale)
        cfg = C.budget_config(key, n, scale, fraction=S.SWEEP_FRACTION, **over)
    else:
        name, cfg = C.checkpoint_name(key, n, scale), S.full_config(key, n, out, scale)
        if cfg is None:
            raise SystemExit(f"{name}: its sweep is not finished (python -m course_pkg.train "
                             f"fewshot --list)")
    schedule = recorded = None
    if args.replay:
        found = load_checkpoint(name, cfg, out) or load_checkpoint(name, cfg, S.BUDGET_DIR)
        if found is None:
            raise SystemExit(f"no checkpoint {name} with this config in {out} to replay")
        schedule = found[1]["metrics"]["schedule"]
        recorded = [p[1] for p in found[1]["metrics"]["curve"]]  # the first run's CPU times
    state, metrics = R.train_model(cfg, args.device, not args.quiet, schedule, name=name,
                                   recorded_cpu=recorded)
    save_checkpoint(name, state, cfg, metrics, out)
    print(f"{name}: {metrics['status']}, best validation {metrics['best_validation_accuracy']:.4f}"
          f" after {metrics['iterations']} iterations, {metrics['train_seconds']} CPU-s",
          flush=True)
    return [name]


def _evaluate_setting(key: str, n: int, i: int, over: dict, out: Path,
                      scale: str | None) -> list[str]:
    """A test-time-only setting: the default setting's model, validated with ``over``."""
    from course_pkg.experiments.budget import ci95
    from course_pkg.experiments.validation import validation_episodes

    name = S.sweep_name(key, n, i, scale)
    base = load_checkpoint(S.sweep_name(key, n, 0, scale), None, out)
    if base is None:
        raise SystemExit(f"{name}: run setting 0 first")
    cfg = {**base[1]["config"], **over}
    model = R.build_model(cfg)
    model.load_state_dict({**model.state_dict(), **base[0]})
    params = {k: v.detach() for k, v in model.named_parameters()}
    val = validation_episodes(cfg["budget"]["validation"], "cpu")
    acc, _ = ci95(C.owner(key)[0].fewshot.accuracy(model, cfg)(params, val))
    m = dict(base[1]["metrics"])
    m.update(best_validation_accuracy=round(acc, 5), evaluated_only=True)
    save_checkpoint(name, base[0], cfg, m, out)
    return [name]


# ----------------------------------------------------------------------------- the queue
def budget_runs(scale: str | None = None) -> list[tuple[list[str], str, list[str]]]:
    """Every run of the equal-budget protocol as ``(flags, checkpoint name, waits for)``, in
    the order the queue starts them: sweep settings first, then full-budget models."""
    sweeps, full = [], []
    for key, n in C.trained_models():
        if C.duplicates_method(key):
            continue  # the method's own model (chapter 4's attention core is the table's)
        settings = S.sweep_settings(key, n)
        names = [S.sweep_name(key, n, i, scale) for i in range(len(settings))]
        if len(settings) > 1:
            for i, name in enumerate(names):
                sweeps.append((["--method", key, "--n-way", str(n), "--setting", str(i)], name,
                               [] if i == 0 else [names[0]]))
        full.append((["--method", key, "--n-way", str(n)], C.checkpoint_name(key, n, scale),
                     names if len(settings) > 1 else []))
    return sweeps + full


def _expected_config(flags: list[str], out: Path, scale: str | None):
    """The config the run of ``flags`` (``--method K --n-way N [--setting I]``) trains with now:
    its sweep setting's, or the full-budget one of the chosen setting; ``None`` while what it
    depends on (the default setting's run, the sweep) is missing from ``out``."""
    key, n = flags[flags.index("--method") + 1], int(flags[flags.index("--n-way") + 1])
    if "--setting" in flags:
        return S.sweep_config(key, n, int(flags[flags.index("--setting") + 1]), out, scale)
    return S.full_config(key, n, out, scale)


def run_state(flags: list[str], name: str, out: Path, scale: str | None) -> str:
    """``"done"`` (a checkpoint with the config the run would train with), ``"stale"`` (a
    checkpoint with another config: a setting or default changed since) or ``"to do"``."""
    expected = _expected_config(flags, out, scale)
    if expected is not None and load_checkpoint(name, expected, out) is not None:
        return "done"
    return "stale" if (out / f"{name}.json").exists() else "to do"


def _queue(runs: list[tuple[list[str], str, list[str]]], out: Path, n_jobs: int,
           scale: str = "cpu", replay: bool = False) -> list[str]:
    """Run ``python -m course_pkg.train fewshot …`` for each run not done yet (with
    ``replay``: every run, with its stored schedule), ``n_jobs`` at a time (one thread each),
    each once the runs it waits for exist (with ``replay``: were replayed). A run is done when
    its checkpoint has the config it would train with now (:func:`run_state`); a stale one is
    trained again."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    finished: list[str] = []
    failed: list[str] = []
    flags_of = {name: flags for flags, name, _w in runs}
    known_done: set[str] = set()  # a done run stays done: checked once, not at every poll

    def done(name: str) -> bool:
        if replay:
            return name in finished
        if name not in known_done and run_state(flags_of[name], name, out, scale) == "done":
            known_done.add(name)
        return name in known_done

    out.mkdir(parents=True, exist_ok=True)
    logs = runs_dir() / "logs"  # beside the snapshots, outside the repository
    logs.mkdir(parents=True, exist_ok=True)
    pending = [r for r in runs if replay or not done(r[1])]
    running: list[tuple[subprocess.Popen, str]] = []
    while pending or running:
        for run in list(pending):
            flags, name, waits = run
            if len(running) >= n_jobs:
                break
            if any(w in failed for w in waits):
                pending.remove(run)
                failed.append(name)
                continue
            if not all(done(w) for w in waits):
                continue
            pending.remove(run)
            cmd = [sys.executable, "-m", "course_pkg.train", "fewshot", *flags, "--scale", scale,
                   "--threads", "1", "--out", str(out), *(["--replay"] if replay else [])]
            with open(logs / f"{name}.log", "a") as log:  # the child keeps its own handle
                running.append((subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                                 env=env), name))
            print(f"started {name}", flush=True)
        if running:
            time.sleep(2)
        elif pending:
            raise SystemExit(f"cannot start {[r[1] for r in pending]}: what they wait for "
                             "is missing")
        for proc, name in list(running):
            if proc.poll() is not None:
                running.remove((proc, name))
                (finished if proc.returncode == 0 else failed).append(name)
                print(f"{name}: {'done' if proc.returncode == 0 else 'FAILED'} "
                      f"(log {logs / name}.log)", flush=True)
    if failed:
        raise SystemExit(f"failed: {failed}")
    return finished


def _row_cost(method: str, scale: str) -> float:
    """A rough relative cost of evaluating a row (test-time steps dominate), to balance jobs."""
    spec = METHODS[method]
    if not spec.fewshot.trained:
        return 1.0
    if spec.fewshot.model_of is not None:
        return 5.0  # fine-tuning: many SGD steps on a new head per episode
    cfgs = [C.budget_config(method, n, scale) for n in C.model_ways(method)]
    return sum(1.0 + (c.get("test_steps") or 0) for c in cfgs)


def _rows_in_parallel(args: argparse.Namespace, jobs: int) -> list[dict]:
    """Evaluate the table's rows in ``jobs`` processes (one thread each; the rows are
    independent and seeded, so the numbers are those of one process)."""
    import json
    import tempfile

    keys = list(fewshot_methods())
    groups: list[list[str]] = [[] for _ in range(jobs)]
    load = [0.0] * jobs
    for key in sorted(keys, key=lambda k: -_row_cost(k, args.scale)):  # longest first
        j = load.index(min(load))
        groups[j].append(key)
        load[j] += _row_cost(key, args.scale)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    with tempfile.TemporaryDirectory() as tmp:
        procs = []
        for j, group in enumerate(g for g in groups if g):
            cmd = [sys.executable, "-m", "course_pkg.train", "fewshot", "--table", "--methods",
                   *group, "--rows-to", f"{tmp}/{j}.json", "--scale", args.scale, "--threads",
                   "1", "--quiet", *(["--out", str(args.out)] if args.out else []),
                   *(["--device", str(args.device)] if args.device else [])]
            procs.append((subprocess.Popen(cmd, env=env), group))
        failed = [g for p, g in procs if p.wait() != 0]
        if failed:
            raise SystemExit(f"evaluating the rows {failed} failed")
        rows = {r["method"]: r for j in range(len(procs))
                for r in json.loads(Path(f"{tmp}/{j}.json").read_text())}
    return [rows[k] for k in keys]


def _write_table(args: argparse.Namespace) -> None:
    """Evaluate the stored models (of ``--out``, else the committed ones) and write the table
    next to them (``--out``) or to ``course_pkg/results`` (with ``--methods``: only to
    ``--out``; the committed table keeps every row). ``--jobs N``: the rows in N processes."""
    import json

    from course_pkg.experiments.fewshot import budget_table as BT

    known = list(fewshot_methods())
    unknown = [m for m in args.methods or [] if m not in known]
    if unknown:
        raise SystemExit(f"--methods: no row {unknown}; the table's rows are {known}")
    if args.rows_to:
        if args.methods is None:
            raise SystemExit("--rows-to needs --methods")
        rows = BT.table_rows(args.methods, args.device, not args.quiet, args.out, args.scale)
        Path(args.rows_to).write_text(json.dumps(rows))
        return
    rows = (_rows_in_parallel(args, args.jobs)
            if args.methods is None and getattr(args, "jobs", 1) > 1 else None)
    table = BT.fewshot_table(args.methods, args.device, not args.quiet, args.out, args.scale,
                             rows=rows)
    print(T.table_markdown(table))
    if args.methods is None or args.out is not None:
        T.write_table(table, args.out)


def run(args: argparse.Namespace) -> list[str]:
    """Dispatch the flags (see the module docstring)."""
    if not args.table and (args.methods is not None or args.rows_to):
        raise SystemExit("--methods and --rows-to go with --table")
    if args.method is None and (args.setting is not None or args.n_way != 5):
        raise SystemExit("--setting and --n-way go with --method (one run)")
    if args.table:
        _write_table(args)
        return []
    if args.method is not None:
        return _smoke_run(args) if args.iterations is not None else _train_one(args)
    if args.iterations is not None:
        raise SystemExit("fewshot: --iterations needs --method (one model at a time)")
    out = Path(args.out) if args.out else S.BUDGET_DIR
    runs = budget_runs(args.scale)
    if args.list:
        for flags, name, waits in runs:
            state = run_state(flags, name, out, args.scale)
            print(f"{name:40s} {state:6s} waits for: {', '.join(waits) or '-'}")
        return []
    finished = _queue(runs, out, args.jobs, args.scale, args.replay)
    names = R.train_all(args.scale, args.device, args.replay, not args.quiet,
                        None if args.out is None else out)
    if all(run_state(flags, name, out, args.scale) == "done" for flags, name, _w in runs):
        _write_table(argparse.Namespace(**{**vars(args), "methods": None, "rows_to": None}))
    return finished + names


def run_all(args: argparse.Namespace) -> list[str]:
    """Every checkpoint the chapters load, replayed, and the table (``make weights``)."""
    flags = {"method": None, "table": False, "methods": None, "list": False, "replay": True,
             "setting": None, "n_way": 5, "jobs": getattr(args, "jobs", 2), "rows_to": None}
    return run(argparse.Namespace(**{**vars(args), **flags}))

"""Run every ``benchmarks/bench_*.py`` and merge their records (``make bench``).

Each benchmark script runs in its own subprocess as
``python benchmarks/bench_<name>.py --out benchmarks/results/bench_<name>.json [extra args]`` and
writes a JSON list of records, each with at least ``benchmark``, ``implementation``,
``iterations_per_s``, ``peak_mem_mb`` and ``max_abs_grad_diff`` (optionally ``inner_steps``,
``speedup_vs_learn2learn`` and settings; scaling records of ``bench_distributed`` add ``ranks``
and ``speedup_vs_1_rank`` and get a table of their own). This script then writes

- ``benchmarks/results.json``: all records of all scripts (a list), and
- ``benchmarks/results.md``: one markdown table per script plus a PNG bar chart of the
  speed-ups (``benchmarks/results.png``) when any record has ``speedup_vs_learn2learn``;

the book's Performance appendix shows both. Usage::

    python benchmarks/run_all.py [--only maml] [--threads 1] [--quick] [--skip-run]

``--skip-run`` only merges the existing ``benchmarks/results/*.json``. Extra flags
(``--threads``, ``--quick``, ``--device``) are passed to every script.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
RESULTS = ROOT / "results"
REQUIRED = ("benchmark", "implementation", "iterations_per_s", "peak_mem_mb", "max_abs_grad_diff")


def run_scripts(only: str | None, passthrough: list[str]) -> list[str]:
    failed = []
    for script in sorted(ROOT.glob("bench_*.py")):
        if only and only not in script.stem:
            continue
        out = RESULTS / f"{script.stem}.json"
        cmd = [sys.executable, str(script), "--out", str(out), *passthrough]
        print(f"$ {' '.join(cmd[1:])}", flush=True)
        t = time.time()
        proc = subprocess.run(cmd, cwd=ROOT.parent)
        print(f"  {script.name}: exit {proc.returncode} after {time.time() - t:.0f} s", flush=True)
        if proc.returncode != 0:
            failed.append(script.name)
    return failed


def load_records() -> list[dict]:
    records = []
    for f in sorted(RESULTS.glob("*.json")):
        recs = json.loads(f.read_text())
        for r in recs:
            missing = [k for k in REQUIRED if k not in r]
            if missing:
                raise ValueError(f"{f.name}: a record lacks {missing}: {r}")
            r.setdefault("source", f.stem)
        records += recs
    return records


def _fmt(v, spec: str) -> str:
    return "–" if v is None else format(v, spec)


def markdown(records: list[dict], plot: str | None) -> str:
    lines = ["# Benchmark results", "",
             "Written by `benchmarks/run_all.py` (`make bench`). Throughput is the best of several",
             "timed blocks of meta-iterations (implementations interleaved; each script says",
             "which clock it uses); `peak MB` is the peak",
             "memory autograd holds for one meta-iteration's backward pass (saved-tensor hooks on",
             "the CPU, allocator peak on a GPU); `max |Δ grad|` compares the implementations'",
             "meta-gradients on the same batch from the same parameters.", ""]
    chapters = [r for r in records if r["benchmark"] == "chapter_seconds"]
    records = [r for r in records if r["benchmark"] != "chapter_seconds"]
    for source in sorted({r["source"] for r in records}):
        recs = [r for r in records if r["source"] == source]
        env = recs[0]
        if any("ranks" in r for r in recs):
            lines += ranks_table(source, recs)
            continue
        lines += [f"## {source}", "",
                  f"device `{env.get('device', '?')}`, {env.get('threads', '?')} thread(s), "
                  f"torch {env.get('torch', '?')}" + (" — quick run" if env.get("quick") else ""),
                  "",
                  "| benchmark | implementation | inner steps | meta-batch | meta-it/s | speed-up "
                  "| peak MB | max \\|Δ grad\\| |",
                  "|---|---|---:|---:|---:|---:|---:|---:|"]
        for r in recs:
            lines.append(
                f"| {r['benchmark']} | {r['implementation']} | {_fmt(r.get('inner_steps'), 'd')} "
                f"| {_fmt(r.get('meta_batch'), 'd')} | {r['iterations_per_s']:.2f} "
                f"| {_fmt(r.get('speedup_vs_learn2learn'), '.2f')}"
                f"{'×' if r.get('speedup_vs_learn2learn') is not None else ''} "
                f"| {_fmt(r['peak_mem_mb'], '.2f')} | {_fmt(r['max_abs_grad_diff'], '.1e')} |")
        lines.append("")
    if plot:
        lines += [f"![speed-up over learn2learn]({plot})", ""]
    if chapters:
        lines += chapter_table(chapters)
    return "\n".join(lines)


def ranks_table(source: str, recs: list[dict]) -> list[str]:
    """Markdown lines for records with a ``ranks`` field (bench_distributed: scaling)."""
    env = recs[0]
    lines = [f"## {source}", "",
             f"device `{env.get('device', '?')}`, {env.get('threads', '?')} thread(s) per rank, "
             f"torch {env.get('torch', '?')}, {env.get('cpu_count', '?')} CPU cores"
             + (" — quick run" if env.get("quick") else "")
             + "; meta-it/s is the global meta-batch per second (wall clock, best block), "
             "load is the machine's 1-minute load average before → after the launch", "",
             "| benchmark | implementation | ranks | meta-batch (per rank) | meta-it/s "
             "| speed-up vs 1 rank | peak MB per rank | max \\|Δ grad\\| | load |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in recs:
        lines.append(
            f"| {r['benchmark']} | {r['implementation']} | {_fmt(r.get('ranks'), 'd')} "
            f"| {_fmt(r.get('meta_batch'), 'd')} ({_fmt(r.get('tasks_per_rank'), 'd')}) "
            f"| {r['iterations_per_s']:.2f} | {_fmt(r.get('speedup_vs_1_rank'), '.2f')}"
            f"{'×' if r.get('speedup_vs_1_rank') is not None else ''} "
            f"| {_fmt(r['peak_mem_mb'], '.2f')} | {_fmt(r['max_abs_grad_diff'], '.1e')} "
            f"| {_fmt(r.get('loadavg_before'), '.1f')} → {_fmt(r.get('loadavg_after'), '.1f')} |")
    lines.append("")
    return lines


def chapter_table(records: list[dict]) -> list[str]:
    """Markdown lines for the ``chapter_seconds`` records of ``bench_chapters.py``."""
    env = records[0]
    load = env.get("load_avg_1min")
    lines = ["## chapter_seconds", "",
             "Each chapter run top to bottom through nbclient with interactive figures, as in "
             f"JupyterLab; {env.get('cpu_count', '?')} CPUs, torch {env.get('torch', '?')}"
             + ("" if load is None else f", load average {load:.1f} at the first chapter") + ".",
             "", "| chapter | seconds | slowest cell | its seconds | code cells |",
             "|---|---:|---|---:|---:|"]
    for r in records:
        over = "" if r.get("within_limit", True) else " (over the limit)"
        lines.append(f"| {r['chapter']} | {r['seconds']:.1f}{over} | {r.get('slowest_cell')} "
                     f"| {_fmt(r.get('slowest_cell_seconds'), '.1f')} | {r.get('cells')} |")
    return lines + [""]


def speedup_plot(records: list[dict], path: Path) -> bool:
    recs = [r for r in records if r.get("speedup_vs_learn2learn") is not None
            and r["implementation"] != "learn2learn"]
    if not recs:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def label(r: dict) -> str:
        name = r["benchmark"].replace("_5way1shot", " 5w1s").replace("_", "\n", 1).replace("_", " ")
        extra = "" if r["implementation"] == "course_pkg" else f"\n({r['implementation']})"
        return f"{name}\nk={r.get('inner_steps', '?')}{extra}"

    labels = [label(r) for r in recs]
    colours = ["C0" if r["implementation"] == "course_pkg" else "0.6" for r in recs]
    fig, ax = plt.subplots(figsize=(max(6, 1.1 * len(recs)), 3.8))
    ax.bar(range(len(recs)), [r["speedup_vs_learn2learn"] for r in recs], color=colours)
    ax.axhline(1, color="k", lw=0.8)
    ax.set_xticks(range(len(recs)), labels, fontsize=7)
    ax.set_ylabel("meta-iterations/s ÷ learn2learn")
    ax.set_title("course_pkg speed-up over learn2learn (same model, data, hyper-parameters)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--only", default=None, help="run only bench scripts whose name contains this")
    p.add_argument("--skip-run", action="store_true", help="only merge existing results")
    args, passthrough = p.parse_known_args(argv)
    RESULTS.mkdir(exist_ok=True)
    failed = [] if args.skip_run else run_scripts(args.only, passthrough)
    records = load_records()
    (ROOT / "results.json").write_text(json.dumps(records, indent=2) + "\n")
    png = ROOT / "results.png"
    plot = png.name if speedup_plot(records, png) else None
    (ROOT / "results.md").write_text(markdown(records, plot))
    print(f"wrote {ROOT / 'results.json'} ({len(records)} records) and {ROOT / 'results.md'}")
    if failed:
        print("FAILED:", ", ".join(failed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Seconds per chapter, executed as in JupyterLab: ``chapter_seconds`` records (``make bench``).

Every ``book/*.ipynb`` runs top to bottom through nbclient in the ``python3`` kernel with the
book folder as working directory and *interactive* figures (no ``COURSE_STATIC_FIGURES``, no
``MPLBACKEND``), as after ``make lab`` and Run All. One record per chapter::

    {"benchmark": "chapter_seconds", "chapter": "07_maml", "seconds": 41.2,
     "implementation": "nbclient, interactive figures", "slowest_cell": "<cell id>",
     "slowest_cell_seconds": 12.3, "cells": 34, "iterations_per_s": 1 / seconds,
     "peak_mem_mb": <kernel's peak RSS>, "max_abs_grad_diff": None, "load_avg_1min": ..., ...}

``seconds`` is wall-clock time from kernel start to the last cell's reply; ``load_avg_1min`` says
how busy the machine was. Usage::

    python benchmarks/bench_chapters.py --out benchmarks/results/bench_chapters.json
        [--only 07] [--notebooks a.ipynb b.ipynb] [--quick] [--device cpu] [--timeout 600]

``--quick`` runs only the first chapter. ``--threads`` is accepted (``run_all.py`` passes it to
every script) and ignored: each chapter sets its own torch threads, as it does in JupyterLab.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BOOK = ROOT / "book"
LIMIT_S = 60  # the course's promise: every chapter runs in about a minute on 2 CPU cores


def _stamp(cell: dict, key: str) -> float | None:
    value = cell.get("metadata", {}).get("execution", {}).get(key)
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() if value else None


def _peak_rss_mb(client, stop: threading.Event, out: list[float]) -> None:
    """Poll the kernel process's resident memory until ``stop`` is set; keep the maximum."""
    import psutil

    peak = 0.0
    while not stop.is_set():
        try:
            pid = client.km.provisioner.process.pid  # local kernel provisioner
            rss = psutil.Process(pid).memory_info().rss
            peak = max(peak, rss / 2**20)
        except Exception:  # kernel not started yet, or gone
            pass
        stop.wait(0.2)
    out.append(peak)


def run_chapter(path: Path, timeout: int, device: str | None) -> dict:
    """Execute one notebook as JupyterLab would; return its ``chapter_seconds`` record."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    env_backup = {k: os.environ.get(k) for k in ("MPLBACKEND", "COURSE_STATIC_FIGURES",
                                                 "COURSE_DEVICE", "PYTHONPATH")}
    os.environ.pop("MPLBACKEND", None)
    os.environ.pop("COURSE_STATIC_FIGURES", None)
    os.environ["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(ROOT), env_backup["PYTHONPATH"]) if p)
    if device:
        os.environ["COURSE_DEVICE"] = device
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", record_timing=True,
                            resources={"metadata": {"path": str(path.parent)}})
    stop, peak = threading.Event(), []
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    t0 = time.perf_counter()
    poller = threading.Thread(target=_peak_rss_mb, args=(client, stop, peak), daemon=True)
    poller.start()
    try:
        client.execute()
    finally:
        seconds = time.perf_counter() - t0
        stop.set()
        poller.join(timeout=5)
        for k, v in env_backup.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    per_cell = []
    for cell in nb.cells:
        start, end = _stamp(cell, "iopub.execute_input"), _stamp(cell, "shell.execute_reply")
        if cell.cell_type == "code" and start is not None and end is not None:
            per_cell.append((end - start, cell.get("id", "?")))
    slow_s, slow_id = max(per_cell, default=(0.0, None))
    import torch

    return {
        "benchmark": "chapter_seconds", "chapter": path.stem,
        "implementation": "nbclient, interactive figures", "seconds": round(seconds, 2),
        "within_limit": seconds <= LIMIT_S, "limit_seconds": LIMIT_S,
        "slowest_cell": slow_id, "slowest_cell_seconds": round(slow_s, 2),
        "cells": sum(c.cell_type == "code" for c in nb.cells),
        "iterations_per_s": 1.0 / round(seconds, 2), "peak_mem_mb": peak[0] if peak else 0.0,
        "max_abs_grad_diff": None, "load_avg_1min": load,
        "device": device or os.environ.get("COURSE_DEVICE") or "default",
        "threads": "per chapter", "torch": torch.__version__,
        "python": platform.python_version(), "machine": platform.machine(),
        "cpu_count": os.cpu_count(), "timer": "perf_counter",
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" /
                   "bench_chapters.json")
    p.add_argument("--only", default=None, help="only chapters whose file name contains this")
    p.add_argument("--notebooks", nargs="+", type=Path, default=None,
                   help="these notebooks instead of book/*.ipynb")
    p.add_argument("--quick", action="store_true", help="only the first chapter")
    p.add_argument("--device", default=None)
    p.add_argument("--threads", type=int, default=None, help="ignored (see the docstring)")
    p.add_argument("--timeout", type=int, default=600, help="seconds per cell")
    args = p.parse_args(argv)
    paths = args.notebooks or sorted(BOOK.glob("*.ipynb"))
    if args.only:
        paths = [q for q in paths if args.only in q.name]
    if args.quick:
        paths = paths[:1]
    if not paths:
        print("no notebooks selected", file=sys.stderr)
        return 2
    records, failed = [], []
    for path in paths:
        try:
            rec = run_chapter(path, args.timeout, args.device)
        except Exception as exc:  # a chapter that raises: say which, time the others
            failed.append(path.stem)
            print(f"{path.stem:28s} FAILED: {str(exc).strip().splitlines()[-1][:300]}",
                  file=sys.stderr, flush=True)
            continue
        flag = "" if rec["within_limit"] else f"  (over {LIMIT_S} s)"
        print(f"{rec['chapter']:28s} {rec['seconds']:7.1f} s   slowest cell "
              f"{rec['slowest_cell']} {rec['slowest_cell_seconds']:.1f} s{flag}", flush=True)
        records.append(rec)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(records, indent=2) + "\n")
    if failed:
        print(f"chapters that raised (no record): {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

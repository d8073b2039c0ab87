"""Stored results the chapters read: benchmark records (written by ``make bench``).

Benchmarks live in the repository's ``benchmarks/`` folder, not in the package: from an
installed wheel (or before ``make bench``) there are no records and the chapters say so.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def find_benchmarks_dir(start: str | Path | None = None) -> Path | None:
    """The nearest ``benchmarks/`` folder at or above ``start`` (default: the working folder)."""
    root = Path.cwd() if start is None else Path(start)
    root = root.resolve()
    for folder in (root, *root.parents):
        if (folder / "benchmarks").is_dir():
            return folder / "benchmarks"
    return None


def load_bench_records(
    benchmark: str = "meta-step memory",
    script: str = "bench_memory",
    start: str | Path | None = None,
) -> tuple[list[dict[str, Any]], Path | None]:
    """``(records, path)``: the records whose ``benchmark`` field starts with ``benchmark``, from
    ``benchmarks/results.json`` (merged by ``make bench``), else from
    ``benchmarks/results/<script>.json``; ``([], None)`` when there are none. ``path`` is
    relative to the repository root."""
    bench = find_benchmarks_dir(start)
    if bench is None:
        return [], None
    for path in (bench / "results.json", bench / "results" / f"{script}.json"):
        if path.exists():
            data = json.loads(path.read_text())
            recs = data["records"] if isinstance(data, dict) and "records" in data else data
            recs = [r for r in recs if str(r.get("benchmark", "")).startswith(benchmark)]
            if recs:
                return recs, path.relative_to(bench.parent)
    return [], None

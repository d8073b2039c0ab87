"""The benchmark scripts run and write what the Performance appendix reads (no timings asserted)."""

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

import bench_distributed  # noqa: E402
import bench_maml  # noqa: E402
import run_all  # noqa: E402


@pytest.mark.parametrize("only,implementations", [
    ("sinusoid_fomaml", {"course_pkg", "learn2learn"}),
    ("conv4_5way1shot_maml", {"course_pkg", "learn2learn", "per-task loop"}),
])
def test_bench_maml_quick_writes_records_with_equal_gradients(tmp_path, only, implementations):
    out = tmp_path / "bench.json"
    assert bench_maml.main(["--quick", "--only", only, "--out", str(out), "--threads", "1"]) == 0
    records = json.loads(out.read_text())
    assert {r["implementation"] for r in records} == implementations
    for r in records:
        for key in run_all.REQUIRED:
            assert key in r, key
        assert r["benchmark"].startswith(only)
        assert r["iterations_per_s"] > 0 and r["peak_mem_mb"] > 0
        # every implementation computes the same meta-gradient as course_pkg
        assert r["max_abs_grad_diff"] < 1e-5
    l2l = next(r for r in records if r["implementation"] == "learn2learn")
    assert l2l["speedup_vs_learn2learn"] == 1.0


def test_markdown_table_lists_every_record():
    records = [
        {"benchmark": "b", "implementation": impl, "inner_steps": 1, "meta_batch": 2,
         "iterations_per_s": 3.0, "peak_mem_mb": 1.0, "max_abs_grad_diff": 1e-8,
         "speedup_vs_learn2learn": s, "source": "bench_maml", "device": "cpu", "threads": 1,
         "torch": "x"}
        for impl, s in [("course_pkg", 2.0), ("learn2learn", 1.0), ("per-task loop", 1.1)]
    ]
    text = run_all.markdown(records, None)
    for impl in ("course_pkg", "learn2learn", "per-task loop"):
        assert f"| b | {impl} |" in text
    assert "2.00×" in text and "1.10×" in text


@pytest.mark.slow
@pytest.mark.distributed
def test_bench_distributed_quick_writes_records_per_rank_count(tmp_path):
    out = tmp_path / "bench.json"
    assert bench_distributed.main(["--quick", "--out", str(out)]) == 0
    records = json.loads(out.read_text())
    assert [r["ranks"] for r in records] == [1, 2]
    for r in records:
        for key in (*run_all.REQUIRED, "speedup_vs_1_rank", "tasks_per_rank", "meta_batch",
                    "threads", "loadavg_before", "loadavg_after"):
            assert key in r, key
        assert r["iterations_per_s"] > 0 and r["peak_mem_mb"] > 0 and r["threads"] == 1
    one, two = records
    assert one["speedup_vs_1_rank"] == 1.0 and one["max_abs_grad_diff"] == 0.0
    assert one["tasks_per_rank"] == one["meta_batch"] == 2 * two["tasks_per_rank"]
    assert two["backend"] == "gloo" and two["implementation"] == "torchrun, 2 ranks (gloo)"
    # the all-reduced meta-gradient is one process's; each rank holds half the graph
    assert two["max_abs_grad_diff"] < 1e-5
    assert two["peak_mem_mb"] < 0.6 * one["peak_mem_mb"]
    assert two["speedup_vs_1_rank"] == two["iterations_per_s"] / one["iterations_per_s"]


def test_markdown_has_a_scaling_table_for_records_with_ranks():
    records = [
        {"benchmark": "conv4", "implementation": impl, "ranks": r, "meta_batch": 16,
         "tasks_per_rank": 16 // r, "iterations_per_s": 1.0 * r, "peak_mem_mb": 10.0 / r,
         "max_abs_grad_diff": 0.0 if r == 1 else 2e-7, "speedup_vs_1_rank": float(r),
         "loadavg_before": 1.5, "loadavg_after": 2.0, "source": "bench_distributed",
         "device": "cpu", "threads": 1, "torch": "x", "cpu_count": 2}
        for impl, r in [("one process", 1), ("torchrun, 2 ranks (gloo)", 2)]
    ]
    text = run_all.markdown(records, None)
    assert "## bench_distributed" in text and "1 thread(s) per rank" in text
    assert "| conv4 | one process | 1 | 16 (16) | 1.00 | 1.00× | 10.00 | 0.0e+00 | 1.5 → 2.0 |" \
        in text
    assert "| conv4 | torchrun, 2 ranks (gloo) | 2 | 16 (8) | 2.00 | 2.00× | 5.00 | 2.0e-07 |" \
        in text


def test_bench_chapters_writes_a_chapter_seconds_record(tmp_path):
    import bench_chapters
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("import os\nx = os.environ.get('COURSE_STATIC_FIGURES')"),
                nbformat.v4.new_code_cell("assert x is None, 'figures must be interactive'")]
    nb.metadata = {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                  "language": "python"}}
    path = tmp_path / "99_tiny.ipynb"
    nbformat.write(nb, path)
    out = tmp_path / "chapters.json"
    assert bench_chapters.main(["--notebooks", str(path), "--out", str(out),
                                "--threads", "1"]) == 0
    (rec,) = json.loads(out.read_text())
    assert rec["benchmark"] == "chapter_seconds" and rec["chapter"] == "99_tiny"
    for key in run_all.REQUIRED:
        assert key in rec, key
    assert rec["seconds"] > 0 and rec["cells"] == 2 and rec["slowest_cell"] in {
        c.id for c in nb.cells}
    assert rec["iterations_per_s"] == pytest.approx(1 / rec["seconds"], rel=1e-6)
    text = run_all.markdown([{**rec, "source": "bench_chapters"}], None)
    assert "## chapter_seconds" in text and "| 99_tiny |" in text
    assert "| chapter_seconds |" not in text  # not mixed into the meta-iteration tables


def test_every_chapter_has_a_stored_chapter_seconds_record_within_the_promise():
    """The README promises about a minute per chapter: the stored records (``make bench``) cover
    every notebook of the book and none is over the limit. A new or renamed chapter fails here
    until it is measured."""
    import bench_chapters

    records = json.loads((ROOT / "benchmarks" / "results" / "bench_chapters.json").read_text())
    seconds = {r["chapter"]: r["seconds"] for r in records if r["benchmark"] == "chapter_seconds"}
    chapters = {p.stem for p in (ROOT / "book").glob("*.ipynb")}
    assert set(seconds) == chapters, sorted(set(seconds) ^ chapters)
    slow = {c: s for c, s in seconds.items() if not 0 < s <= bench_chapters.LIMIT_S}
    assert not slow, f"over {bench_chapters.LIMIT_S} s (or not run): {slow}"

"""Conv4 5-way MAML meta-training with 1 and 2 ranks (torchrun, gloo, one CPU thread per rank).

The run is the command line's few-shot MAML model (``course_pkg.experiments.fewshot``:
Conv4, 5-way 1-shot glyph episodes with 5 queries per class, one inner step, α = 0.4, Adam)
with a global meta-batch of 16 tasks, trained by :func:`course_pkg.algorithms.training.meta_train`.
With 1 rank it is a plain process (no torchrun: exactly the single-process code path); with 2
ranks ``python -m torch.distributed.run --standalone --nproc_per_node=2`` starts two processes
that each take 8 of the 16 tasks and average their meta-gradients with one ``all_reduce``.

Each record: ``benchmark``, ``implementation``, ``ranks``, ``threads`` (per rank),
``iterations_per_s`` (global meta-iterations per second: the best of several timed blocks of
meta-iterations, wall clock on rank 0, the launches for 1 and 2 ranks interleaved; wall clock
because the ranks wait for each other), ``speedup_vs_1_rank``, ``peak_mem_mb`` (per rank: the
tensors autograd keeps for one meta-iteration's backward pass on the rank's share of tasks),
``max_abs_grad_diff`` (the all-reduced meta-gradient against one process's on the same first
batch; 0 for 1 rank), ``cpu_seconds_per_iteration`` (process CPU time of rank 0 per
meta-iteration, best block: the compute a rank does, which other processes on the machine do not
inflate) and ``cpu_speedup_vs_1_rank``, ``loadavg_before``/``loadavg_after`` (the machine's
1-minute load average around the launch: the cores are shared), plus the settings.

Usage: ``python benchmarks/bench_distributed.py [--out benchmarks/results/bench_distributed.json]
[--quick] [--threads 1] [--device cpu] [--ranks 1 2] [--repeats 2]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent
SETTINGS = {  # global meta-batch, conv width, queries per class; warm-up and timed blocks
    "full": {"meta_batch": 16, "hidden": 32, "k_query": 5, "warmup": 2, "blocks": 5, "block": 4},
    "quick": {"meta_batch": 4, "hidden": 8, "k_query": 2, "warmup": 1, "blocks": 2, "block": 2},
}


def _loadavg() -> float | None:
    return round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None


# ----------------------------------------------------------------------------- one launch
def worker(settings: dict, threads: int, device: str, out: Path) -> None:
    """Meta-train the benchmark run in this process (one rank); rank 0 writes ``out``."""
    from course_pkg import distributed as dist
    from course_pkg.algorithms import maml, metric
    from course_pkg.algorithms import training as mm
    from course_pkg.algorithms.core import cross_entropy_loss
    from course_pkg.experiments import fewshot
    from course_pkg.utils import saved_tensor_bytes

    torch.set_num_threads(threads)
    dev = dist.setup(device)
    m = settings["meta_batch"]
    iterations = settings["warmup"] + settings["blocks"] * settings["block"]
    cfg = {**fewshot.method_config("maml", 5, "cpu"), "hidden": settings["hidden"],
           "k_query": settings["k_query"], "meta_batch_size": m, "iterations": iterations}
    model = fewshot.build_model(cfg).to(dev)
    sampler = metric.EpisodeSampler(cfg["n_way"])
    config = mm.MetaConfig(iterations=iterations, meta_batch_size=m, k_support=cfg["k_support"],
                           k_query=cfg["k_query"], inner_steps=cfg["inner_steps"],
                           inner_lr=cfg["inner_lr"], meta_lr=cfg["meta_lr"],
                           optimizer=cfg["optimizer"], method="maml", seed=cfg["seed"])

    # the all-reduced meta-gradient on the first batch against one process's
    start = {k: v.detach() for k, v in model.named_parameters()}
    first = sampler.sample(m, config.k_support, config.k_query,
                           generator=torch.Generator().manual_seed(config.seed), device=dev)
    share = dist.shard(first, m)

    def local_grad():
        return maml.meta_gradient(model, start, share, config.inner_steps, config.inner_lr,
                                cross_entropy_loss)

    (loss, grads), saved = saved_tensor_bytes(local_grad)
    loss, grads = dist.average(loss, grads, share.num_tasks, m)
    diff = 0.0
    if dist.active() and dist.is_main():
        _, full = maml.meta_gradient(model, start, first, config.inner_steps, config.inner_lr,
                                   cross_entropy_loss)
        diff = max((grads[k] - full[k]).abs().max().item() for k in full)
    dist.barrier()

    stamps: list[float] = []
    cpu: list[float] = []

    def stamp(it, meta, history):
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)
        stamps.append(time.perf_counter())
        cpu.append(time.process_time())

    load_before = _loadavg()
    mm.meta_train(model, sampler, config, params=start, loss_fn=cross_entropy_loss, device=dev,
                  progress=False, callback=stamp)
    w, b = settings["warmup"], settings["block"]
    ends = [(w - 1 + i * b, w - 1 + (i + 1) * b) for i in range(settings["blocks"])]
    rates = [b / (stamps[j] - stamps[i]) for i, j in ends]
    cpu_per_it = min((cpu[j] - cpu[i]) / b for i, j in ends)
    if dist.is_main():
        out.write_text(json.dumps({
            "iterations_per_s": max(rates), "block_rates": [round(r, 4) for r in rates],
            "cpu_seconds_per_iteration": cpu_per_it,
            "peak_mem_mb": saved / 2**20, "max_abs_grad_diff": diff, "ranks": dist.world_size(),
            "tasks_per_rank": share.num_tasks, "backend": (torch.distributed.get_backend()
                                                          if dist.active() else None),
            "device": str(dev), "loadavg_before": load_before, "loadavg_after": _loadavg()}))
    dist.shutdown()


def launch(ranks: int, settings_name: str, threads: int, device: str) -> dict:
    """Run :func:`worker` as one plain process (``ranks == 1``) or under torchrun."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "rank0.json"
        args = [str(Path(__file__).resolve()), "--worker", str(out), "--settings", settings_name,
                "--threads", str(threads), "--device", device]
        cmd = ([sys.executable, *args] if ranks == 1 else
               [sys.executable, "-m", "torch.distributed.run", "--standalone",
                f"--nproc_per_node={ranks}", *args])
        env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE",
                                                               "LOCAL_RANK")}
        env.update(OMP_NUM_THREADS=str(threads), TQDM_DISABLE="1",
                   PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT.parent),
                                                            env.get("PYTHONPATH")])))
        proc = subprocess.run(cmd, cwd=ROOT.parent, env=env, capture_output=True, text=True,
                              timeout=1800)
        if proc.returncode != 0 or not out.exists():
            raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr}")
        return json.loads(out.read_text())


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default=str(ROOT / "results" / "bench_distributed.json"))
    p.add_argument("--quick", action="store_true", help="tiny settings (smoke test)")
    p.add_argument("--threads", type=int, default=1, help="torch threads per rank")
    p.add_argument("--device", default="cpu")
    p.add_argument("--ranks", type=int, nargs="+", default=[1, 2])
    p.add_argument("--repeats", type=int, default=None, help="launches per rank count "
                                                             "(default 2, quick 1)")
    p.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    p.add_argument("--settings", default="full", choices=list(SETTINGS), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker is not None:
        worker(SETTINGS[args.settings], args.threads, args.device, Path(args.worker))
        return 0
    name = "quick" if args.quick else "full"
    s = SETTINGS[name]
    repeats = args.repeats or (1 if args.quick else 2)
    runs: dict[int, list[dict]] = {r: [] for r in args.ranks}
    for rep in range(repeats):  # interleaved, so that both rank counts share the machine's load
        for r in args.ranks:
            res = launch(r, name, args.threads, args.device)
            print(f"  {r} rank(s), launch {rep + 1}: {res['iterations_per_s']:.3f} meta-it/s "
                  f"(load {res['loadavg_before']} → {res['loadavg_after']})", flush=True)
            runs[r].append(res)
    best = {r: max(v, key=lambda x: x["iterations_per_s"]) for r, v in runs.items()}
    base = best[1]["iterations_per_s"] if 1 in best else None
    records = []
    for r, res in best.items():
        records.append({
            "benchmark": "conv4_5way1shot_maml_ranks",
            "implementation": "one process" if r == 1 else f"torchrun, {r} ranks (gloo)",
            **{k: res[k] for k in ("ranks", "iterations_per_s", "peak_mem_mb",
                                   "max_abs_grad_diff", "tasks_per_rank", "backend", "device",
                                   "block_rates", "cpu_seconds_per_iteration",
                                   "loadavg_before", "loadavg_after")},
            "speedup_vs_1_rank": None if base is None else res["iterations_per_s"] / base,
            "cpu_speedup_vs_1_rank": (None if 1 not in best else
                                      best[1]["cpu_seconds_per_iteration"]
                                      / res["cpu_seconds_per_iteration"]),
            "launch_rates": [round(x["iterations_per_s"], 4) for x in runs[r]],
            "inner_steps": 1, "order": "second", "meta_batch": s["meta_batch"],
            "conv_width": s["hidden"], "queries_per_class": s["k_query"],
            "iterations_per_block": s["block"], "repeats": s["blocks"] * repeats,
            "timer": "perf_counter", "threads": args.threads, "torch": torch.__version__,
            "python": platform.python_version(), "machine": platform.machine(),
            "cpu_count": os.cpu_count(), "quick": args.quick,
        })
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(records, indent=2) + "\n")
    for rec in records:
        print(f"{rec['implementation']}: {rec['iterations_per_s']:.3f} meta-it/s"
              + ("" if rec["speedup_vs_1_rank"] is None
                 else f" ({rec['speedup_vs_1_rank']:.2f}× one rank)"))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Peak memory and time of one meta-step: MAML, FOMAML, Reptile, iMAML vs inner steps k.

    python benchmarks/bench_memory.py           # every configuration → results/bench_memory.json
    python benchmarks/bench_memory.py --quick         # k ∈ {1, 5} only (smoke run)
    python benchmarks/bench_memory.py --worker maml mlp 10   # one configuration, JSON on stdout

Options: ``--out PATH``, ``--threads N`` (default 1), ``--device cpu|cuda``, ``--models``,
``--algos``.

One *meta-step* is the computation of the meta-gradient of one meta-batch (the outer optimizer's
update is negligible). Models and sizes:

- ``mlp``:   the sinusoid network ``MLP(1, (40, 40), 1)``, 25 tasks of 50 support + 50 query
  points, inner learning rate 0.01;
- ``conv4``: the 4-conv network on 28×28 images, 5-way 1-shot, 2 tasks with 5 query images each,
  inner learning rate 0.01.

iMAML uses λ = 10, 5 CG steps and a backtracking inner loop (the sinusoid checkpoint's
settings); Reptile trains on support + query (full batch).

Every configuration runs in a fresh Python process (``--worker``), so nothing allocated by one
configuration (or by the allocator's caches) leaks into another. Inside the worker:

1. warm-up: one meta-step on a tiny problem (1 task, k = 1) loads kernels and lazy caches,
   then one full-size meta-step (on the CPU its RSS growth is ``peak_rss_mb``, see 3.);
2. time: median wall time of ``n`` further meta-steps (``n`` grows until ≥ 2 s are spent, at
   most 20), reported as ``iterations_per_s``; torch uses ``--threads`` CPU threads (default 1,
   so timings are not distorted by other processes competing for cores);
3. memory: on the CPU one meta-step runs under ``torch.profiler`` with ``profile_memory=True``;
   the profiler reports every allocation and free of torch's CPU allocator, whose running sum
   gives the allocator's peak during the step *above what was allocated before it*
   (``peak_mem_mb``). This is exact (no sampling) and independent of how glibc returns memory to
   the OS. As a cross-check ``peak_rss_mb`` is the peak resident set size, sampled every 0.5 ms
   by a thread during another meta-step, minus the RSS just before it (noisier: glibc caches
   small blocks and RSS counts pages, not tensors). On CUDA ``peak_mem_mb`` is
   ``torch.cuda.max_memory_allocated`` after a reset, minus the allocation before the step.
4. correctness: ``max_abs_grad_diff`` compares the meta-gradient with an independent reference
   implementation where one exists — learn2learn's ``MAML`` (``first_order`` False/True) for
   MAML/FOMAML, a textbook ``nn.Module`` + ``torch.optim.SGD`` loop (deep-copied model per task)
   for Reptile — and is ``null`` for iMAML (no reference library exists; its exactness is tested
   in ``tests/test_imaml.py``).

Timings are only measured here (never in tests). The parent writes ``--out`` (default
``benchmarks/results/bench_memory.json``, the layout ``benchmarks/run_all.py`` merges): a JSON
list with one record per (model, algorithm, k) carrying ``benchmark, implementation,
iterations_per_s, peak_mem_mb, max_abs_grad_diff, inner_steps`` plus ``model, meta_batch,
peak_rss_mb, seconds_per_step, params, device, threads, torch, quick, memory_method,
reference, reference_max_abs_grad`` (the largest entry of the reference gradient, to read
``max_abs_grad_diff`` against).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ALGORITHMS = ("maml", "fomaml", "reptile", "imaml")
MODELS = ("mlp", "conv4")
INNER_STEPS = (1, 5, 10, 25, 50)
RESULTS = Path(__file__).resolve().parent / "results" / "bench_memory.json"
MB = 2.0**20
MEMORY_METHOD = (
    "peak of torch's allocator during one meta-step above its level before the step; CPU: "
    "running sum of torch.profiler(profile_memory=True) allocation events; CUDA: "
    "max_memory_allocated after a reset. Fresh process per configuration."
)
REFERENCES = {"maml": "learn2learn MAML (second order)", "fomaml": "learn2learn MAML(first_order)",
              "reptile": "nn.Module + torch.optim.SGD loop", "imaml": None}

SIZES = {
    "mlp": {"tasks": 25, "k_support": 50, "k_query": 50, "inner_lr": 0.01},
    "conv4": {"tasks": 2, "ways": 5, "shots": 1, "query_per_class": 1, "inner_lr": 0.01},
}
# the sinusoid checkpoint's settings
IMAML = {"imaml_lambda": 10.0, "cg_steps": 5, "backtrack": True}


# --------------------------------------------------------------------------- worker side


def _setup(model_name: str, device):
    import torch

    from course_pkg.algorithms.core import cross_entropy_loss, mse_loss
    from course_pkg.models import MLP, Conv4
    from course_pkg.models import params as model_params
    from course_pkg.tasks import SinusoidTasks, TaskBatch

    torch.manual_seed(0)
    if model_name == "mlp":
        s = SIZES["mlp"]
        model = MLP(1, (40, 40), 1).to(device)
        batch = SinusoidTasks().sample(s["tasks"], s["k_support"], s["k_query"], generator=0,
                                       device=device)
        loss_fn = mse_loss
    elif model_name == "conv4":
        s = SIZES["conv4"]
        model = Conv4(1, s["ways"], 64, 28).to(device)
        g = torch.Generator().manual_seed(0)
        T, n, nq = s["tasks"], s["ways"] * s["shots"], s["ways"] * s["query_per_class"]
        xs = torch.randn(T, n, 1, 28, 28, generator=g)
        xq = torch.randn(T, nq, 1, 28, 28, generator=g)
        ys = torch.arange(s["ways"]).repeat(s["shots"]).expand(T, n).clone()
        yq = torch.arange(s["ways"]).repeat(s["query_per_class"]).expand(T, nq).clone()
        batch = TaskBatch(xs, ys, xq, yq).to(device)
        loss_fn = cross_entropy_loss
    else:
        raise ValueError(f"unknown model {model_name!r}; choose from {MODELS}")
    return model, model_params(model, detach=True), batch, loss_fn, s["inner_lr"]


def _step_fn(algo: str, model, params, batch, loss_fn, k: int, lr: float):
    from course_pkg.algorithms import imaml, maml, reptile

    if algo == "maml":
        return lambda: maml.meta_gradient(model, params, batch, k, lr, loss_fn)[1]
    if algo == "fomaml":
        return lambda: maml.meta_gradient(model, params, batch, k, lr, loss_fn,
                                          first_order=True)[1]
    if algo == "reptile":
        return lambda: reptile.reptile_meta_gradient(model, params, batch, k, lr,
                                                     loss_fn=loss_fn)[1]
    if algo == "imaml":
        return lambda: imaml.imaml_meta_gradient(model, params, batch, IMAML["imaml_lambda"], k, lr,
                                                 IMAML["cg_steps"], loss_fn=loss_fn,
                                                 backtrack=IMAML["backtrack"])[1]
    raise ValueError(f"unknown algorithm {algo!r}; choose from {ALGORITHMS}")


def _rss_peak(step) -> float:
    """Peak RSS (sampled every 0.5 ms) during ``step()`` minus the RSS just before it, bytes.

    Call it on the process's first meta-step: later steps reuse memory glibc already holds.
    """
    import psutil

    proc = psutil.Process()
    base = proc.memory_info().rss
    peak = [base]
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], proc.memory_info().rss)
            time.sleep(0.0005)

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    out = step()
    done.set()
    th.join()
    del out
    return max(peak[0] - base, 0)


def _reference(algo: str, model, params, batch, loss_fn, k: int, lr: float):
    """Independent implementation of the same meta-gradient, or None."""
    import torch

    if algo in ("maml", "fomaml"):
        from course_pkg.utils import import_learn2learn

        l2l = import_learn2learn()
        net = copy.deepcopy(model)
        net.load_state_dict({**net.state_dict(), **params}, strict=False)
        wrapped = l2l.algorithms.MAML(net, lr=lr, first_order=(algo == "fomaml"))
        net.zero_grad()
        T = batch.num_tasks
        for i in range(T):
            learner = wrapped.clone()
            for _ in range(k):
                learner.adapt(loss_fn(learner(batch.x_support[i]), batch.y_support[i]))
            (loss_fn(learner(batch.x_query[i]), batch.y_query[i]) / T).backward()
        return {n: p.grad.detach().clone() for n, p in net.named_parameters()}
    if algo == "reptile":
        x = torch.cat([batch.x_support, batch.x_query], 1)
        y = torch.cat([batch.y_support, batch.y_query], 1)
        total = {n: torch.zeros_like(v) for n, v in params.items()}
        for i in range(batch.num_tasks):
            net = copy.deepcopy(model)
            net.load_state_dict({**net.state_dict(), **params}, strict=False)
            opt = torch.optim.SGD(net.parameters(), lr=lr)
            for _ in range(k):
                opt.zero_grad()
                loss_fn(net(x[i]), y[i]).backward()
                opt.step()
            for n, p in net.named_parameters():
                total[n] += (params[n] - p.detach()) / batch.num_tasks
        return total
    return None


def worker(algo: str, model_name: str, k: int, threads: int) -> dict:
    import torch

    from course_pkg.utils import get_device

    torch.set_num_threads(threads)
    device = get_device()
    model, params, batch, loss_fn, lr = _setup(model_name, device)
    step = _step_fn(algo, model, params, batch, loss_fn, k, lr)

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize()

    # warm up every code path on a tiny problem (1 task, k = 1), so that the first full-size
    # step's RSS growth (the cross-check) holds little one-time initialisation; later steps
    # reuse pages glibc already holds, so RSS is measured on that first full-size step
    _step_fn(algo, model, params, batch.task(0), loss_fn, 1, lr)()
    if device.type == "cpu":
        rss = _rss_peak(step) / MB
    else:
        step()
        rss = None
    sync()
    times: list[float] = []
    spent = 0.0
    grads = None
    while (spent < 2.0 or len(times) < 2) and len(times) < 20:
        t0 = time.perf_counter()
        grads = step()
        sync()
        dt = time.perf_counter() - t0
        times.append(dt)
        spent += dt
    sec = statistics.median(times)

    if device.type == "cuda":
        del grads
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
        grads = step()
        sync()
        peak = torch.cuda.max_memory_allocated() - before
    else:
        from course_pkg.utils import cpu_allocator_peak

        peak = cpu_allocator_peak(step)

    ref = _reference(algo, model, params, batch, loss_fn, k, lr)
    diff = ref_size = None
    if ref is not None:
        diff = max(float((grads[n] - ref[n]).abs().max()) for n in grads)
        ref_size = max(float(ref[n].abs().max()) for n in grads)
    return {
        "benchmark": f"meta-step memory, {model_name}",
        "implementation": algo,
        "inner_steps": k,
        "iterations_per_s": 1.0 / sec,
        "seconds_per_step": sec,
        "peak_mem_mb": peak / MB,
        "peak_rss_mb": rss,
        "max_abs_grad_diff": diff,
        "reference_max_abs_grad": ref_size,
        "reference": REFERENCES[algo],
        "model": model_name,
        "meta_batch": batch.num_tasks,
        "params": sum(v.numel() for v in params.values()),
        "device": str(device),
        "threads": threads,
        "torch": torch.__version__,
        "timed_steps": len(times),
        "memory_method": MEMORY_METHOD,
    }


# --------------------------------------------------------------------------- parent side


def run_all(ks, models, algos, threads: int, out: Path, device: str | None = None,
            quick: bool = False) -> list[dict]:
    records = []
    env = dict(os.environ, TQDM_DISABLE="1", PYTHONWARNINGS="ignore")
    if device is not None:
        env["COURSE_DEVICE"] = device
    for model_name in models:
        for algo in algos:
            for k in ks:
                cmd = [sys.executable, __file__, "--worker", algo, model_name, str(k),
                       "--threads", str(threads)]
                t0 = time.time()
                res = subprocess.run(cmd, capture_output=True, text=True, env=env)
                if res.returncode != 0:
                    raise RuntimeError(f"worker {algo}/{model_name}/k={k} failed:\n{res.stderr}")
                rec = json.loads(res.stdout.strip().splitlines()[-1])
                rec["quick"] = quick
                records.append(rec)
                print(f"{model_name:6s} {algo:8s} k={k:3d}  {rec['seconds_per_step'] * 1e3:9.1f} "
                      f"ms/step  peak {rec['peak_mem_mb']:9.2f} MB  (rss {rec['peak_rss_mb']}) "
                      f" diff {rec['max_abs_grad_diff']}  [{time.time() - t0:.0f} s]",
                      flush=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(records, indent=2) + "\n")
    return records


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--worker", nargs=3, metavar=("ALGO", "MODEL", "K"))
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default=None, help="cpu, cuda, … (default: get_device())")
    ap.add_argument("--quick", action="store_true", help="k ∈ {1, 5} only")
    ap.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    ap.add_argument("--algos", nargs="+", default=list(ALGORITHMS), choices=ALGORITHMS)
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    if args.worker:
        algo, model_name, k = args.worker
        if args.device is not None:
            os.environ["COURSE_DEVICE"] = args.device
        print(json.dumps(worker(algo, model_name, int(k), args.threads)))
        return
    ks = (1, 5) if args.quick else INNER_STEPS
    run_all(ks, args.models, args.algos, args.threads, args.out, args.device, args.quick)


if __name__ == "__main__":
    main()

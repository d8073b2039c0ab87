"""MAML / FOMAML meta-training throughput: course_pkg against learn2learn.

Both implementations start from the same parameters, see the same pre-sampled task batches and
use the same loss, inner step size and Adam outer optimizer. course_pkg runs its real training
loop (:func:`course_pkg.algorithms.training.meta_train`, all tasks at once with ``vmap``);
learn2learn runs the loop of its documentation (``MAML.clone()``, ``adapt``, ``backward`` per
task). Cases:

- ``sinusoid``: MLP 1-40-40-1, meta-batch 25, K = Q = 10, α = 0.01; MAML and FOMAML; 1 and 5
  inner steps;
- ``conv4_5way1shot``: the 4-block conv net (64 channels, BatchNorm with batch statistics),
  5-way 1-shot episodes of random 28×28 images with one query per class, meta-batch 32,
  α = 0.4, one inner step (Finn et al.'s Omniglot setting); MAML and FOMAML.

The conv4 cases add a third implementation, ``per-task loop``: the same arithmetic as a plain
Python loop over tasks (``functional_call`` on a parameter dict, ``torch.autograd.grad`` with
``create_graph`` for the inner step, one ``backward`` per task), with none of learn2learn's module
cloning. It is the floor of any per-task implementation and separates the cost of the kernels
from the cost of the per-task machinery that batching removes.

Each record: ``benchmark``, ``implementation``, ``inner_steps``, ``order``, ``iterations_per_s``
(best of many short timed blocks, the two implementations interleaved so that they share the
machine's load; with one CPU thread the blocks are timed in process CPU time, which other
processes competing for the cores do not inflate — ``timer`` says which clock was used),
``peak_mem_mb`` (peak size of the tensors autograd keeps for the backward pass during one
meta-iteration, measured with saved-tensor hooks — or ``torch.cuda.max_memory_allocated`` on a
GPU), ``max_abs_grad_diff`` (largest difference between the two implementations'
meta-gradients on the first batch), ``speedup_vs_learn2learn``, plus the settings.

Usage: ``python benchmarks/bench_maml.py [--out benchmarks/results/bench_maml.json]
[--quick] [--threads N] [--device cpu]``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
from pathlib import Path

import torch
from torch.func import functional_call

from course_pkg.algorithms.core import cross_entropy_loss, mse_loss
from course_pkg.algorithms.maml import meta_gradient
from course_pkg.algorithms.training import MetaConfig, meta_train
from course_pkg.models import MLP, Conv4, params
from course_pkg.tasks import SinusoidTasks, TaskBatch
from course_pkg.utils import get_device, import_learn2learn, saved_tensor_bytes

ROOT = Path(__file__).resolve().parent


def sinusoid_batches(n: int, device: torch.device) -> list[TaskBatch]:
    g = torch.Generator().manual_seed(0)
    return [SinusoidTasks().sample(25, 10, 10, generator=g, device=device) for _ in range(n)]


def image_batches(n: int, device: torch.device, tasks: int = 32, ways: int = 5) -> list[TaskBatch]:
    """5-way 1-shot episodes of random 28×28 images, one query image per class."""
    g = torch.Generator().manual_seed(0)
    out = []
    for _ in range(n):
        labels = torch.stack([torch.randperm(ways, generator=g) for _ in range(tasks)])
        xs = torch.rand(tasks, ways, 1, 28, 28, generator=g)
        xq = torch.rand(tasks, ways, 1, 28, 28, generator=g)
        out.append(TaskBatch(xs, labels, xq, labels.clone()).to(device))
    return out


class Replay:
    """A task sampler that hands out pre-sampled batches in order (cycling)."""

    def __init__(self, batches: list[TaskBatch]) -> None:
        self.batches, self.i = batches, 0

    def sample(self, num_tasks, k_support, k_query, generator=None, device=None) -> TaskBatch:
        b = self.batches[self.i % len(self.batches)]
        self.i += 1
        return b


def l2l_step(maml, opt, batch: TaskBatch, steps: int, loss_fn, first_order: bool) -> float:
    """One learn2learn meta-iteration: per task clone, adapt ``steps`` times, backward."""
    opt.zero_grad()
    total = 0.0
    T = batch.num_tasks
    for i in range(T):
        learner = maml.clone()
        for _ in range(steps):
            learner.adapt(loss_fn(learner(batch.x_support[i]), batch.y_support[i]),
                          first_order=first_order)
        loss = loss_fn(learner(batch.x_query[i]), batch.y_query[i]) / T
        loss.backward()
        total += loss.item()
    opt.step()
    return total


def loop_step(model, theta: dict, opt, batch: TaskBatch, steps: int, lr: float, loss_fn,
              first_order: bool) -> float:
    """One meta-iteration as a plain per-task loop on a parameter dict (no module cloning)."""
    opt.zero_grad()
    total, T = 0.0, batch.num_tasks
    names = list(theta)
    for i in range(T):
        phi = dict(theta)
        for _ in range(steps):
            inner = loss_fn(functional_call(model, phi, (batch.x_support[i],)), batch.y_support[i])
            g = torch.autograd.grad(inner, [phi[n] for n in names], create_graph=not first_order)
            phi = {n: phi[n] - lr * gn for n, gn in zip(names, g)}
        loss = loss_fn(functional_call(model, phi, (batch.x_query[i],)), batch.y_query[i]) / T
        loss.backward()
        total += loss.item()
    opt.step()
    return total


def peak_mb(fn, device: torch.device) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        fn()
        torch.cuda.synchronize()
        return (torch.cuda.max_memory_allocated() - base) / 2**20
    return saved_tensor_bytes(fn)[1] / 2**20


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def clock(device: torch.device):
    """Process CPU time when torch uses one CPU thread, wall time otherwise."""
    if device.type == "cpu" and torch.get_num_threads() == 1:
        return time.process_time, "process_time"
    return time.perf_counter, "perf_counter"


def run_case(name: str, make_model, batches, steps: int, lr: float, loss_fn, first_order: bool,
             iters: tuple[int, int], repeats: int, device: torch.device,
             with_loop: bool = False) -> list[dict]:
    """``iters``: meta-iterations per timed block for (course_pkg, learn2learn); the per-task
    loop (``with_loop``) uses learn2learn's block size."""
    l2l = import_learn2learn()
    torch.manual_seed(0)
    model = make_model().to(device)
    start = params(model, detach=True)

    # meta-gradients on the first batch, from the same parameters
    _, ours = meta_gradient(model, start, batches[0], steps, lr, loss_fn, first_order=first_order)
    ref_model = make_model().to(device)
    ref_model.load_state_dict(start)
    maml = l2l.algorithms.MAML(ref_model, lr=lr, first_order=first_order)
    opt = torch.optim.Adam(maml.parameters(), lr=1e-3)
    opt.zero_grad()
    for i in range(batches[0].num_tasks):
        learner = maml.clone()
        for _ in range(steps):
            learner.adapt(loss_fn(learner(batches[0].x_support[i]), batches[0].y_support[i]))
        (loss_fn(learner(batches[0].x_query[i]), batches[0].y_query[i])
         / batches[0].num_tasks).backward()
    grad_diff = max((ours[n] - p.grad).abs().max().item() for n, p in ref_model.named_parameters())

    # memory of one meta-iteration's backward graph
    mem_ours = peak_mb(lambda: meta_gradient(model, start, batches[0], steps, lr, loss_fn,
                                             first_order=first_order), device)
    mem_l2l = peak_mb(lambda: l2l_step(maml, opt, batches[0], steps, loss_fn, first_order), device)

    # throughput: course_pkg's meta_train on replayed batches vs learn2learn's loop
    iters_ours, iters_l2l = iters
    now, timer = clock(device)
    config = MetaConfig(iterations=iters_ours, meta_batch_size=batches[0].num_tasks,
                        inner_steps=steps,
                        inner_lr=lr, meta_lr=1e-3, method="fomaml" if first_order else "maml")
    replay = Replay(batches)

    def time_ours() -> float:
        t = now()
        meta_train(model, replay, config, params=start, loss_fn=loss_fn, device=device,
                   progress=False)
        sync(device)
        return (now() - t) / iters_ours

    def time_l2l() -> float:
        t = now()
        for it in range(iters_l2l):
            l2l_step(maml, opt, batches[it % len(batches)], steps, loss_fn, first_order)
        sync(device)
        return (now() - t) / iters_l2l

    timers = {"course_pkg": time_ours, "learn2learn": time_l2l}
    if with_loop:
        loop_model = make_model().to(device)
        theta = dict(loop_model.named_parameters())
        # its meta-gradient from the start parameters (SGD with lr 0 leaves them and keeps .grad)
        loop_model.load_state_dict(start)
        loop_step(loop_model, theta, torch.optim.SGD(theta.values(), lr=0.0), batches[0], steps,
                  lr, loss_fn, first_order)
        loop_diff = max((ours[n] - p.grad).abs().max().item() for n, p in theta.items())
        loop_opt = torch.optim.Adam(theta.values(), lr=1e-3)
        mem_loop = peak_mb(lambda: loop_step(loop_model, theta, loop_opt, batches[0], steps, lr,
                                             loss_fn, first_order), device)

        def time_loop() -> float:
            t = now()
            for it in range(iters_l2l):
                loop_step(loop_model, theta, loop_opt, batches[it % len(batches)], steps, lr,
                          loss_fn, first_order)
            sync(device)
            return (now() - t) / iters_l2l

        timers["per-task loop"] = time_loop
    for fn in timers.values():  # warm-up
        fn()
    best = {k: math.inf for k in timers}
    for _ in range(repeats):  # interleaved, best of `repeats` blocks (seconds per iteration)
        for k, fn in timers.items():
            best[k] = min(best[k], fn())
    ips_ours, ips_l2l = 1 / best["course_pkg"], 1 / best["learn2learn"]
    common = {
        "benchmark": name, "inner_steps": steps, "order": "first" if first_order else "second",
        "meta_batch": batches[0].num_tasks, "inner_lr": lr, "repeats": repeats, "timer": timer,
        "max_abs_grad_diff": grad_diff, "device": str(device),
        "threads": torch.get_num_threads(), "torch": torch.__version__,
    }
    loop_records = []
    if with_loop:
        ips_loop = 1 / best["per-task loop"]
        loop_records = [{**common, "implementation": "per-task loop", "iterations_per_s": ips_loop,
                         "peak_mem_mb": mem_loop, "max_abs_grad_diff": loop_diff,
                         "speedup_vs_learn2learn": ips_loop / ips_l2l,
                         "iterations_per_block": iters_l2l}]
    return [
        {**common, "implementation": "course_pkg", "iterations_per_s": ips_ours,
         "peak_mem_mb": mem_ours, "speedup_vs_learn2learn": ips_ours / ips_l2l,
         "iterations_per_block": iters_ours},
        {**common, "implementation": "learn2learn", "iterations_per_s": ips_l2l,
         "peak_mem_mb": mem_l2l, "speedup_vs_learn2learn": 1.0,
         "iterations_per_block": iters_l2l},
        *loop_records,
    ]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default=str(ROOT / "results" / "bench_maml.json"))
    p.add_argument("--quick", action="store_true", help="few iterations (a smoke test)")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--device", default=None)
    p.add_argument("--only", default=None, help="run only benchmarks whose name contains this")
    args = p.parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    device = get_device(args.device)
    quick = args.quick
    sin = sinusoid_batches(20, device)
    img = image_batches(4, device)
    cases = []
    for first_order in (False, True):
        for steps in (1, 5):
            # blocks of about 0.1–0.3 s for each implementation
            per_block = (10, 2) if quick else ((60, 8) if steps == 1 else (20, 3))
            cases.append((f"sinusoid_{'fomaml' if first_order else 'maml'}",
                          lambda: MLP(1, (40, 40), 1), sin, steps, 0.01, mse_loss, first_order,
                          per_block, 2 if quick else 15, False))
    for first_order in (False, True):
        cases.append((f"conv4_5way1shot_{'fomaml' if first_order else 'maml'}",
                      lambda: Conv4(1, 5), img, 1, 0.4, cross_entropy_loss, first_order,
                      (1, 1), 2 if quick else 8, True))
    records = []
    for case in cases:
        if args.only and args.only not in case[0]:
            continue
        t = time.time()
        recs = run_case(*case[:9], device=device, with_loop=case[9])
        records += recs
        print(f"{case[0]:28s} k={case[3]}  course_pkg {recs[0]['iterations_per_s']:8.2f} it/s  "
              f"learn2learn {recs[1]['iterations_per_s']:8.2f} it/s  "
              f"speed-up {recs[0]['speedup_vs_learn2learn']:5.2f}×  "
              f"max|Δgrad| {recs[0]['max_abs_grad_diff']:.1e}  ({time.time() - t:.0f} s)",
              flush=True)
        for r in recs[2:]:
            print(f"{'':28s}      {r['implementation']} {r['iterations_per_s']:8.2f} it/s  "
                  f"speed-up {r['speedup_vs_learn2learn']:5.2f}×", flush=True)
    meta = {"python": platform.python_version(), "machine": platform.machine(),
            "cpu_count": os.cpu_count(), "quick": quick}
    for r in records:
        r.update(meta)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(records, indent=2) + "\n")
    print("wrote", out)
    return 0


if __name__ == "__main__":
    sys.exit(main())

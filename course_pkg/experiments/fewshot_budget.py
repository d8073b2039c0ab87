"""The few-shot comparison's equal-budget protocol: configs, one training function, a run queue.

Every learned model trains for the same CPU budget (:mod:`course_pkg.experiments.budget`) on the
glyph training alphabets, validating on 500 fixed episodes of the validation alphabets. The
runs write resumable snapshots under :func:`~course_pkg.experiments.budget.runs_dir` and their
finished checkpoints (``<name>.pt`` + ``<name>.json``, config and metrics) into ``--out``::

    python -m course_pkg.experiments.fewshot_budget list
    python -m course_pkg.experiments.fewshot_budget train protonet_5way --out DIR
    python -m course_pkg.experiments.fewshot_budget queue NAME [NAME …] --jobs 2 --out DIR
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from course_pkg.algorithms import finetune as ft
from course_pkg.algorithms import training as mm
from course_pkg.algorithms.core import cross_entropy_loss
from course_pkg.checkpoints import load_checkpoint, save_checkpoint
from course_pkg.experiments import fewshot as fs
from course_pkg.experiments.budget import BudgetRun, load_snapshot, runs_dir
from course_pkg.experiments.validation import validation_episodes
from course_pkg.models import Conv4
from course_pkg.models import params as model_params
from course_pkg.tasks import TaskBatch

#: The budget of every learned model at each scale: CPU seconds of one thread, evaluations.
BUDGET = {"cpu": {"cpu_seconds": 1200.0, "evaluations": 16, "episodes": 500},
          "paper": {"cpu_seconds": 14400.0, "evaluations": 24, "episodes": 600}}


def budget_config(n_way: int, scale: str = "cpu", fraction: float = 1.0) -> dict[str, Any]:
    """The ``budget`` entry of a model's config (``fraction`` of the budget for a sweep)."""
    b = BUDGET[scale]
    return {"cpu_seconds": b["cpu_seconds"] * fraction, "evaluations": b["evaluations"],
            "validation": {"split": "val", "n_way": n_way, "k_support": 1, "k_query": 5,
                           "episodes": b["episodes"], "seed": 1}}


def run_config(method: str, n_way: int, scale: str = "cpu", fraction: float = 1.0,
               **overrides: Any) -> dict[str, Any]:
    """A model's config under the budget protocol: the method's settings
    (:func:`course_pkg.experiments.fewshot.method_config` without its iteration cap and
    early stopping), ``overrides`` and the ``budget``."""
    cfg = fs.method_config(method, n_way, scale)
    for k in ("iterations", "validation", "epochs"):
        cfg.pop(k, None)
    if method.startswith("blackbox_"):  # chapter 4's sequence cores: 5-way models
        cfg["n_way"] = n_way
    cfg.update(overrides)
    cfg["budget"] = budget_config(n_way, scale, fraction)
    return json.loads(json.dumps(cfg, sort_keys=True))


#: Models of the first phase: (checkpoint name, method, N).
MODELS = {f"{m}_{n}way": (m, n) for m, n in [
    ("protonet", 5), ("maml", 5), ("matching", 5), ("relation", 5), ("siamese", 5),
    ("pretrained", 5), ("blackbox", 5), ("blackbox", 20)]}


class ClassBatches:
    """Supervised mini-batches over every training class, as one-task ``TaskBatch`` es (half
    the images as support, half as query; the pre-training loss pools both)."""

    def __init__(self, data) -> None:
        self.x = data.tensor("cpu")
        self.y = torch.from_numpy(data.labels).long()

    def sample(self, num_tasks: int, k_support: int, k_query: int, generator=None,
               device=None) -> TaskBatch:
        idx = torch.randint(0, len(self.x), (num_tasks, k_support + k_query), generator=generator)
        x, y = self.x[idx], self.y[idx]
        return TaskBatch(x[:, :k_support], y[:, :k_support], x[:, k_support:],
                         y[:, k_support:]).to(device or "cpu")


def _pretrained_parts(cfg: Mapping[str, Any], dev):
    from course_pkg.data import glyph_splits

    data = glyph_splits(seed=cfg["data_seed"])[cfg["split"]]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg["seed"])
        model = Conv4(1, data.num_classes, cfg["hidden"]).to(dev)
    half = cfg["batch_size"] // 2
    mcfg = mm.MetaConfig(iterations=10**9, meta_batch_size=1, k_support=half,
                         k_query=cfg["batch_size"] - half, meta_lr=cfg["lr"],
                         algorithm="pretrained", seed=cfg["seed"])
    grad_fn = mm.make_meta_grad_fn(model, mcfg, cross_entropy_loss)

    def acc(p, b):
        return ft.finetune_accuracy(model, p, b, fs.transfer.MEAN_HEAD)

    return model, ClassBatches(data), mcfg, grad_fn, acc


def _episodic_parts(cfg: Mapping[str, Any], dev):
    from course_pkg.algorithms import blackbox as bb
    from course_pkg.algorithms import metric
    from course_pkg.algorithms.reptile import reptile_meta_gradient

    method = cfg["method"]
    model = fs.build_model(cfg).to(dev)
    mcfg = fs._meta_config({**cfg, "iterations": 10**9}, method)
    sampler = (bb.ShuffledEpisodes(cfg["n_way"]) if method.startswith("blackbox")
               else metric.EpisodeSampler(cfg["n_way"]))
    if method in fs.METRIC_METHODS or method.startswith("blackbox"):
        def grad_fn(p, b):
            return metric.episodic_gradient(model, p, b)
    elif method == "reptile":
        opts = cfg["options"]

        def grad_fn(p, b):
            return reptile_meta_gradient(model, p, b, cfg["inner_steps"], cfg["inner_lr"], None,
                                         opts["data"], cross_entropy_loss, opts["batched"])
    else:
        grad_fn = mm.make_meta_grad_fn(model, mcfg, cross_entropy_loss)
    return model, sampler, mcfg, grad_fn, fs._accuracy_fn(cfg, model)


def train_budgeted(cfg: Mapping[str, Any], name: str, schedule: list[int] | None = None,
                   device: str | torch.device | None = None, progress: bool = False,
                   snapshot: bool = True) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Train the model of ``cfg`` to its budget (or replay ``schedule``); ``(state, metrics)``.

    Resumes from the run's snapshot when one exists for the same config (and mode)."""
    dev = torch.device(device or "cpu")
    parts = (_pretrained_parts if cfg["method"] == "pretrained" else _episodic_parts)(cfg, dev)
    model, sampler, mcfg, grad_fn, acc_fn = parts
    val = validation_episodes(cfg["budget"]["validation"], dev)
    extra = {"name": name, "config": cfg, "schedule": schedule}
    snap_path = runs_dir() / f"{name}.snapshot.pt" if snapshot else None
    run = BudgetRun(cfg["budget"], lambda p: acc_fn(p, val), schedule, snap_path, extra,
                    progress)
    found = load_snapshot(snap_path, extra) if snap_path is not None else None
    init = model_params(model, detach=True)
    if found is None:
        run.start(init)
        resume = None
    else:
        run.load_state_dict(found["run"])
        resume = found["trainer"]
        if progress:
            print(f"  [{name}] resumed at iteration {resume['iteration']} "
                  f"({run.cpu_used:.0f} CPU-s)", flush=True)
    t0 = time.perf_counter()
    _, hist = mm.meta_train(model, sampler, mcfg, meta_grad_fn=grad_fn, params=init,
                            device=dev, progress=False, callback=run, resume=resume)
    losses = hist["loss"]
    window = max(1, len(losses) // 40)
    metrics = {**run.summary(), "episodes": run.curve[-1][0] * mcfg.meta_batch_size,
               "wall_seconds_last_session": round(time.perf_counter() - t0, 1),
               "threads": torch.get_num_threads(),
               "train_loss_window": window,
               "train_loss_curve": [round(sum(losses[i:i + window]) / len(losses[i:i + window]),
                                          4) for i in range(0, len(losses), window)]}
    if cfg["method"] == "pretrained":
        metrics["episodes"] = 0
        metrics["images"] = run.curve[-1][0] * cfg["batch_size"]
    return run.best_params, metrics


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m course_pkg.experiments.fewshot_budget")
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("list")
    t = sub.add_parser("train")
    t.add_argument("name")
    t.add_argument("--out", required=True)
    t.add_argument("--replay", action="store_true",
                   help="rerun the stored iteration schedule of the checkpoint in --out")
    q = sub.add_parser("queue")
    q.add_argument("names", nargs="+")
    q.add_argument("--out", required=True)
    q.add_argument("--jobs", type=int, default=2)
    a = ap.parse_args(argv)
    if a.cmd == "list":
        for n, (m, w) in MODELS.items():
            print(n, json.dumps(run_config(m, w)))
        return 0
    if a.cmd == "train":
        torch.set_num_threads(1)
        method, n_way = MODELS[a.name]
        cfg = run_config(method, n_way)
        schedule = None
        if a.replay:
            found = load_checkpoint(a.name, cfg, a.out)
            if found is None:
                raise SystemExit(f"no checkpoint {a.name} with this config in {a.out}")
            schedule = found[1]["metrics"]["schedule"]
        state, metrics = train_budgeted(cfg, a.name, schedule, progress=True)
        save_checkpoint(a.name, state, cfg, metrics, a.out)
        print(f"{a.name}: {metrics['status']}, best {metrics['best_validation_accuracy']:.4f} "
              f"after {metrics['iterations']} iterations, {metrics['train_seconds']} CPU-s",
              flush=True)
        return 0
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    pending, running = list(a.names), []
    while pending or running:
        while pending and len(running) < a.jobs:
            n = pending.pop(0)
            if load_checkpoint(n, None, a.out) is not None:
                continue
            log = open(Path(a.out) / f"{n}.log", "a")
            running.append(subprocess.Popen(
                [sys.executable, "-m", "course_pkg.experiments.fewshot_budget", "train", n,
                 "--out", a.out], stdout=log, stderr=subprocess.STDOUT, env=env))
        time.sleep(5)
        running = [p for p in running if p.poll() is None]
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

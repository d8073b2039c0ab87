"""Worker of tests/test_distributed.py: short MAML runs, with or without torchrun.

    python -m torch.distributed.run --nproc_per_node=2 --standalone tests/dist_worker.py \\
        --out DIR --cases sinusoid:4 conv4:3 [--iterations 20] [--fail-rank 1 --fail-at 2]

Each case ``<run>:<meta_batch_size>`` builds its run from the same builders as the command
line (``course_pkg.experiments.sinusoid.sinusoid_config``/``sinusoid_model``/``SinusoidTasks``;
``course_pkg.experiments.fewshot.method_config``/``build_model`` and the glyph
``EpisodeSampler`` for ``conv4``), meta-trains it with ``meta_train`` and saves the
meta-parameters with ``course_pkg.checkpoints.save_checkpoint`` as ``DIR/<run>_mb<M>.pt``
(rank 0 writes). Every ``torch.save`` call is counted per rank in ``DIR/saves_rank<R>.txt``.
``--fail-rank R --fail-at I`` raises ``RuntimeError`` on rank R at iteration I (the other ranks
must not hang).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import torch

from course_pkg import checkpoints
from course_pkg import distributed as dist
from course_pkg.algorithms import metric
from course_pkg.algorithms import training as mm
from course_pkg.algorithms.core import cross_entropy_loss, mse_loss
from course_pkg.experiments import fewshot
from course_pkg.experiments.sinusoid import sinusoid_config, sinusoid_model
from course_pkg.tasks import SinusoidTasks
from course_pkg.utils import seed_everything

#: Tiny Conv4 settings so that the test stays short on a loaded 2-core machine.
CONV4_OVERRIDES = {"hidden": 8, "k_query": 2}


def build(run: str, meta_batch_size: int, iterations: int):
    """``(model, task_sampler, MetaConfig, loss_fn)`` of a ``sinusoid`` or ``conv4`` run."""
    if run == "sinusoid":
        config = sinusoid_config("maml", 10, "cpu", iterations=iterations,
                                 meta_batch_size=meta_batch_size)
        seed_everything(config.seed)
        return sinusoid_model(), SinusoidTasks(), config, mse_loss
    if run == "conv4":
        cfg = {**fewshot.method_config("maml", 5, "cpu"), **CONV4_OVERRIDES,
               "iterations": iterations, "meta_batch_size": meta_batch_size}
        config = mm.MetaConfig(iterations=iterations, meta_batch_size=meta_batch_size,
                               k_support=cfg["k_support"], k_query=cfg["k_query"],
                               inner_steps=cfg["inner_steps"], inner_lr=cfg["inner_lr"],
                               meta_lr=cfg["meta_lr"], optimizer=cfg["optimizer"],
                               method=cfg["method"], seed=cfg["seed"])
        return (fewshot.build_model(cfg), metric.EpisodeSampler(cfg["n_way"]), config,
                cross_entropy_loss)
    raise ValueError(f"unknown run {run!r}; use sinusoid or conv4")


def train(run: str, meta_batch_size: int, iterations: int = 20, callback=None,
          task_chunk_size: int | None = None
          ) -> tuple[dict[str, torch.Tensor], mm.MetaConfig, dict[str, list]]:
    """Meta-train one case on the CPU; returns ``(meta_params, config, history)``.

    ``task_chunk_size`` sums the meta-gradient over chunks of that many tasks (one process).
    """
    model, sampler, config, loss_fn = build(run, meta_batch_size, iterations)
    if task_chunk_size is not None:
        config.options["task_chunk_size"] = task_chunk_size
    params, history = mm.meta_train(model, sampler, config, loss_fn=loss_fn, device="cpu",
                                    progress=False, callback=callback)
    return params, config, history


def _count_saves(out: Path) -> None:
    """Wrap ``torch.save``: one line per call (its path) in ``out/saves_rank<R>.txt``."""
    real = torch.save
    log = out / f"saves_rank{dist.rank()}.txt"
    log.write_text("")

    def save(obj, path, *args, **kwargs):
        with log.open("a") as f:
            f.write(f"{path}\n")
        return real(obj, path, *args, **kwargs)

    torch.save = save


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True)
    p.add_argument("--cases", nargs="+", default=["sinusoid:4"])
    p.add_argument("--iterations", type=int, default=20)
    p.add_argument("--fail-rank", type=int, default=None)
    p.add_argument("--fail-at", type=int, default=2)
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s", stream=sys.stderr)
    dist.setup("cpu")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    _count_saves(out)

    def fail(it, meta, history):
        if dist.rank() == args.fail_rank and it == args.fail_at:
            raise RuntimeError(f"rank {dist.rank()}: deliberate failure at iteration {it}")

    for case in args.cases:
        run, m = case.split(":")
        params, config, history = train(run, int(m), args.iterations,
                                        fail if args.fail_rank is not None else None)
        checkpoints.save_checkpoint(f"{run}_mb{m}", params, config.to_dict(),
                                    {"loss": history["loss"]}, out)
        if dist.is_main():
            print(f"{case}: final loss {history['loss'][-1]:.5f}", flush=True)
    dist.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())

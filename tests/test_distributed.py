"""torchrun with 2 CPU ranks (gloo) meta-trains like one process; rank 0 alone writes.

The torchrun runs launch ``tests/dist_worker.py`` (sinusoid MAML and Conv4 5-way MAML, the
command line's builders, 20 meta-iterations) and compare its checkpoints with the same runs in
this process. Conv4's convolution biases sit right in front of per-task BatchNorm, so their
meta-gradient is zero in exact arithmetic: the round-off left in it depends on the order in which
tasks are summed and Adam, which divides by the gradient's size, turns it into steps of up to
``meta_lr``. Those biases are therefore compared with one process that sums the tasks in the
ranks' shares (``task_chunk_size``), and through the network's outputs, which they cannot change.
"""

import math
import os
import signal
import subprocess
import sys
from pathlib import Path

import dist_worker  # tests/ is on sys.path (conftest.py)
import pytest
import torch
from torch.func import functional_call

from course_pkg import distributed as dist
from course_pkg.algorithms.maml import meta_gradient
from course_pkg.tasks import TaskBatch

ROOT = Path(__file__).resolve().parent.parent
WORKER = ROOT / "tests" / "dist_worker.py"
ITERATIONS = 20
#: run:meta_batch_size; 5 and 3 do not split evenly over 2 ranks.
CASES = ("sinusoid:4", "sinusoid:5", "conv4:4", "conv4:3")
TIMEOUT = 240  # seconds for one torchrun launch on a loaded 2-core machine


def torchrun(out: Path, *args: str, timeout: float = TIMEOUT) -> subprocess.CompletedProcess:
    """``python -m torch.distributed.run --nproc_per_node=2 --standalone dist_worker.py …``.

    The launcher and its workers run in their own session and are killed together when
    ``timeout`` passes (the test then fails)."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--standalone",
           str(WORKER), "--out", str(out), *args]
    env = {k: v for k, v in os.environ.items()
           if k not in (*dist.ENV_VARS, "MASTER_ADDR", "MASTER_PORT")}
    env.update(PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])),
               OMP_NUM_THREADS="1", TQDM_DISABLE="1", COURSE_DEVICE="cpu")
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        stdout, stderr = proc.communicate()
        pytest.fail(f"torchrun did not finish within {timeout} s:\n{stdout}\n{stderr}")
    return subprocess.CompletedProcess(cmd, proc.returncode, stdout, stderr)


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory):
    out = tmp_path_factory.mktemp("torchrun")
    proc = torchrun(out, "--cases", *CASES, "--iterations", str(ITERATIONS))
    assert proc.returncode == 0, f"torchrun failed:\n{proc.stdout}\n{proc.stderr}"
    return out, proc


def _names() -> list[str]:
    return [f"{c.split(':')[0]}_mb{c.split(':')[1]}" for c in CASES]


def _max_diff(a: dict, b: dict, keys) -> float:
    return max((a[k] - b[k]).abs().max().item() for k in keys)


def _conv_biases(params: dict) -> set[str]:
    """Biases of the convolutions followed by BatchNorm (``features.<i>.0.bias`` in Conv4)."""
    return {k for k in params if k.startswith("features.") and k.endswith(".0.bias")}


@pytest.mark.slow
@pytest.mark.distributed
@pytest.mark.parametrize("case", CASES)
def test_two_ranks_give_the_parameters_of_one_process(two_ranks, case):
    out, _ = two_ranks
    run, m = case.split(":")
    m = int(m)
    got = torch.load(out / f"{run}_mb{m}.pt", weights_only=True)
    one, config, _ = dist_worker.train(run, m, ITERATIONS)
    dead = _conv_biases(one) if run == "conv4" else set()
    live = [k for k in one if k not in dead]
    diff = _max_diff(got, one, live)
    print(f"{case}: max |Δ| over {len(live)} parameter tensors = {diff:.2e}")
    assert diff < 1e-4
    # the training moved the parameters much further than the tolerance
    model, sampler, *_ = dist_worker.build(run, m, ITERATIONS)
    init = dict(model.named_parameters())
    assert _max_diff(one, {k: v.detach() for k, v in init.items()}, live) > 1e-2
    # the same task split in one process: every parameter, conv biases included
    split, _, _ = dist_worker.train(run, m, ITERATIONS, task_chunk_size=math.ceil(m / 2))
    diff_split = _max_diff(got, split, list(one))
    print(f"{case}: max |Δ| against one process summing the ranks' shares = {diff_split:.2e}")
    assert diff_split < 1e-6
    if not dead:
        return
    # the conv biases' meta-gradient is round-off, and they do not change the network's output
    batch = sampler.sample(m, config.k_support, config.k_query,
                           generator=torch.Generator().manual_seed(1), device="cpu")
    loss, grads = meta_gradient(model, one, batch, config.inner_steps, config.inner_lr,
                                dist_worker.cross_entropy_loss)
    biggest = max(grads[k].abs().max().item() for k in live)
    assert max(grads[k].abs().max().item() for k in dead) < 1e-5 * biggest
    x = batch.x_query.flatten(0, 1)
    out_got, out_one = functional_call(model, got, (x,)), functional_call(model, one, (x,))
    print(f"{case}: conv biases differ by {_max_diff(got, one, dead):.2e}; outputs by "
          f"{(out_got - out_one).abs().max().item():.2e}")
    assert torch.allclose(out_got, out_one, atol=1e-4, rtol=0)


@pytest.mark.slow
@pytest.mark.distributed
def test_rank_zero_alone_writes_each_checkpoint_once(two_ranks):
    out, proc = two_ranks
    names = _names()
    assert sorted(p.name for p in out.glob("*.pt")) == sorted(f"{n}.pt" for n in names)
    assert sorted(p.name for p in out.glob("*.json")) == sorted(f"{n}.json" for n in names)
    # torch.save calls counted by the worker, per rank
    assert (out / "saves_rank0.txt").read_text().split() == [str(out / f"{n}.pt") for n in names]
    assert (out / "saves_rank1.txt").read_text() == ""
    for n in names:
        assert f"rank 1: skip writing {out / n}.pt" in proc.stderr
    assert "rank 0: skip" not in proc.stderr
    # rank 0 alone prints
    assert proc.stdout.count("final loss") == len(CASES)


@pytest.mark.slow
@pytest.mark.distributed
def test_an_error_on_one_rank_stops_every_rank(tmp_path):
    proc = torchrun(tmp_path, "--cases", "sinusoid:4", "--iterations", "200", "--fail-rank", "1",
                    "--fail-at", "2")
    assert proc.returncode != 0
    assert "rank 1: deliberate failure at iteration 2" in proc.stderr
    assert not list(tmp_path.glob("*.pt"))


# ----------------------------------------------------------------------------- one process
def test_without_torchrun_everything_is_a_no_op(monkeypatch):
    for k in (*dist.ENV_VARS, "COURSE_DEVICE"):
        monkeypatch.delenv(k, raising=False)
    assert dist.launched() is None and not dist.active()
    assert dist.rank() == 0 and dist.world_size() == 1 and dist.is_main()
    assert dist.setup("cpu") == torch.device("cpu") and not dist.active()
    batch = TaskBatch(torch.zeros(3, 2, 1), torch.zeros(3, 2, 1), torch.zeros(3, 4, 1),
                      torch.zeros(3, 4, 1))
    assert dist.shard(batch, 3) is batch
    assert dist.task_share(3) == slice(0, 3)
    loss, grads = torch.tensor(2.0), {"w": torch.ones(2), "b": None}
    l2, g2 = dist.average(loss, grads, 3, 3)
    assert l2 is loss and g2["w"] is grads["w"] and g2["b"] is None
    assert dist.any_rank(True) and not dist.any_rank(False)
    dist.barrier()
    dist.shutdown()


@pytest.mark.parametrize("env,match", [
    ({"RANK": "0"}, "torchrun sets all of"),
    ({"RANK": "a", "WORLD_SIZE": "2", "LOCAL_RANK": "0"}, "must be integers"),
    ({"RANK": "2", "WORLD_SIZE": "2", "LOCAL_RANK": "0"}, "not in 0..WORLD_SIZE-1"),
])
def test_a_broken_torchrun_environment_is_named(monkeypatch, env, match):
    for k in dist.ENV_VARS:
        monkeypatch.delenv(k, raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    with pytest.raises(ValueError, match=match):
        dist.launched()


def test_launched_reads_torchrun_variables(monkeypatch):
    monkeypatch.setenv("RANK", "3")
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("LOCAL_RANK", "1")
    monkeypatch.setenv("COURSE_DEVICE", "cpu")
    assert dist.launched() == dist.RankInfo(3, 4, 1)
    assert not dist.is_main()
    assert dist.rank_device() == torch.device("cpu")


@pytest.mark.parametrize("n,world", [(4, 2), (5, 2), (3, 2), (7, 3), (2, 2), (25, 4)])
def test_task_shares_cover_the_meta_batch_once(n, world):
    shares = [dist.task_share(n, r, world) for r in range(world)]
    assert [i for s in shares for i in range(n)[s]] == list(range(n))
    sizes = [s.stop - s.start for s in shares]
    assert max(sizes) - min(sizes) <= 1 and sizes == sorted(sizes, reverse=True)


def test_more_ranks_than_tasks_is_refused():
    with pytest.raises(ValueError, match="cannot be split over 4 ranks"):
        dist.task_share(3, 0, 4)


def test_slicing_a_task_batch_keeps_its_info():
    xs = torch.arange(4.0).reshape(4, 1, 1).expand(4, 2, 1)
    batch = TaskBatch(xs, xs, xs, xs, {"classes": torch.arange(8).reshape(4, 2), "n_way": 2})
    part = dist._slice(batch, slice(1, 3), 4)
    assert isinstance(part, TaskBatch) and part.num_tasks == 2
    assert part.x_support[:, 0, 0].tolist() == [1.0, 2.0]
    assert part.info["classes"].tolist() == [[2, 3], [4, 5]] and part.info["n_way"] == 2

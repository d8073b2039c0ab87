"""Tests of the sinusoid runs (course_pkg.experiments.sinusoid): configurations per scale, the
command line, and the committed checkpoints the chapters load."""

import json

from course_pkg.algorithms.evaluation import evaluate_adaptation
from course_pkg.tasks import SinusoidTasks


def test_sinusoid_configs_scales_and_cli(tmp_path, monkeypatch):
    from course_pkg import train
    from course_pkg.experiments import sinusoid

    assert sinusoid.sinusoid_config("maml", 10, "paper").iterations == 70000
    monkeypatch.setenv("COURSE_SCALE", "paper")
    cfg = sinusoid.sinusoid_config("maml", 5)
    assert (cfg.iterations, cfg.meta_batch_size, cfg.inner_lr, cfg.meta_lr, cfg.k_support) == (
        70000, 25, 0.01, 1e-3, 5)
    monkeypatch.delenv("COURSE_SCALE")
    assert sinusoid.sinusoid_checkpoint_name("pretrained", 5) == "sinusoid_pretrained"
    assert train.main(["sinusoid", "--method", "fomaml", "--k-support", "5", "--iterations", "3",
                       "--quiet", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "sinusoid_fomaml_k5.pt").exists()
    stored = json.loads((tmp_path / "sinusoid_fomaml_k5.json").read_text())["config"]
    assert stored["iterations"] == 3  # the override is part of the stored config
    assert stored["heldout"] == {"num_tasks": 200, "k_query": 100, "seed": 12345, "test_steps": 10}
    assert stored["eval_seed_offset"] == 1_000_003


def test_committed_checkpoints_load_and_maml_one_step_beats_pretrained_ten_steps():
    """The chapter's headline claim, on fresh held-out tasks (K = 10)."""
    from course_pkg.checkpoints import load_checkpoint
    from course_pkg.experiments.sinusoid import load_sinusoid, sinusoid_checkpoint

    for algo in ("maml", "pretrained"):  # fail fast instead of retraining here
        name, cfg = sinusoid_checkpoint(algo, 10, "cpu")
        assert load_checkpoint(name, cfg) is not None, f"{name} missing or out of date: run " \
            "python -m course_pkg.train all"
    maml = load_sinusoid("maml", 10, scale="cpu", device="cpu", progress=False)
    pre = load_sinusoid("pretrained", 10, scale="cpu", device="cpu", progress=False)
    assert maml.meta["loaded"] and pre.meta["loaded"], "committed checkpoints are out of date"
    tasks = SinusoidTasks().sample(200, 10, 50, generator=2024, device="cpu")
    m1 = evaluate_adaptation(maml.model, maml.params, tasks, 1, 0.01)[:, 1].mean()
    p10 = evaluate_adaptation(pre.model, pre.params, tasks, 10, 0.01)[:, 10].mean()
    assert m1 < p10

"""The equal-budget protocol: intervals, the plateau/rising status, budget marks, replay and
resuming an interrupted run to the same parameters, and the configs every row trains with."""

from __future__ import annotations

import json

import pytest
import torch

from course_pkg.experiments import budget as B
from course_pkg.experiments.fewshot import cli as FC
from course_pkg.experiments.fewshot import config as C
from course_pkg.experiments.fewshot import sweep as S
from course_pkg.experiments.fewshot import train as R
from course_pkg.experiments.methods import METHODS


def test_ci95_is_the_normal_approximation_half_width():
    x = torch.tensor([0.0, 1.0] * 50)
    mean, hw = B.ci95(x)
    assert mean == pytest.approx(0.5)
    assert hw == pytest.approx(1.96 * float(x.std()) / 10)
    with pytest.raises(ValueError):
        B.ci95(torch.tensor([]))


def test_status_is_plateau_only_within_the_interval_of_the_best_before():
    hw = [0.01] * 4
    # budget 90 s: the last third is after 60 s
    assert B.curve_status([[0, 0, .5], [10, 30, .8], [20, 60, .9], [30, 90, .905]], hw, 90) \
        == "plateau"
    assert B.curve_status([[0, 0, .5], [10, 30, .8], [20, 60, .9], [30, 90, .92]], hw, 90) \
        == "rising"
    assert B.curve_status([[0, 0, .5], [10, 30, .8], [20, 60, .9], [30, 90, .85]], hw, 90) \
        == "plateau"  # a fall is no rise
    with pytest.raises(ValueError, match="2/3"):
        B.curve_status([[0, 0, .5], [10, 30, .8]], hw[:2], 90)


class _Clock:
    """A fake process_time: every call advances it by ``step`` seconds."""

    def __init__(self, step: float) -> None:
        self.t, self.step = 0.0, step

    def __call__(self) -> float:
        self.t += self.step
        return self.t


def test_budget_run_validates_at_every_mark_and_stops_at_the_budget(monkeypatch):
    clock = _Clock(1.0)
    monkeypatch.setattr(B.time, "process_time", clock)
    accs = iter([0.1 * i for i in range(20)])
    run = B.BudgetRun({"cpu_seconds": 40, "evaluations": 4},
                      lambda p: torch.full((10,), next(accs)))
    run.start({"w": torch.zeros(1)})
    it = 0
    while not run(it, {"w": torch.full((1,), float(it))}):
        it += 1
    s = run.summary()
    assert len(s["curve"]) == 5 and s["curve"][0][:2] == [0, 0]
    # each mark is reached after another 10 s of (fake) training time; evaluation is not counted
    assert [p[1] >= 10 * i for i, p in enumerate(s["curve"])] == [True] * 5
    assert s["train_seconds"] >= 40 and s["iterations"] == it + 1
    assert s["best_iteration"] == it + 1 and s["status"] == "rising"
    assert s["schedule"] == [p[0] for p in s["curve"][1:]]


def test_a_replay_keeps_the_first_runs_cpu_record(monkeypatch):
    """``make weights`` on a faster machine: the same iterations, and the stored record (curve,
    train_seconds, status) stays the first run's; the replay's own time is stored beside it."""
    def run_once(step, schedule=None, recorded=None):
        monkeypatch.setattr(B.time, "process_time", _Clock(step))
        accs = iter([0.2, 0.5, 0.6, 0.61, 0.9, 0.91])
        run = B.BudgetRun({"cpu_seconds": 40, "evaluations": 4},
                          lambda p: torch.full((10,), next(accs)), schedule,
                          recorded_cpu=recorded)
        run.start({"w": torch.zeros(1)})
        it = 0
        while not run(it, {"w": torch.zeros(1)}):
            it += 1
        return run.summary()

    first = run_once(1.0)
    replay = run_once(0.25, first["schedule"], [p[1] for p in first["curve"]])
    for key in ("curve", "train_seconds", "status", "schedule", "iterations", "best_iteration"):
        assert replay[key] == first[key], key
    assert replay["replay_cpu_seconds"] < first["train_seconds"] / 2  # 4 times as fast
    plain = run_once(0.25, first["schedule"])  # without the record: this machine's times
    assert plain["train_seconds"] < first["train_seconds"] / 2 and "replay_cpu_seconds" not in plain
    with pytest.raises(ValueError, match="one time per point"):
        B.BudgetRun({"cpu_seconds": 40, "evaluations": 4}, lambda p: p, [1, 2], recorded_cpu=[0.0])


def _tiny(method: str, n_way: int = 5) -> dict:
    cfg = C.budget_config(method, n_way).to_dict()
    cfg["hidden"] = 8
    cfg["budget"]["validation"]["episodes"] = 6
    return cfg


@pytest.mark.parametrize("method", ["maml", "pretrained", "protomaml"])
def test_an_interrupted_replay_resumes_to_the_same_parameters(method, tmp_path, monkeypatch):
    monkeypatch.setenv(B.RUNS_ENV, str(tmp_path))
    torch.set_num_threads(1)
    cfg, schedule = _tiny(method), [2, 4, 6]
    whole, m1 = R.train_model(cfg, "cpu", schedule=schedule, snapshot=False, name="t")
    real = B.BudgetRun._record
    calls = {"n": 0}

    def interrupted(self, done, params):
        real(self, done, params)
        calls["n"] += 1
        if calls["n"] == 3:  # after the snapshot at iteration 4
            raise KeyboardInterrupt

    monkeypatch.setattr(B.BudgetRun, "_record", interrupted)
    with pytest.raises(KeyboardInterrupt):
        R.train_model(cfg, "cpu", schedule=schedule, name="t")
    assert (tmp_path / "t.snapshot.pt").exists()
    monkeypatch.setattr(B.BudgetRun, "_record", real)
    resumed, m2 = R.train_model(cfg, "cpu", schedule=schedule, name="t")
    assert set(whole) == set(resumed)
    assert all(torch.equal(whole[k], resumed[k]) for k in whole)
    assert [p[0] for p in m1["curve"]] == [p[0] for p in m2["curve"]] == [0, 2, 4, 6]
    assert [p[2] for p in m1["curve"]] == [p[2] for p in m2["curve"]]
    assert not (tmp_path / "t.snapshot.pt").exists()  # a finished run leaves no snapshot


def test_every_learned_row_gets_the_same_budget_and_validation():
    budgets = set()
    for key, n in C.trained_models():
        cfg = C.budget_config(key, n)
        b = cfg["budget"]
        budgets.add(b["cpu_seconds"])
        assert b["evaluations"] >= 12 and b["validation"]["episodes"] == 500
        assert b["validation"]["split"] == "val" and b["validation"]["n_way"] == n
        assert "iterations" not in cfg and "validation" not in cfg
    assert budgets == {C.BUDGET["cpu"]["cpu_seconds"]}
    sweep = C.budget_config("maml", 5, fraction=0.25)["budget"]
    assert sweep["cpu_seconds"] == C.BUDGET["cpu"]["cpu_seconds"] / 4
    assert sweep["evaluations"] == C.BUDGET["cpu"]["sweep_evaluations"] >= 4


def test_sweeps_try_at_most_three_settings_and_start_from_the_default():
    for key, n in C.trained_models():
        settings = S.sweep_settings(key, n)
        assert 1 <= len(settings) <= 3 and settings[0] == {}
    assert len(S.sweep_settings("fomaml", 5)) == 3 and len(S.sweep_settings("maml", 20)) == 2


def test_sweep_annealing_waits_for_the_default_setting(tmp_path):
    from course_pkg.checkpoints import save_checkpoint

    assert S.sweep_config("reptile", 5, 1, tmp_path) is None
    cfg0 = S.sweep_config("reptile", 5, 0, tmp_path)
    save_checkpoint(S.sweep_name("reptile", 5, 0), {"w": torch.zeros(1)}, cfg0,
                    {"iterations": 123}, tmp_path)
    cfg1 = S.sweep_config("reptile", 5, 1, tmp_path)
    assert cfg1["anneal_iterations"] == 123 and cfg1["optimizer"] == "sgd"
    assert cfg1["budget"]["cpu_seconds"] == cfg0["budget"]["cpu_seconds"]


@pytest.mark.parametrize("method", ["anil", "protomaml"])
def test_new_methods_train_on_a_smoke_budget_and_beat_chance(method, tmp_path, monkeypatch):
    monkeypatch.setenv(B.RUNS_ENV, str(tmp_path))
    torch.set_num_threads(1)
    cfg = _tiny(method)
    cfg["budget"]["validation"]["episodes"] = 40
    state, m = R.train_model(cfg, "cpu", schedule=[40, 80], snapshot=False)
    assert m["best_validation_accuracy"] > 0.2 + 0.15, m["curve"]  # 5-way chance is 0.2
    assert m["curve"][-1][2] > m["curve"][0][2]
    assert json.loads(json.dumps(m))  # JSON-ready metrics


def test_each_trained_method_has_hooks_and_a_published_source_when_it_has_numbers():
    for key, s in METHODS.items():
        if s.fewshot is not None and s.fewshot.trained and s.fewshot.model_of is None:
            assert s.fewshot.build and s.fewshot.sampler and s.fewshot.meta_grad, key
        if s.published:
            assert s.published_source and set(s.published) <= set(C.SETTINGS), key


def test_the_queue_runs_each_sweep_before_the_model_it_chooses_for():
    runs = FC.budget_runs()
    names = [r[1] for r in runs]
    assert len(names) == len(set(names))
    for _flags, name, waits in runs:
        for w in waits:
            assert names.index(w) < names.index(name), (name, w)
    full = {r[1] for r in runs if "--setting" not in r[0]}
    assert full == {C.checkpoint_name(k, n) for k, n in C.trained_models()
                    if not C.duplicates_method(k)}
    assert C.duplicates_method("blackbox_attention") and not C.duplicates_method("blackbox_lstm")
    assert next(r for r in runs if r[1] == C.checkpoint_name("fomaml", 5))[2] == \
        [S.sweep_name("fomaml", 5, i) for i in range(3)]


def test_the_full_run_takes_the_setting_with_the_best_validation(tmp_path):
    from course_pkg.checkpoints import save_checkpoint

    assert S.full_config("fomaml", 5, tmp_path) is None  # the sweep has not run
    for i, acc in enumerate([0.80, 0.86, 0.83]):
        cfg = S.sweep_config("fomaml", 5, i, tmp_path)
        save_checkpoint(S.sweep_name("fomaml", 5, i), {"w": torch.zeros(1)}, cfg,
                        {"best_validation_accuracy": acc, "iterations": 10, "curve": []},
                        tmp_path)
    assert S.chosen_setting("fomaml", 5, tmp_path) == 1
    assert S.full_config("fomaml", 5, tmp_path) == C.budget_config("fomaml", 5, inner_lr=0.1)
    assert S.full_config("protonet", 5, tmp_path) == C.budget_config("protonet", 5)
    summary = S.sweep_summary(tmp_path)
    assert summary["fomaml_5way"]["chosen"] == 1
    assert summary["fomaml_5way"]["settings"][1] == {"inner_lr": 0.1}


class _FakeProc:
    """A finished subprocess: what ``_queue`` started, in order."""

    started: list[list[str]] = []

    def __init__(self, cmd, **kwargs) -> None:
        _FakeProc.started.append(cmd)
        self.returncode = 0

    def poll(self) -> int:
        return 0


def test_the_queue_skips_done_runs_and_replays_every_run_in_order(tmp_path, monkeypatch):
    monkeypatch.setenv(B.RUNS_ENV, str(tmp_path / "runs"))
    runs = [(["--method", "a"], "a", []), (["--method", "b"], "b", ["a"]),
            (["--method", "c"], "c", [])]
    monkeypatch.setattr(FC.subprocess, "Popen", _FakeProc)
    monkeypatch.setattr(FC.time, "sleep", lambda s: None)
    done = {"a"}
    monkeypatch.setattr(FC, "_expected_config", lambda flags, out, scale: {"m": flags[1]})
    monkeypatch.setattr(FC, "load_checkpoint", lambda name, cfg, out: name in done or None)
    _FakeProc.started = []
    assert FC._queue(runs, tmp_path, 2) == ["b", "c"]  # "a" exists: skipped
    assert [c[c.index("--method") + 1] for c in _FakeProc.started] == ["b", "c"]
    assert not any("--replay" in c for c in _FakeProc.started)
    _FakeProc.started = []
    waiting_first = [runs[1], runs[0], runs[2]]  # "b" is listed before the "a" it waits for
    assert sorted(FC._queue(waiting_first, tmp_path, 2, replay=True)) == ["a", "b", "c"]
    order = [c[c.index("--method") + 1] for c in _FakeProc.started]
    assert order.index("a") < order.index("b") and len(order) == 3  # "b" waits for a replayed "a"
    assert all("--replay" in c and c[c.index("--scale") + 1] == "cpu" for c in _FakeProc.started)
    assert (tmp_path / "runs" / "logs" / "a.log").exists()  # logs stay outside the weights


def test_a_run_whose_stored_config_is_out_of_date_is_stale_and_trained_again(tmp_path,
                                                                            monkeypatch):
    """A checkpoint with the right name but another config (a setting changed since) is not
    done: ``--list`` says "stale" and the queue trains it again."""
    from course_pkg.checkpoints import save_checkpoint

    monkeypatch.setenv(B.RUNS_ENV, str(tmp_path / "runs"))
    flags = ["--method", "protonet", "--n-way", "5"]
    name = C.checkpoint_name("protonet", 5)
    assert FC.run_state(flags, name, tmp_path, None) == "to do"
    old = C.budget_config("protonet", 5, meta_lr=0.123)  # not what the run trains with now
    save_checkpoint(name, {"w": torch.zeros(1)}, old, {"iterations": 1}, tmp_path)
    assert FC.run_state(flags, name, tmp_path, None) == "stale"
    monkeypatch.setattr(FC.subprocess, "Popen", _FakeProc)
    monkeypatch.setattr(FC.time, "sleep", lambda s: None)
    _FakeProc.started = []
    assert FC._queue([(flags, name, [])], tmp_path, 1) == [name]
    save_checkpoint(name, {"w": torch.zeros(1)}, C.budget_config("protonet", 5),
                    {"iterations": 1}, tmp_path)
    assert FC.run_state(flags, name, tmp_path, None) == "done"
    assert FC._queue([(flags, name, [])], tmp_path, 1) == []


def test_a_curriculum_grows_the_episodes_from_two_classes_to_n():
    from course_pkg.algorithms import blackbox as bb
    from course_pkg.algorithms.metric import EpisodeSampler

    assert [bb.curriculum_ways(i, 5, 8) for i in range(10)] == [2, 2, 3, 3, 4, 4, 5, 5, 5, 5]
    batch = bb.shuffle_support(EpisodeSampler(5).sample(3, 2, 3, generator=0), 1)
    small = bb.fewer_ways(batch, 2)
    assert small.x_support.shape[:2] == (3, 4) and small.x_query.shape[:2] == (3, 6)
    assert set(small.y_support.unique().tolist()) == {0, 1}
    keep = batch.y_support[0] < 2  # the same images, in the episode's (shuffled) order
    assert torch.equal(small.x_support[0], batch.x_support[0][keep])
    with pytest.raises(ValueError, match="start"):
        bb.curriculum_ways(0, 5, 8, start=1)


def test_a_curriculum_run_trains_an_n_way_model_on_fewer_ways(tmp_path, monkeypatch):
    """The sweep's curriculum setting: its span is half the default setting's iterations (x4
    for the full run), and its gradient is taken on 2-way episodes first."""
    from course_pkg.checkpoints import save_checkpoint

    cfg0 = S.sweep_config("blackbox_lstm", 5, 0, tmp_path)
    assert S.sweep_config("blackbox_lstm", 5, 2, tmp_path) is None  # waits for setting 0
    save_checkpoint(S.sweep_name("blackbox_lstm", 5, 0), {"w": torch.zeros(1)}, cfg0,
                    {"iterations": 101}, tmp_path)
    cfg2 = S.sweep_config("blackbox_lstm", 5, 2, tmp_path)
    assert cfg2["curriculum_iterations"] == 50
    for i, acc in ((0, 0.20), (1, 0.21), (2, 0.35)):
        save_checkpoint(S.sweep_name("blackbox_lstm", 5, i), {"w": torch.zeros(1)},
                        S.sweep_config("blackbox_lstm", 5, i, tmp_path),
                        {"iterations": 101, "best_validation_accuracy": acc}, tmp_path)
    assert S.full_config("blackbox_lstm", 5, tmp_path)["curriculum_iterations"] == 200
    model = R.build_model(cfg2)
    grad = METHODS["blackbox"].fewshot.meta_grad(model, cfg2)
    from course_pkg.algorithms import blackbox as bb
    from course_pkg.algorithms.metric import EpisodeSampler
    from course_pkg.models import params as model_params

    seen = []
    real = bb.fewer_ways
    monkeypatch.setattr(bb, "fewer_ways", lambda b, n: seen.append(n) or real(b, n))
    batch = EpisodeSampler(5).sample(2, 1, 2, generator=0)
    for it in (0, 49, 50, 120):  # the curriculum spans the first 50 iterations of this setting
        loss, grads = grad(model_params(model, detach=True), batch, iteration=it)
        assert torch.isfinite(loss) and set(grads) == set(model_params(model))
    assert seen == [2, 5, 5, 5]

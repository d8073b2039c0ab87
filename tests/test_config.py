"""The one config type (course_pkg.utils.config.Config): typed, read as a mapping, stored as JSON,
and the stored dict stays the cache key of every committed checkpoint."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from course_pkg.algorithms.training import MetaConfig
from course_pkg.checkpoints import load_checkpoint
from course_pkg.experiments import rl, sinusoid
from course_pkg.experiments.fewshot import config as C
from course_pkg.experiments.fewshot import sweep as S
from course_pkg.utils.config import Config

WEIGHTS = Path(__file__).resolve().parents[1] / "course_pkg" / "weights"


def test_every_run_config_is_one_type():
    built = [S.method_config("protonet"), C.budget_config("maml", 20), rl.config_for("rl2-bandit"),
             sinusoid.sinusoid_config("reptile")]
    assert [type(c) for c in built] == [C.FewShotConfig, C.FewShotConfig, rl.RLConfig, MetaConfig]
    assert all(isinstance(c, Config) for c in built)
    assert isinstance(C.budget_config("maml")["budget"], C.BudgetConfig)
    assert isinstance(C.budget_config("maml").budget.validation, C.ValidationConfig)


def test_stored_few_shot_and_rl_configs_round_trip_to_the_same_cache_key():
    """Each committed few-shot and RL checkpoint's stored config, read into its type, gives the
    same dict back, and the config the code builds for it today loads it."""
    checked = 0
    for key, n in C.trained_models():
        if C.duplicates_method(key):
            continue
        cfg, name = S.method_config(key, n), C.checkpoint_name(key, n)
        stored = json.loads((S.BUDGET_DIR / f"{name}.json").read_text())["config"]
        assert C.FewShotConfig.from_dict(stored).to_dict() == stored, name
        assert load_checkpoint(name, cfg, S.BUDGET_DIR) is not None, name
        checked += 1
    for path in S.BUDGET_DIR.glob("fewshot_sweep_*.json"):
        stored = json.loads(path.read_text())["config"]
        assert C.FewShotConfig.from_dict(stored).to_dict() == stored, path.name
    for name in rl.CONFIGS:
        stored = json.loads((WEIGHTS / f"{rl.checkpoint_name(name)}.json").read_text())["config"]
        assert rl.RLConfig.from_dict(stored).to_dict() == stored
        assert rl.config_for(name) == stored
        checked += 1
    assert checked >= 15


def test_a_sinusoid_config_is_stored_with_every_field_and_its_method():
    cfg = sinusoid.sinusoid_config("fomaml")
    d = cfg.to_dict()
    assert d["method"] == "fomaml" and "algorithm" not in d
    assert "grad_clip" in d and d["grad_clip"] is None  # MetaConfig keeps None fields
    name, stored = sinusoid.sinusoid_checkpoint("fomaml")
    assert load_checkpoint(name, stored) is not None


def test_unset_fields_are_not_part_of_the_mapping():
    cfg = S.method_config("protonet")
    assert cfg.inner_lr is None and "inner_lr" not in cfg and cfg.get("inner_lr") is None
    with pytest.raises(KeyError):
        cfg["inner_lr"]
    assert set(cfg) == set(cfg.to_dict()) and cfg["method"] == "protonet" == cfg.method
    assert {**cfg}["k_support"] == 1


def test_bad_configs_fail_with_the_name_of_the_field():
    with pytest.raises(KeyError, match="n_shots"):
        C.FewShotConfig.from_dict({"method": "maml", "n_shots": 5})
    with pytest.raises(TypeError, match="n_way"):
        C.FewShotConfig(method="maml", n_way="5")
    with pytest.raises(TypeError, match="inner_steps"):
        MetaConfig(inner_steps=True)  # a bool is not a count
    with pytest.raises(TypeError, match="cpu_seconds"):
        C.budget_config("maml").replace(budget={"cpu_seconds": "20 min"})
    with pytest.raises(ValueError, match="method"):
        C.FewShotConfig(n_way=5)
    with pytest.raises(KeyError, match="iteratons"):
        rl.config_for("maml-nav").replace(iteratons=3)


def test_configs_are_frozen_and_replace_returns_a_copy():
    cfg = C.budget_config("maml")
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.hidden = 8  # type: ignore[misc]
    with pytest.raises(TypeError):
        cfg["hidden"] = 8  # type: ignore[index]
    small = cfg.replace(hidden=8, budget={**cfg.budget.to_dict(), "cpu_seconds": 1.0})
    assert small.hidden == 8 and small.budget.cpu_seconds == 1.0 and cfg.hidden == 32
    assert small.budget.validation == cfg.budget.validation
    assert cfg == cfg.to_dict() and cfg != small and cfg.key() == json.dumps(cfg.to_dict(),
                                                                             sort_keys=True)

"""Chapter 4's black-box regressors load from their committed checkpoints through
``experiments.load_model`` (they are not few-shot methods of the registry)."""

import pytest

from course_pkg import experiments as E


@pytest.mark.parametrize("mode", ["params", "context"])
def test_regressor_checkpoint_loads_without_training(mode):
    lm = E.load_model(f"sinusoid_{mode}", device="cpu")
    assert lm.meta["loaded"] is True
    assert lm.config == E.method_config(f"sinusoid_{mode}")
    assert lm.model.phi_dim > 0

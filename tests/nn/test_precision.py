"""Mixed precision: ``[optim] precision = "bf16"`` runs the training forward pass under bfloat16
autocast (CPU here; CUDA in tests/nn/test_gpu.py)."""

import dataclasses

import numpy as np
import pytest

from mlstrat import ConfigError
from mlstrat.nn import OptimConfig, TrainConfig, train

from .conftest import small_config


def test_bf16_learns_like_float32_and_is_recorded(tmp_path, digits_path):
    config = small_config(digits_path)
    full = train(config, run_dir=tmp_path / "fp32", store=False)
    mixed_config = dataclasses.replace(config, optim=dataclasses.replace(config.optim, precision="bf16"))
    mixed = train(mixed_config, run_dir=tmp_path / "bf16", store=False)
    costs = [np.array([e["train_cost"] for e in r.history["epochs"]]) for r in (full, mixed)]
    np.testing.assert_allclose(costs[1], costs[0], rtol=0.02)  # the same optimization, rounded
    assert not np.array_equal(costs[0], costs[1])  # autocast did run: bfloat16 rounds the forward pass
    assert abs(mixed.metrics["dev"]["error"] - full.metrics["dev"]["error"]) < 0.03
    assert TrainConfig.from_toml(tmp_path / "bf16" / "config.resolved.toml").optim.precision == "bf16"


def test_an_unknown_precision_names_the_choices():
    with pytest.raises(ConfigError, match=r"^\[optim\] precision = 'fp16' is not one of 32, bf16 "
                                          r"\(did you mean 'bf16'\?\)$"):
        OptimConfig(precision="fp16")

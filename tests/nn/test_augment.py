"""Augmentation strengths in the config, flips and crops."""

import numpy as np
import pytest
import torch

from mlstrat import ConfigError
from mlstrat.mismatch.transforms import apply_transforms, crop, hflip, vflip
from mlstrat.nn import DataConfig, RegularizationConfig, TrainConfig
from mlstrat.nn._data import Normalizer
from mlstrat.nn._setup import _augmenter


def test_strengths_from_toml_round_trip(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[data]\nmanifest = "m.parquet"\nimage_shape = [1, 8, 8]\n'
                    '[regularization]\naugment = ["shift", {name = "rotate", degrees = 10}, {name = "crop", scale = 0.9}]\n')
    config = TrainConfig.from_toml(path)
    names, params = config.regularization.augment_plan()
    assert names == ["shift", "rotate", "crop"]
    assert params == {"shift": {}, "rotate": {"max_degrees": 10}, "crop": {"scale": 0.9}}
    again = tmp_path / "again.toml"
    again.write_text(config.to_toml())
    assert TrainConfig.from_toml(again) == config


@pytest.mark.parametrize("augment, message", [
    (({"name": "rotate", "angle": 10},), r"augment rotate: unknown strength 'angle'; rotate takes max_degrees, degrees"),
    (({"name": "rotate", "degrees": -1},), r"augment rotate: degrees = -1 must be a number >= 0"),
    (("rotate", {"name": "rotate", "degrees": 5}),
     r"augment lists 'rotate' twice; give it once with its strength"),
    (({"degrees": 5},), r"augment: unknown transform None"),
    (("flip",), r"unknown transform 'flip'"),
])
def test_strength_errors(augment, message):
    with pytest.raises(ConfigError, match=message):
        RegularizationConfig(augment=augment)


def test_flips_against_numpy():
    x = np.random.default_rng(0).random((6, 2, 5, 4)).astype(np.float32)
    rng = np.random.default_rng(1)
    np.testing.assert_array_equal(hflip(x, rng, p=1.0), x[..., ::-1])
    np.testing.assert_array_equal(vflip(x, rng, p=1.0), x[..., ::-1, :])
    np.testing.assert_array_equal(hflip(x, rng, p=0.0), x)
    some = hflip(x, np.random.default_rng(2), p=0.5)
    flipped = [np.array_equal(some[i], x[i, :, :, ::-1]) for i in range(6)]
    kept = [np.array_equal(some[i], x[i]) for i in range(6)]
    assert all(f or k for f, k in zip(flipped, kept)) and any(flipped) and any(kept)


def test_crop_keeps_the_size_and_scale_one_is_identity():
    x = np.random.default_rng(0).random((4, 1, 8, 8)).astype(np.float32)
    np.testing.assert_allclose(crop(x, np.random.default_rng(0), scale=1.0), x, atol=1e-6)
    zoomed = crop(x, np.random.default_rng(0), scale=0.5)
    assert zoomed.shape == x.shape and not np.allclose(zoomed, x)
    assert zoomed.min() >= x.min() - 1e-6 and zoomed.max() <= x.max() + 1e-6  # bilinear: no overshoot


def test_the_configured_strength_reaches_the_transform():
    X = np.random.default_rng(0).random((20, 64)).astype(np.float32) * 16
    normalizer = Normalizer.fit(X)
    idx = torch.arange(20)

    def batch(augment):
        config = TrainConfig(data=DataConfig(image_shape=(1, 8, 8), value_range=(0.0, 16.0)),
                             regularization=RegularizationConfig(augment=augment))
        return _augmenter(config, X, normalizer, torch.device("cpu"), seed=0)(idx).numpy()

    still = batch(({"name": "rotate", "degrees": 0},))
    np.testing.assert_allclose(still, normalizer(X), atol=1e-5)  # 0 degrees: the identity
    turned = batch(({"name": "rotate", "degrees": 30},))
    raw = apply_transforms(X.reshape(-1, 1, 8, 8), ["rotate"], rng=np.random.default_rng(0),
                           params={"rotate": {"max_degrees": 30}}, value_range=(0.0, 16.0))
    np.testing.assert_allclose(turned, normalizer(raw.reshape(20, -1).astype(np.float32)), atol=1e-5)

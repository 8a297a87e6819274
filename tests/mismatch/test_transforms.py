import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlstrat import ConfigError
from mlstrat.mismatch import TRANSFORMS, apply_transforms

RANGE = (0.0, 16.0)


def _x(n=6, c=1, h=8, w=8, seed=0):
    return np.random.default_rng(seed).uniform(*RANGE, size=(n, c, h, w)).astype(np.float32)


@pytest.mark.parametrize("name", sorted(TRANSFORMS))
def test_shape_dtype_and_range_are_kept(name):
    x = _x(c=3, h=9, w=7)
    out = apply_transforms(x, [name], rng=np.random.default_rng(0), value_range=RANGE)
    assert out.shape == x.shape and out.dtype == x.dtype
    assert out.min() >= RANGE[0] and out.max() <= RANGE[1]


@pytest.mark.parametrize("name", sorted(TRANSFORMS))
def test_same_seed_same_output(name):
    x = _x()
    a = apply_transforms(x, [name], rng=np.random.default_rng(7), value_range=RANGE)
    b = apply_transforms(x, [name], rng=np.random.default_rng(7), value_range=RANGE)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", ["noise", "brightness_contrast", "shift", "rotate", "fog"])
def test_random_transforms_change_with_the_seed(name):
    x = _x(n=20)
    a = apply_transforms(x, [name], rng=np.random.default_rng(1), value_range=RANGE)
    b = apply_transforms(x, [name], rng=np.random.default_rng(2), value_range=RANGE)
    assert not np.array_equal(a, b)


def test_blur_with_zero_sigma_and_noise_with_zero_std_are_identities():
    x = _x()
    out = apply_transforms(
        x,
        ["blur", "noise"],
        rng=np.random.default_rng(0),
        value_range=RANGE,
        params={"blur": {"sigma": 0.0}, "noise": {"std": 0.0}},
    )
    np.testing.assert_allclose(out, x, atol=1e-6)


def test_noise_std_is_relative_to_the_span():
    x = np.full((200, 1, 8, 8), 8.0, dtype=np.float32)
    out = apply_transforms(
        x,
        ["noise"],
        rng=np.random.default_rng(0),
        params={"noise": {"std": 0.05}},
        value_range=RANGE,
    )
    assert np.std(out - x) == pytest.approx(0.05 * 16, rel=0.05)


def test_fog_blends_with_the_pool():
    x = np.zeros((4, 1, 5, 5), dtype=np.float32)
    pool = np.full((1, 1, 5, 5), 10.0, dtype=np.float32)
    out = apply_transforms(
        x, ["fog"], rng=np.random.default_rng(0), params={"fog": {"pool": pool, "alpha": 0.3}}
    )
    np.testing.assert_allclose(out, 3.0)


def test_unknown_transform_lists_the_available_ones():
    with pytest.raises(
        ConfigError,
        match=r"^unknown transform 'blurr' \(did you mean 'blur'\?\); available: "
        r"blur, noise, brightness_contrast, shift, rotate, fog, hflip, vflip, crop$",
    ):
        apply_transforms(_x(), ["blurr"], rng=np.random.default_rng(0))


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(1, 4),
    c=st.integers(1, 3),
    h=st.integers(3, 10),
    w=st.integers(3, 10),
    names=st.lists(st.sampled_from(sorted(TRANSFORMS)), min_size=1, max_size=3),
    seed=st.integers(0, 99),
)
def test_any_chain_keeps_shape_and_range(n, c, h, w, names, seed):
    x = _x(n, c, h, w, seed)
    out = apply_transforms(x, names, rng=np.random.default_rng(seed), value_range=RANGE)
    assert out.shape == x.shape
    assert np.isfinite(out).all() and out.min() >= 0 and out.max() <= 16

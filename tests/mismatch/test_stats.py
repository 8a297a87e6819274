import numpy as np
import pytest

from mlstrat.mismatch import IMAGE_STATS, apply_transforms, image_statistics


def _images(n=20, seed=0):
    rng = np.random.default_rng(seed)
    x = np.zeros((n, 1, 16, 16), dtype=np.float32)
    x[:, :, 4:12, 6:10] = rng.uniform(0.6, 1.0, size=(n, 1, 1, 1))  # a bright bar on black
    return x


def test_every_statistic_is_one_value_per_image():
    stats = image_statistics(np.zeros((5, 3, 8, 9)))
    assert list(stats) == list(IMAGE_STATS)
    assert all(v.shape == (5,) for v in stats.values())


def test_blur_lowers_sharpness_and_gradient():
    x = _images()
    blurred = apply_transforms(
        x, ["blur"], rng=np.random.default_rng(0), params={"blur": {"sigma": 1.5}}
    )
    a, b = image_statistics(x, value_range=(0, 1)), image_statistics(blurred, value_range=(0, 1))
    assert (b["img_sharpness"] < a["img_sharpness"]).all()
    assert (b["img_gradient"] < a["img_gradient"]).all()
    assert (b["img_background"] < a["img_background"]).all()


@pytest.mark.parametrize("sigma", [0.05, 0.2])
def test_noise_estimate_recovers_the_noise_std_on_flat_images(sigma):
    rng = np.random.default_rng(1)
    x = 0.5 + rng.normal(0, sigma, size=(10, 1, 64, 64))
    est = image_statistics(x)["img_noise"]
    np.testing.assert_allclose(est, sigma, rtol=0.1)


def test_constant_images_have_no_sharpness_or_noise():
    stats = image_statistics(np.full((3, 1, 8, 8), 7.0), value_range=(0, 16))
    np.testing.assert_array_equal(stats["img_sharpness"], 0)
    np.testing.assert_array_equal(stats["img_noise"], 0)
    np.testing.assert_array_equal(stats["img_background"], 0)
    np.testing.assert_array_equal(stats["img_mean"], 7)


def test_filters_match_scipy_per_image():
    from scipy.ndimage import laplace, sobel

    x = np.random.default_rng(3).uniform(0, 1, size=(4, 2, 7, 9))
    stats = image_statistics(x, value_range=(0, 1))
    grey = x.mean(axis=1)
    np.testing.assert_allclose(
        stats["img_sharpness"], [laplace(g, mode="nearest").var() for g in grey]
    )
    grad = [
        np.hypot(sobel(g, axis=0, mode="nearest"), sobel(g, axis=1, mode="nearest")).mean()
        for g in grey
    ]
    np.testing.assert_allclose(stats["img_gradient"], grad)
    np.testing.assert_allclose(
        stats["img_contrast"],
        np.percentile(grey.reshape(4, -1), 98, axis=1)
        - np.percentile(grey.reshape(4, -1), 2, axis=1),
    )

"""Simple image statistics that make blur, noise, brightness and contrast visible to a classifier.

Computed per image on the grey level (the mean over channels) of arrays of shape (N, C, H, W).
The same statistics serve the domain classifier (``mlstrat mismatch --image-col`` or
``--image-shape``) and the calibration of ``mlstrat synth --like``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["IMAGE_STATS", "STAT_HINTS", "image_statistics"]

#: statistic -> what a shift in it usually means (shown next to the feature in reports).
#: img_mean: mean grey level; img_std: its standard deviation; img_contrast: 98th - 2nd
#: percentile; img_sharpness: variance of the Laplacian (lower = blurrier); img_gradient: mean
#: Sobel gradient magnitude; img_noise: Immerkaer's estimate of the noise std; img_background:
#: share of pixels within 2% of the range's span of its low end (noise, blur and fog lower it).
STAT_HINTS: dict[str, str] = {
    "img_mean": "brightness",
    "img_std": "contrast / blur",
    "img_contrast": "contrast / blur",
    "img_sharpness": "blur",
    "img_gradient": "blur / edges",
    "img_noise": "noise",
    "img_background": "noise / blur / fog",
}
IMAGE_STATS: tuple[str, ...] = tuple(STAT_HINTS)

# Immerkaer (1996): this kernel cancels smooth image structure (up to 2nd order) and keeps noise
_IMMERKAER = np.array([[1.0, -2.0, 1.0], [-2.0, 4.0, -2.0], [1.0, -2.0, 1.0]])
_LAPLACE = np.array([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]])
_SOBEL = np.array(
    [[-1.0, -2.0, -1.0], [0.0, 0.0, 0.0], [1.0, 2.0, 1.0]]
)  # d/drow, smoothed along columns


def image_statistics(
    x: np.ndarray, *, value_range: tuple[float, float] | None = None
) -> dict[str, np.ndarray]:
    """Per-image statistics of ``x``.

    Parameters
    ----------
    x : ndarray of shape (N, C, H, W)
        Images; H and W of at least 3.
    value_range : (float, float), default=None
        The valid pixel range, which sets the background level (its low end) and the
        tolerance around it (2% of its span). Defaults to the data's min and max.

    Returns
    -------
    dict of str to ndarray of shape (N,)
        One array per name in :data:`IMAGE_STATS`.
    """
    from scipy.ndimage import correlate

    x = np.asarray(x, dtype=np.float64)
    n = x.shape[0]
    grey = x.mean(axis=1)  # (N, H, W)
    if value_range is None:
        lo, hi = (float(grey.min()), float(grey.max())) if n else (0.0, 1.0)
    else:
        lo, hi = float(value_range[0]), float(value_range[1])
    span = max(hi - lo, 1e-12)
    flat = grey.reshape(n, -1)
    h, w = grey.shape[1:]

    def filt(kernel: np.ndarray) -> np.ndarray:  # the same 3x3 filter on every image at once
        return correlate(grey, kernel[None], mode="nearest") if n else grey

    lap = filt(_LAPLACE)
    gy, gx = filt(_SOBEL), filt(_SOBEL.T)
    conv = filt(_IMMERKAER)[:, 1:-1, 1:-1]
    noise_sigma = np.sqrt(np.pi / 2) * np.abs(conv).sum(axis=(1, 2)) / (6.0 * (w - 2) * (h - 2))
    p2, p98 = np.percentile(flat, [2, 98], axis=1) if n else (np.zeros(0), np.zeros(0))
    return {
        "img_mean": flat.mean(axis=1),
        "img_std": flat.std(axis=1),
        "img_contrast": p98 - p2,
        "img_sharpness": lap.reshape(n, -1).var(axis=1),
        "img_gradient": np.hypot(gx, gy).reshape(n, -1).mean(axis=1),
        "img_noise": noise_sigma,
        "img_background": (flat <= lo + 0.02 * span).mean(axis=1),
    }

"""The bundled scenario: scikit-learn's digits as a web/app project.

1 797 8x8 images from ``sklearn.datasets.load_digits`` (shipped inside scikit-learn, no
download). Each image gets a simulated writer (``group``); a minority of writers use the
phone app (``domain = "app"``), whose images are degraded: blurred and noisy, like phone
photos next to clean web uploads. The app is the target the model must serve.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mlstrat.mismatch.transforms import apply_transforms

__all__ = ["build_digits_manifest", "FEATURE_PREFIX", "IMAGE_SHAPE", "VALUE_RANGE"]

FEATURE_PREFIX = "px_"
IMAGE_SHAPE = (1, 8, 8)
VALUE_RANGE = (0.0, 16.0)


def build_digits_manifest(*, seed: int = 0, app_share: float = 0.3, n_writers: int = 300,
                          blur_sigma: float = 0.9, noise_std: float = 0.12) -> Any:
    """Build the digits manifest as a ``pyarrow.Table``.

    Parameters
    ----------
    seed : int, default=0
        Seeds the writers, the domains and the degradation noise.
    app_share : float, default=0.3
        Share of writers on the app (the target domain); their images are degraded.
    n_writers : int, default=300
        Number of simulated writers (the ``group`` column); about 6 images each.
    blur_sigma, noise_std : float
        Strength of the app degradation (noise std relative to the 0..16 pixel range).

    Returns
    -------
    pyarrow.Table
        Columns ``id``, ``label``, ``domain``, ``group``, ``px_0`` ... ``px_63``.
    """
    import pyarrow as pa
    from sklearn.datasets import load_digits

    digits = load_digits()
    X = digits.data.astype(np.float32)  # (1797, 64), values 0..16
    y = digits.target.astype(np.int64)
    n = len(y)
    rng = np.random.default_rng(seed)
    writer = rng.integers(0, n_writers, size=n)
    app_writers = rng.random(n_writers) < app_share
    is_app = app_writers[writer]

    images = X.reshape((n, *IMAGE_SHAPE))
    degraded = apply_transforms(images[is_app], ["blur", "noise"], rng=rng, value_range=VALUE_RANGE,
                                params={"blur": {"sigma": blur_sigma}, "noise": {"std": noise_std}})
    images = images.copy()
    images[is_app] = degraded
    flat = images.reshape(n, -1)

    columns: dict[str, Any] = {
        "id": [f"digit-{i:04d}" for i in range(n)],
        "label": y,
        "domain": np.where(is_app, "app", "web"),
        "group": [f"writer-{w:03d}" for w in writer],
    }
    for j in range(flat.shape[1]):
        columns[f"{FEATURE_PREFIX}{j}"] = np.round(flat[:, j], 4)
    return pa.table(columns)

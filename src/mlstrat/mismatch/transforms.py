"""Image transforms on arrays of shape (N, C, H, W): one implementation of each, shared by the
trainer's data augmentation (``[regularization] augment``), ``mlstrat synth`` and the bundled
scenario's "phone photo" degradation.

Strength parameters are relative to the value range's span (``value_range=(0, 16)`` for the
digits), so the same defaults suit 0..1 and 0..255 images. Every transform takes a
``numpy.random.Generator`` and is deterministic given it; outputs keep the input's shape and
dtype and are clipped to ``value_range`` when one is given. NumPy/SciPy only: no torch here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mlstrat._exceptions import ConfigError
from mlstrat._numbers import did_you_mean

__all__ = ["TRANSFORMS", "Transform", "apply_transforms", "blur", "noise", "brightness_contrast",
           "shift", "rotate", "fog", "hflip", "vflip", "crop"]

Images = np.ndarray  # (N, C, H, W)


def _span(value_range: tuple[float, float] | None) -> float:
    return float(value_range[1] - value_range[0]) if value_range else 1.0


def blur(x: Images, rng: np.random.Generator, *, sigma: float = 1.0,
         value_range: tuple[float, float] | None = None) -> Images:
    """Gaussian blur of each image (and channel) with standard deviation ``sigma`` pixels."""
    from scipy.ndimage import gaussian_filter

    return gaussian_filter(x, sigma=(0, 0, sigma, sigma), mode="nearest").astype(x.dtype, copy=False)


def noise(x: Images, rng: np.random.Generator, *, std: float = 0.05,
          value_range: tuple[float, float] | None = None) -> Images:
    """Additive Gaussian noise, standard deviation ``std`` x span, per pixel."""
    return x + rng.normal(0.0, std * _span(value_range), size=x.shape).astype(x.dtype, copy=False)


def brightness_contrast(x: Images, rng: np.random.Generator, *, brightness: float = 0.1,
                        contrast: float = 0.2, value_range: tuple[float, float] | None = None) -> Images:
    """Per image: scale around its mean by U(1-contrast, 1+contrast), add U(-b, b) x span."""
    n = x.shape[0]
    scale = rng.uniform(1 - contrast, 1 + contrast, size=(n, 1, 1, 1))
    offset = rng.uniform(-brightness, brightness, size=(n, 1, 1, 1)) * _span(value_range)
    mean = x.mean(axis=(1, 2, 3), keepdims=True)
    return ((x - mean) * scale + mean + offset).astype(x.dtype, copy=False)


def shift(x: Images, rng: np.random.Generator, *, max_shift: int = 1,
          value_range: tuple[float, float] | None = None) -> Images:
    """Translate each image by up to ``max_shift`` pixels in each direction (edges replicated)."""
    n, _, h, w = x.shape
    dy = rng.integers(-max_shift, max_shift + 1, size=n)
    dx = rng.integers(-max_shift, max_shift + 1, size=n)
    rows = np.clip(np.arange(h)[None, :] - dy[:, None], 0, h - 1)  # (N, H)
    cols = np.clip(np.arange(w)[None, :] - dx[:, None], 0, w - 1)  # (N, W)
    idx = np.arange(n)[:, None, None]
    out = x.transpose(0, 2, 3, 1)[idx, rows[:, :, None], cols[:, None, :]]  # (N, H, W, C)
    return np.ascontiguousarray(out.transpose(0, 3, 1, 2))


def rotate(x: Images, rng: np.random.Generator, *, max_degrees: float = 10.0,
           value_range: tuple[float, float] | None = None) -> Images:
    """Rotate each image by U(-max_degrees, max_degrees) around its centre."""
    from scipy.ndimage import rotate as nd_rotate

    angles = rng.uniform(-max_degrees, max_degrees, size=x.shape[0])
    out = np.empty_like(x)
    for i, angle in enumerate(angles):
        out[i] = nd_rotate(x[i], angle, axes=(1, 2), reshape=False, order=1, mode="nearest")
    return out


def fog(x: Images, rng: np.random.Generator, *, pool: np.ndarray | None = None, alpha: float = 0.3,
        value_range: tuple[float, float] | None = None) -> Images:
    """Blend each image with an overlay drawn from ``pool`` (P, C, H, W): (1-a) x + a overlay.

    Without a pool the overlay is a smooth random field (low-frequency noise).
    """
    n = x.shape[0]
    if pool is None:
        from scipy.ndimage import gaussian_filter

        field_ = rng.uniform(0, 1, size=x.shape)
        field_ = gaussian_filter(field_, sigma=(0, 0, 2, 2), mode="wrap")
        lo = value_range[0] if value_range else 0.0
        overlay = lo + (field_ - field_.min()) / max(float(np.ptp(field_)), 1e-12) * _span(value_range)
    else:
        pool = np.asarray(pool, dtype=x.dtype)
        if pool.ndim != 4 or pool.shape[1:] != x.shape[1:]:
            raise ConfigError(f"fog: overlay pool has shape {pool.shape}; expected (P, {', '.join(map(str, x.shape[1:]))})")
        overlay = pool[rng.integers(0, len(pool), size=n)]
    return ((1 - alpha) * x + alpha * overlay).astype(x.dtype, copy=False)


def hflip(x: Images, rng: np.random.Generator, *, p: float = 0.5,
          value_range: tuple[float, float] | None = None) -> Images:
    """Mirror each image left-right with probability ``p`` (natural images; not digits or text,
    whose mirror image is another symbol)."""
    flip = rng.random(x.shape[0]) < p
    out = x.copy()
    out[flip] = x[flip][..., ::-1]
    return out


def vflip(x: Images, rng: np.random.Generator, *, p: float = 0.5,
          value_range: tuple[float, float] | None = None) -> Images:
    """Mirror each image top-bottom with probability ``p`` (aerial, microscopy images)."""
    flip = rng.random(x.shape[0]) < p
    out = x.copy()
    out[flip] = x[flip][..., ::-1, :]
    return out


def crop(x: Images, rng: np.random.Generator, *, scale: float = 0.8,
         value_range: tuple[float, float] | None = None) -> Images:
    """Random crop: a window of U(scale, 1) times each side, at a random position, resized back
    to the full size (bilinear)."""
    from scipy.ndimage import map_coordinates

    n, c, h, w = x.shape
    out = np.empty_like(x)
    sides = rng.uniform(scale, 1.0, size=n)
    for i, s in enumerate(sides):
        ch, cw = s * (h - 1), s * (w - 1)
        y0, x0 = rng.uniform(0, (h - 1) - ch), rng.uniform(0, (w - 1) - cw)
        rows = y0 + np.linspace(0, ch, h)
        cols = x0 + np.linspace(0, cw, w)
        grid = np.meshgrid(rows, cols, indexing="ij")
        for k in range(c):
            out[i, k] = map_coordinates(x[i, k], grid, order=1, mode="nearest")
    return out


@dataclass(frozen=True)
class Transform:
    """A named transform with its default parameters."""

    name: str
    fn: Callable[..., Images]
    defaults: Mapping[str, Any] = field(default_factory=dict)


TRANSFORMS: dict[str, Transform] = {
    t.name: t
    for t in (
        Transform("blur", blur, {"sigma": 1.0}),
        Transform("noise", noise, {"std": 0.05}),
        Transform("brightness_contrast", brightness_contrast, {"brightness": 0.1, "contrast": 0.2}),
        Transform("shift", shift, {"max_shift": 1}),
        Transform("rotate", rotate, {"max_degrees": 10.0}),
        Transform("fog", fog, {"alpha": 0.3}),
        Transform("hflip", hflip, {"p": 0.5}),
        Transform("vflip", vflip, {"p": 0.5}),
        Transform("crop", crop, {"scale": 0.8}),
    )
}


def apply_transforms(x: Images, names: Sequence[str], *, rng: np.random.Generator,
                     params: Mapping[str, Mapping[str, Any]] | None = None,
                     value_range: tuple[float, float] | None = None) -> Images:
    """Apply the named transforms in order; clip to ``value_range`` at the end.

    Parameters
    ----------
    x : ndarray of shape (N, C, H, W)
    names : sequence of str
        Keys of :data:`TRANSFORMS`.
    rng : numpy.random.Generator
    params : dict of str to dict, default=None
        Per-transform parameter overrides, e.g. ``{"blur": {"sigma": 0.8}}``.
    value_range : (float, float), default=None
        Range of valid pixel values; strengths scale with its span and outputs are clipped to it.
    """
    x = np.asarray(x)
    if x.ndim != 4:
        raise ConfigError(f"transforms expect images of shape (N, C, H, W); got shape {x.shape}")
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float32)
    params = params or {}
    for name in names:
        if name not in TRANSFORMS:
            raise ConfigError(f"unknown transform {name!r}{did_you_mean(name, TRANSFORMS)}; "
                              f"available: {', '.join(TRANSFORMS)}")
    for name in params:
        if name not in TRANSFORMS:
            raise ConfigError(f"parameters given for unknown transform {name!r}; available: {', '.join(TRANSFORMS)}")
    for name in names:
        t = TRANSFORMS[name]
        kwargs = {**t.defaults, **params.get(name, {})}
        x = t.fn(x, rng, value_range=value_range, **kwargs)
    if value_range is not None:
        x = np.clip(x, value_range[0], value_range[1])
    return x

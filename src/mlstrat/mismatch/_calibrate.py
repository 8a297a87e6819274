"""Images being synthesized, fog overlays, and the calibration of strengths against target rows."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from mlstrat._exceptions import ConfigError
from mlstrat.mismatch._stats import IMAGE_STATS, image_statistics
from mlstrat.mismatch.transforms import apply_transforms

__all__ = [
    "CALIBRATED",
    "CALIBRATION_ROWS",
    "Calibration",
    "stats_distance",
    "Images",
    "OverlayPool",
    "resize_overlay",
    "with_pool",
    "calibrate",
    "coordinate_search",
    "maybe_calibrate",
    "plain_params",
    "to_byte_range",
    "load_overlays",
]

#: transform -> (parameter, grid searched by ``like``); strengths relative to the value range's span
CALIBRATED: dict[str, tuple[str, tuple[float, ...]]] = {
    "blur": ("sigma", tuple(np.round(np.linspace(0.0, 3.0, 31), 3))),
    "noise": ("std", tuple(np.round(np.linspace(0.0, 0.3, 16), 3))),
    "fog": ("alpha", tuple(np.round(np.linspace(0.0, 0.8, 9), 3))),
}


CALIBRATION_ROWS = 300  # source images used per calibration step (image files: a quarter)


@dataclass(frozen=True)
class Calibration:
    """Strengths chosen by ``like``: the grid values whose image statistics best match the target."""

    like: str
    n_target: int  # target rows (outside test) whose statistics were matched
    params: dict[str, dict[str, float]]  # the calibrated parameters only
    distance_before: float  # mean over statistics of W1(source, target) / pooled std
    distance_after: float  # the same for the synthesized images

    def to_dict(self) -> dict[str, Any]:
        return {
            "like": self.like,
            "n_target": self.n_target,
            "params": self.params,
            "distance_before": self.distance_before,
            "distance_after": self.distance_after,
        }


def stats_distance(
    a: dict[str, np.ndarray], b: dict[str, np.ndarray], scale: dict[str, float]
) -> float:
    from scipy.stats import wasserstein_distance

    return float(np.mean([wasserstein_distance(a[k], b[k]) / scale[k] for k in IMAGE_STATS]))


class Images:
    """The images being synthesized: one (N, C, H, W) array, or a list of (1, C, H, W) files."""

    def __init__(self, arrays: np.ndarray | list[np.ndarray], value_range: tuple[float, float]):
        self.arrays = arrays
        self.value_range = value_range

    def __len__(self) -> int:
        return len(self.arrays)

    def stats(self, idx: np.ndarray | None = None) -> dict[str, np.ndarray]:
        if isinstance(self.arrays, np.ndarray):
            sel = self.arrays if idx is None else self.arrays[idx]
            return image_statistics(sel, value_range=self.value_range)
        items = self.arrays if idx is None else [self.arrays[i] for i in idx]
        parts = [image_statistics(a, value_range=self.value_range) for a in items]
        return {
            k: np.concatenate([p[k] for p in parts]) if parts else np.zeros(0) for k in IMAGE_STATS
        }

    def transform(
        self,
        idx: np.ndarray,
        names: Sequence[str],
        params: Mapping[str, Mapping[str, Any]],
        rng: np.random.Generator,
        pool: OverlayPool | None,
    ) -> np.ndarray | list[np.ndarray]:
        if isinstance(self.arrays, np.ndarray):
            return apply_transforms(
                self.arrays[idx],
                names,
                rng=rng,
                value_range=self.value_range,
                params=with_pool(params, pool, self.arrays.shape[1:]),
            )
        return [
            apply_transforms(
                self.arrays[i],
                names,
                rng=rng,
                value_range=self.value_range,
                params=with_pool(params, pool, self.arrays[i].shape[1:]),
            )
            for i in idx
        ]


class OverlayPool:
    """Overlay images for ``fog``, resized on demand to each image shape."""

    def __init__(self, images: list[np.ndarray] | np.ndarray, value_range: tuple[float, float]):
        self.images = (
            images  # list of (C, H, W) in 0..255 from files, or a ready (P, C, H, W) array
        )
        self.value_range = value_range
        self._cache: dict[tuple[int, ...], np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.images)

    def for_shape(self, shape: tuple[int, ...]) -> np.ndarray:
        if isinstance(self.images, np.ndarray):
            return self.images
        if shape not in self._cache:
            self._cache[shape] = np.stack(
                [resize_overlay(img, shape, self.value_range) for img in self.images]
            )
        return self._cache[shape]


def resize_overlay(
    img: np.ndarray, shape: tuple[int, ...], value_range: tuple[float, float]
) -> np.ndarray:
    from PIL import Image

    c, h, w = shape
    grey = img.mean(axis=0) if c == 1 else None
    chans = [grey] if grey is not None else [img[min(k, img.shape[0] - 1)] for k in range(c)]
    out = np.stack(
        [
            np.asarray(
                Image.fromarray(ch.astype(np.float32), mode="F").resize((w, h), Image.BILINEAR)
            )
            for ch in chans
        ]
    )
    lo, hi = value_range
    return (lo + out / 255.0 * (hi - lo)).astype(np.float32)


def with_pool(
    params: Mapping[str, Mapping[str, Any]], pool: OverlayPool | None, shape: tuple[int, ...]
) -> dict:
    out = {k: dict(v) for k, v in params.items()}
    if pool is not None and "fog" in out:
        out["fog"]["pool"] = pool.for_shape(tuple(shape))
    return out


def calibrate(
    images: Images,
    source_idx: np.ndarray,
    target: dict[str, np.ndarray],
    names: Sequence[str],
    params: dict[str, dict[str, float]],
    fixed: set[tuple[str, str]],
    pool: OverlayPool | None,
    seed: int,
) -> tuple[dict[str, dict[str, float]], float, float]:
    """Coordinate search over the calibrated parameters: each in turn takes the grid value whose
    synthesized statistics are closest (mean W1 / pooled std) to the target's; three passes."""
    rng = np.random.default_rng(seed)
    cap = CALIBRATION_ROWS if isinstance(images.arrays, np.ndarray) else CALIBRATION_ROWS // 4
    sample = np.sort(rng.choice(source_idx, min(cap, len(source_idx)), replace=False))
    before = images.stats(sample)
    scale = {
        k: max(float(np.std(np.concatenate([before[k], target[k]]))), 1e-12) for k in IMAGE_STATS
    }

    def distance(p: dict[str, dict[str, float]]) -> float:
        out = images.transform(
            sample, names, p, np.random.default_rng(seed + 1), pool
        )  # common random numbers
        stats = Images(out, images.value_range).stats()
        return stats_distance(stats, target, scale)

    free = [
        (t, CALIBRATED[t][0], CALIBRATED[t][1])
        for t in names
        if t in CALIBRATED and (t, CALIBRATED[t][0]) not in fixed
    ]
    best, best_d = coordinate_search(params, free, distance)
    return best, stats_distance(before, target, scale), best_d


def coordinate_search(
    params: Mapping[str, Mapping[str, float]],
    free: Sequence[tuple[str, str, Sequence[float]]],
    distance: Callable[[dict[str, dict[str, float]]], float],
    *,
    sweeps: int = 3,
) -> tuple[dict[str, dict[str, float]], float]:
    """Minimize ``distance`` over the free strengths, one at a time on its grid.

    ``free`` lists ``(transform, parameter, grid)``; each sweep tries every grid value of each
    free parameter in turn, the others held at their best so far, and keeps a value only when
    it lowers the distance (by more than 1e-12: ties keep the earlier value, so the result does
    not depend on rounding noise). Stops after ``sweeps`` sweeps or a sweep that changed
    nothing. Returns (best parameters, their distance); used by the image and tabular synthesis.
    """
    best = {k: dict(v) for k, v in params.items()}
    best_d = distance(best)
    for _ in range(sweeps):
        changed = False
        for transform, name, grid in free:
            for value in grid:
                trial = {k: dict(v) for k, v in best.items()}
                trial[transform][name] = float(value)
                d = distance(trial)
                if d < best_d - 1e-12:
                    best, best_d, changed = trial, d, True
        if not changed:
            break
    return best, best_d


def maybe_calibrate(
    images: Images,
    base_idx: np.ndarray,
    target_idx: np.ndarray,
    names: tuple[str, ...],
    full_params: dict[str, dict[str, float]],
    user_params: dict[str, dict[str, float]],
    overlay: OverlayPool | None,
    seed: int,
    like: str,
    notes: list[str],
) -> tuple[dict[str, dict[str, float]], Calibration | None]:
    fixed = {(t, p) for t, ps in user_params.items() for p in ps}
    free = [t for t in names if t in CALIBRATED and (t, CALIBRATED[t][0]) not in fixed]
    if not free:
        notes.append(
            f"like={like!r}: none of {', '.join(names)} has a strength left to calibrate "
            f"({', '.join(CALIBRATED)} do, unless fixed by params); the given strengths were used"
        )
        return full_params, None
    params, d0, d1 = calibrate(
        images, base_idx, images.stats(target_idx), names, full_params, fixed, overlay, seed
    )
    return params, Calibration(
        like=like,
        n_target=len(target_idx),
        params={t: {CALIBRATED[t][0]: params[t][CALIBRATED[t][0]]} for t in free},
        distance_before=d0,
        distance_after=d1,
    )


def plain_params(params: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, float]]:
    return {t: {k: v for k, v in ps.items() if k != "pool"} for t, ps in params.items()}


def to_byte_range(img: np.ndarray, value_range: tuple[float, float]) -> np.ndarray:
    lo, hi = value_range
    return (img - lo) / max(hi - lo, 1e-12) * 255.0


def load_overlays(pool: Any, value_range: tuple[float, float]) -> OverlayPool:
    if isinstance(pool, np.ndarray):
        if pool.ndim != 4 or len(pool) == 0:
            raise ConfigError(
                f"pool: an overlay array must have shape (P, C, H, W) with P >= 1; got {pool.shape}"
            )
        return OverlayPool(pool.astype(np.float32), value_range)
    from mlstrat.mismatch._files import IMAGE_SUFFIXES, list_pool_files, read_image

    return OverlayPool(
        [read_image(p) for p in list_pool_files(pool, suffixes=IMAGE_SUFFIXES, kind="image")],
        value_range,
    )

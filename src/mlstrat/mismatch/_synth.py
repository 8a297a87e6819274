"""Artificial data synthesis: make training rows look like the target (METHOD.md §3, data mismatch).

Three kinds of rows: feature-vector images (pixel columns + ``image_shape``), image files
(``image_col``) and audio clips (``audio_col``, mixed with noise clips from a pool). New rows
are appended to the train split only, carry ``synthetic_of`` (the original id) and inherit
every other column, the group included, so that a synthetic copy can never sit in another
split than its original.
"""

from __future__ import annotations

import math
import os
import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mlstrat._exceptions import ConfigError, InputError, MlstratWarning
from mlstrat._numbers import did_you_mean
from mlstrat.mismatch._auc import Auc
from mlstrat.mismatch._features import as_images, manifest_bases
from mlstrat.mismatch._stats import IMAGE_STATS, image_statistics
from mlstrat.mismatch.transforms import TRANSFORMS, apply_transforms

__all__ = [
    "AUDIO_TRANSFORMS",
    "CALIBRATED",
    "REUSE_WARN",
    "PoolUsage",
    "Calibration",
    "SynthResult",
    "synthesize",
]

#: transforms for audio rows (``audio_col``): mix with a noise clip of the pool at a random SNR
AUDIO_TRANSFORMS: tuple[str, ...] = ("mix",)
#: warn when the pool is reused more than this many times over the synthesized set
REUSE_WARN = 10.0
#: transform -> (parameter, grid searched by ``like``); strengths relative to the value range's span
CALIBRATED: dict[str, tuple[str, tuple[float, ...]]] = {
    "blur": ("sigma", tuple(np.round(np.linspace(0.0, 3.0, 31), 3))),
    "noise": ("std", tuple(np.round(np.linspace(0.0, 0.3, 16), 3))),
    "fog": ("alpha", tuple(np.round(np.linspace(0.0, 0.8, 9), 3))),
}
_CALIBRATION_ROWS = 300  # source images used per calibration step (image files: a quarter)
_SYNTH_COLUMN = "synthetic_of"


@dataclass(frozen=True)
class PoolUsage:
    """How often the overlay/noise pool is reused over the synthesized set."""

    kind: str  # "fog overlay" or "noise"
    size: float  # number of overlay images, or seconds of noise
    unit: str  # "images" or "seconds"
    synthesized: float  # images synthesized, or seconds of audio synthesized
    reuse_factor: float  # synthesized / size
    max_reuse: float | None
    dropped_rows: int  # synthetic rows not made because of max_reuse

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "size": self.size,
            "unit": self.unit,
            "synthesized": self.synthesized,
            "reuse_factor": self.reuse_factor,
            "max_reuse": self.max_reuse,
            "dropped_rows": self.dropped_rows,
        }


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


@dataclass(frozen=True)
class SynthResult:
    """What :func:`synthesize` made. ``table`` (pyarrow: the input rows then the new ones) is not
    part of :meth:`to_dict`; :meth:`write` writes it."""

    kind: str  # "pixels", "image_files" or "audio_files"
    split: str
    transforms: tuple[str, ...]
    params: dict[str, dict[str, float]]  # every transform's parameters as used
    n_input_rows: int
    n_source_rows: int  # rows synthesized from
    n_synthesized: int
    copies: int
    seed: int
    like: str | None = None
    calibration: Calibration | None = None
    auc_before: Auc | None = None  # domain classifier: target rows vs the source rows
    auc_after: Auc | None = None  # target rows vs the synthesized rows
    pool: PoolUsage | None = None
    files_dir: str | None = None
    output: str | None = None
    excluded_leaking: int = 0  # source rows skipped: their group also sits outside train
    warnings: tuple[str, ...] = ()
    table: Any = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "split": self.split,
            "transforms": list(self.transforms),
            "params": self.params,
            "n_input_rows": self.n_input_rows,
            "n_source_rows": self.n_source_rows,
            "n_synthesized": self.n_synthesized,
            "n_output_rows": self.n_input_rows + self.n_synthesized,
            "copies": self.copies,
            "seed": self.seed,
            "like": self.like,
            "calibration": self.calibration.to_dict() if self.calibration else None,
            "auc_before": self.auc_before.to_dict() if self.auc_before else None,
            "auc_after": self.auc_after.to_dict() if self.auc_after else None,
            "pool": self.pool.to_dict() if self.pool else None,
            "excluded_leaking": self.excluded_leaking,
            "files_dir": self.files_dir,
            "output": self.output,
            "warnings": list(self.warnings),
        }

    def write(
        self, path: str | os.PathLike, *, force: bool = False, inputs: Sequence[Any] = ()
    ) -> Path:
        """Write the table (Parquet, CSV or JSONL by suffix), atomically; never over an input."""
        from mlstrat.tables import write_table

        return write_table(self.table, path, force=force, inputs=inputs)


def _check_transforms(names: Sequence[str], allowed: Sequence[str], kind: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in names if n.strip())
    if not names:
        raise ConfigError(f"no transform given; available for {kind}: {', '.join(allowed)}")
    unknown = [n for n in names if n not in allowed]
    if unknown:
        raise ConfigError(
            f"unknown transform(s) {', '.join(repr(u) for u in unknown)}"
            f"{did_you_mean(unknown[0], allowed)}; available for {kind}: {', '.join(allowed)}"
        )
    return names


def _text(values: list[Any]) -> np.ndarray:
    return np.array([None if v is None else str(v) for v in values], dtype=object)


def _wasserstein_distance(
    a: dict[str, np.ndarray], b: dict[str, np.ndarray], scale: dict[str, float]
) -> float:
    from scipy.stats import wasserstein_distance

    return float(np.mean([wasserstein_distance(a[k], b[k]) / scale[k] for k in IMAGE_STATS]))


class _Images:
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
        pool: _Pool | None,
    ) -> np.ndarray | list[np.ndarray]:
        if isinstance(self.arrays, np.ndarray):
            return apply_transforms(
                self.arrays[idx],
                names,
                rng=rng,
                value_range=self.value_range,
                params=_with_pool(params, pool, self.arrays.shape[1:]),
            )
        return [
            apply_transforms(
                self.arrays[i],
                names,
                rng=rng,
                value_range=self.value_range,
                params=_with_pool(params, pool, self.arrays[i].shape[1:]),
            )
            for i in idx
        ]


class _Pool:
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
                [_resize(img, shape, self.value_range) for img in self.images]
            )
        return self._cache[shape]


def _resize(
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


def _with_pool(
    params: Mapping[str, Mapping[str, Any]], pool: _Pool | None, shape: tuple[int, ...]
) -> dict:
    out = {k: dict(v) for k, v in params.items()}
    if pool is not None and "fog" in out:
        out["fog"]["pool"] = pool.for_shape(tuple(shape))
    return out


def _calibrate(
    images: _Images,
    source_idx: np.ndarray,
    target: dict[str, np.ndarray],
    names: Sequence[str],
    params: dict[str, dict[str, float]],
    fixed: set[tuple[str, str]],
    pool: _Pool | None,
    seed: int,
) -> tuple[dict[str, dict[str, float]], float, float]:
    """Coordinate search over the calibrated parameters: each in turn takes the grid value whose
    synthesized statistics are closest (mean W1 / pooled std) to the target's; three passes."""
    rng = np.random.default_rng(seed)
    cap = _CALIBRATION_ROWS if isinstance(images.arrays, np.ndarray) else _CALIBRATION_ROWS // 4
    sample = np.sort(rng.choice(source_idx, min(cap, len(source_idx)), replace=False))
    before = images.stats(sample)
    scale = {
        k: max(float(np.std(np.concatenate([before[k], target[k]]))), 1e-12) for k in IMAGE_STATS
    }

    def distance(p: dict[str, dict[str, float]]) -> float:
        out = images.transform(
            sample, names, p, np.random.default_rng(seed + 1), pool
        )  # common random numbers
        stats = _Images(out, images.value_range).stats()
        return _wasserstein_distance(stats, target, scale)

    free = [
        (t, CALIBRATED[t][0], CALIBRATED[t][1])
        for t in names
        if t in CALIBRATED and (t, CALIBRATED[t][0]) not in fixed
    ]
    best = {k: dict(v) for k, v in params.items()}
    best_d = distance(best)
    for _ in range(3):
        changed = False
        for t, name, grid in free:
            for value in grid:
                trial = {k: dict(v) for k, v in best.items()}
                trial[t][name] = float(value)
                d = distance(trial)
                if d < best_d - 1e-12:
                    best, best_d, changed = trial, d, True
        if not changed:
            break
    return best, _wasserstein_distance(before, target, scale), best_d


def synthesize(
    manifest: Any,
    *,
    split: str = "train",
    transforms: Sequence[str] | str,
    like: str | None = None,
    image_shape: Sequence[int] | None = None,
    value_range: tuple[float, float] | None = None,
    pool: Any = None,
    max_reuse: float | None = None,
    seed: int = 0,
    features: Sequence[str] | None = None,
    feature_prefix: str | None = None,
    image_col: str | None = None,
    audio_col: str | None = None,
    domain: str = "domain",
    params: Mapping[str, Mapping[str, float]] | None = None,
    copies: int = 1,
    snr: tuple[float, float] = (5.0, 20.0),
    output: str | os.PathLike | None = None,
    files_dir: str | os.PathLike | None = None,
    force: bool = False,
    split_col: str = "split",
    id_col: str = "id",
    group_col: str | None = "group",
    folds: int = 5,
    con: Any = None,
) -> SynthResult:
    """Synthesize target-like training rows and append them to the train split.

    Parameters
    ----------
    manifest : path-like or table
        Rows with a ``split`` column (from ``mlstrat split``) and an ``id`` column.
    split : str, default="train"
        The split synthesized from and appended to; only ``"train"`` is accepted: dev and
        test must keep measuring the real target, and train-dev must stay unseen data.
    transforms : sequence of str or comma-separated str
        Image rows: names of :data:`~mlstrat.mismatch.transforms.TRANSFORMS` (blur, noise,
        brightness_contrast, shift, rotate, fog), applied in order. Audio rows: ``mix``.
    like : str, default=None
        A value of ``domain`` (the target, e.g. ``"app"``): rows synthesized from are the train
        rows of the other domains; the blur sigma, noise std and fog alpha are searched to
        match the target rows' image statistics (target rows outside test), and the domain
        classifier AUC (target vs source rows, then vs synthesized rows) is reported.
    image_shape : (C, H, W), default=None
        Feature columns are the pixels of such images (required with features/feature_prefix).
    value_range : (float, float), default=None
        Pixel range; outputs are clipped to it. Defaults to (0, 255) for image files and to the
        min and max of the rows synthesized from for feature columns.
    pool : folder, file, sequence of files, or ndarray (P, C, H, W), default=None
        Overlay images for ``fog`` (without one, fog is a smooth random field), or noise clips
        for ``mix`` (required).
    max_reuse : float, default=None
        Cap on the pool's reuse factor (synthesized images per overlay image, or synthesized
        seconds per second of noise); rows beyond the cap are not synthesized.
    seed : int, default=0
    features, feature_prefix, image_col, audio_col : exactly one
        Where the data is: pixel columns, image file paths or audio file paths.
    domain : str, default="domain"
        The domain column (used with ``like``).
    params : dict, default=None
        Parameter overrides, e.g. ``{"blur": {"sigma": 0.8}}``; ``like`` leaves those as given.
    copies : int, default=1
        Synthetic rows per source row.
    snr : (float, float), default=(5, 20)
        Range of the signal-to-noise ratio in dB for ``mix`` (uniform per clip).
    output : path-like, default=None
        Write the table there (never over the manifest); files go to ``files_dir``, by
        default ``<output stem>_files/`` next to it.
    files_dir : path-like, default=None
        Folder for synthesized image/audio files (needed for files when no ``output``).
    force : bool, default=False
        Overwrite an existing output.
    split_col, id_col, group_col : str
        Column names; the group column is optional.
    folds : int, default=5
        Folds of the domain classifier behind ``auc_before``/``auc_after``.
    con : ibis DuckDB backend, default=None

    Returns
    -------
    SynthResult
    """
    from mlstrat.tables import check_output_path, describe_source, read_table

    kind, names, user_params = _check_options(
        transforms,
        split=split,
        features=features,
        feature_prefix=feature_prefix,
        image_col=image_col,
        audio_col=audio_col,
        image_shape=image_shape,
        pool=pool,
        max_reuse=max_reuse,
        copies=copies,
        snr=snr,
        params=params,
    )
    out_path = (
        check_output_path(output, inputs=[manifest], force=force) if output is not None else None
    )
    if files_dir is None and out_path is not None:
        files_dir = out_path.parent / f"{out_path.stem}_files"
    if kind != "pixels" and files_dir is None:
        raise ConfigError(
            "synthesized files need a folder: give output (files go next to it) or files_dir"
        )

    name = describe_source(manifest)
    data = read_table(manifest, con=con).to_pyarrow()
    sel = _select_rows(
        data,
        name=name,
        split_col=split_col,
        id_col=id_col,
        group_col=group_col,
        like=like,
        domain=domain,
    )
    notes = sel.notes
    rng = np.random.default_rng(seed)
    jobs = np.repeat(sel.base_idx, copies)  # (J,) manifest row of each synthetic row
    copy_no = np.tile(np.arange(1, copies + 1), len(sel.base_idx))
    common = dict(
        name=name,
        data=data,
        id_col=id_col,
        jobs=jobs,
        copy_no=copy_no,
        rng=rng,
        names=names,
        max_reuse=max_reuse,
        out_path=out_path,
        files_dir=Path(files_dir) if files_dir else None,
        bases=manifest_bases(manifest),
    )
    if kind == "audio_files":
        table, params_used, pool_usage, n_new = _synth_audio(
            audio_col=audio_col or "", pool=pool, snr=snr, like=like, notes=notes, **common
        )
        calibration = auc_before = auc_after = None
    else:
        table, params_used, pool_usage, n_new, calibration, auc_before, auc_after = _synth_images(
            kind=kind,
            sel=sel,
            features=features,
            feature_prefix=feature_prefix,
            image_col=image_col,
            image_shape=image_shape,
            value_range=value_range,
            pool=pool,
            user_params=user_params,
            like=like,
            domain=domain,
            seed=seed,
            folds=folds,
            notes=notes,
            **common,
        )
    pool_note(pool_usage, notes)
    for note in notes:
        warnings.warn(note, MlstratWarning, stacklevel=2)
    result = SynthResult(
        kind=kind,
        split=split,
        transforms=names,
        params=params_used,
        n_input_rows=data.num_rows,
        n_source_rows=len(sel.base_idx),
        n_synthesized=n_new,
        copies=copies,
        seed=seed,
        like=None if like is None else str(like),
        calibration=calibration,
        auc_before=auc_before,
        auc_after=auc_after,
        pool=pool_usage,
        files_dir=str(files_dir) if kind != "pixels" else None,
        output=str(out_path) if out_path else None,
        excluded_leaking=sel.excluded,
        warnings=tuple(notes),
        table=table,
    )
    if out_path is not None:
        result.write(out_path, force=force, inputs=[manifest])
    return result


def _check_options(
    transforms: Sequence[str] | str,
    *,
    split: str,
    features: Any,
    feature_prefix: Any,
    image_col: Any,
    audio_col: Any,
    image_shape: Any,
    pool: Any,
    max_reuse: float | None,
    copies: int,
    snr: tuple[float, float],
    params: Mapping[str, Mapping[str, float]] | None,
) -> tuple[str, tuple[str, ...], dict[str, dict[str, float]]]:
    """Validate the options before any data is read: (kind, transform names, parameter overrides)."""
    if isinstance(transforms, str):
        transforms = transforms.split(",")
    sources = [
        n
        for n, v in (
            ("features", features),
            ("feature_prefix", feature_prefix),
            ("image_col", image_col),
            ("audio_col", audio_col),
        )
        if v
    ]
    if len(sources) != 1:
        raise ConfigError(
            "give exactly one data source: features, feature_prefix, image_col or audio_col "
            f"(got {' and '.join(sources) or 'none'})"
        )
    kind = "audio_files" if audio_col else "image_files" if image_col else "pixels"
    names = _check_transforms(
        transforms,
        AUDIO_TRANSFORMS if kind == "audio_files" else list(TRANSFORMS),
        "audio" if kind == "audio_files" else "images",
    )
    if split != "train":
        raise ConfigError(
            f"split={split!r}: synthetic rows are appended to 'train' only (dev and test keep "
            "measuring the real target; train-dev must stay unseen); use split='train'"
        )
    if copies < 1:
        raise ConfigError(f"copies must be at least 1; got {copies}")
    if max_reuse is not None and max_reuse <= 0:
        raise ConfigError(f"max_reuse must be positive; got {max_reuse}")
    if kind == "pixels" and image_shape is None:
        raise ConfigError(
            "feature columns need image_shape (C,H,W), e.g. 1,8,8 for the digits, to be "
            "transformed as images"
        )
    if kind == "audio_files":
        if pool is None:
            raise ConfigError(
                "mix needs a pool of noise clips (a folder or files); give pool=/--pool"
            )
        if not (snr[0] <= snr[1]):
            raise ConfigError(f"snr range must be (low, high) with low <= high; got {snr}")
    user_params = {k: dict(v) for k, v in (params or {}).items()}
    for t in user_params:
        if t not in names:
            raise ConfigError(
                f"parameters given for {t!r}, which is not among the transforms ({', '.join(names)})"
            )
    return kind, names, user_params


@dataclass(frozen=True)
class _Selection:
    base_idx: np.ndarray  # rows synthesized from: train, not the target domain, group not leaking
    is_target: np.ndarray  # (N,) bool: target rows outside test (calibration and AUC)
    group: str | None
    excluded: int  # train rows skipped because their group also sits outside train
    notes: list[str]


def _require(data: Any, columns: Sequence[str | None], *, name: str, role: str) -> None:
    """:func:`mlstrat.tables.require_columns` (same message) on a pyarrow table."""
    from types import SimpleNamespace

    from mlstrat.tables import require_columns

    require_columns(SimpleNamespace(columns=data.column_names), columns, source=name, role=role)


def _select_rows(
    data: Any,
    *,
    name: str,
    split_col: str,
    id_col: str,
    group_col: str | None,
    like: str | None,
    domain: str,
) -> _Selection:
    """The leakage rule lives here: only train rows whose group stays in train are synthesized from."""
    if split_col not in data.column_names:
        raise InputError(
            f"{name}: no {split_col!r} column; run `mlstrat split` first so that synthetic rows "
            "can be appended to train only"
        )
    _require(data, [id_col], name=name, role="id column")
    if _SYNTH_COLUMN in data.column_names:
        raise InputError(
            f"{name}: already has a {_SYNTH_COLUMN!r} column; synthesize from the original "
            "manifest, not from a synthesized one"
        )
    if like is not None:
        _require(data, [domain], name=name, role="domain column")
    n = data.num_rows
    group = group_col if group_col and group_col in data.column_names else None
    splits = _text(data.column(split_col).to_pylist())
    is_train = splits == "train"
    if not is_train.any():
        raise InputError(
            f"{name}: no row has {split_col} = 'train'; values: "
            f"{', '.join(sorted({str(s) for s in splits if s is not None}))}"
        )
    base = is_train.copy()
    is_target = np.zeros(n, dtype=bool)
    if like is not None:
        dom = _text(data.column(domain).to_pylist())
        values = sorted({v for v in dom if v is not None})
        if str(like) not in values:
            raise InputError(
                f"{name}: column {domain!r} has no rows with value {str(like)!r}"
                f"{did_you_mean(str(like), values)}; values: {', '.join(values[:20])}"
            )
        is_target = (dom == str(like)) & (splits != "test")  # the test set is never looked at
        base &= dom != str(like)
        if not base.any():
            raise InputError(
                f"{name}: every train row is already {domain} = {like!r}; nothing to synthesize from"
            )
    notes: list[str] = []
    excluded = 0
    if group is not None:
        groups = _text(data.column(group).to_pylist())
        outside = set(groups[~is_train]) - {None}
        leaking = (
            base & np.isin(groups, np.array(sorted(outside), dtype=object))
            if outside
            else np.zeros(n, bool)
        )
        excluded = int(leaking.sum())
        if excluded:
            base &= ~leaking
            notes.append(
                f"{excluded} train row(s) were not synthesized from: their {group!r} also appears in "
                "train_dev/dev/test (the manifest already leaks; re-run mlstrat split)"
            )
    if not base.any():
        raise InputError(f"{name}: no train row is left to synthesize from")
    return _Selection(np.flatnonzero(base), is_target, group, excluded, notes)


def _load_images(
    data: Any,
    *,
    name: str,
    kind: str,
    sel: _Selection,
    features: Any,
    feature_prefix: Any,
    image_col: str | None,
    image_shape: Any,
    value_range: Any,
    bases: list[Path],
) -> tuple[_Images, list[str]]:
    """The images to synthesize from and to calibrate against, and the columns that hold them."""
    if kind == "pixels":
        from mlstrat.mismatch._features import FeatureSpec, feature_columns

        spec = FeatureSpec(
            features=tuple(features) if features else None,
            feature_prefix=feature_prefix,
            image_shape=tuple(image_shape),
        )
        cols = feature_columns(data.column_names, spec, source=name)
        X = np.stack(
            [data.column(c).to_numpy(zero_copy_only=False).astype(np.float32) for c in cols], axis=1
        )
        if np.isnan(X).any():
            raise InputError(
                f"{name}: feature columns hold empty/NaN values; images need every pixel"
            )
        if value_range is None:
            train = X[sel.base_idx]
            value_range = (float(train.min()), float(train.max()))
        return _Images(as_images(X, tuple(image_shape)), tuple(value_range)), cols

    from mlstrat.mismatch._files import read_image, resolve_paths

    _require(data, [image_col], name=name, role="image column")
    wanted = np.union1d(sel.base_idx, np.flatnonzero(sel.is_target))
    column = data.column(image_col).to_pylist()
    paths = resolve_paths(
        [column[i] for i in wanted], column=image_col or "", source=name, bases=bases
    )
    loaded: list[np.ndarray] = [
        np.zeros((1, 1, 3, 3), np.float32)
    ] * data.num_rows  # rows not needed stay blank
    for i, path in zip(wanted, paths):
        img = read_image(path)
        if min(img.shape[1:]) < 3:
            raise InputError(
                f"{path}: image of {img.shape[2]}x{img.shape[1]} pixels; needs at least 3x3"
            )
        loaded[i] = img[None]
    return _Images(loaded, tuple(value_range) if value_range else (0.0, 255.0)), [image_col or ""]


def _synth_images(
    *,
    kind: str,
    name: str,
    data: Any,
    sel: _Selection,
    id_col: str,
    jobs: np.ndarray,
    copy_no: np.ndarray,
    rng: np.random.Generator,
    names: tuple[str, ...],
    features: Any,
    feature_prefix: Any,
    image_col: str | None,
    image_shape: Any,
    value_range: Any,
    pool: Any,
    max_reuse: float | None,
    user_params: dict[str, dict[str, float]],
    like: str | None,
    domain: str,
    seed: int,
    folds: int,
    notes: list[str],
    out_path: Path | None,
    files_dir: Path | None,
    bases: list[Path],
) -> tuple[Any, dict, PoolUsage | None, int, Calibration | None, Auc | None, Auc | None]:
    import pyarrow as pa

    images, cols = _load_images(
        data,
        name=name,
        kind=kind,
        sel=sel,
        features=features,
        feature_prefix=feature_prefix,
        image_col=image_col,
        image_shape=image_shape,
        value_range=value_range,
        bases=bases,
    )
    overlay = (
        _load_overlays(pool, images.value_range) if "fog" in names and pool is not None else None
    )
    pool_usage = None
    if overlay is not None:
        jobs, copy_no, pool_usage = _cap_by_pool(
            jobs,
            copy_no,
            np.ones(len(jobs)),
            float(len(overlay)),
            "fog overlay",
            "images",
            max_reuse,
            rng,
            notes,
        )
    full_params = {t: {**TRANSFORMS[t].defaults, **user_params.get(t, {})} for t in names}
    calibration = auc_before = auc_after = None
    target_idx = np.flatnonzero(sel.is_target)
    if like is not None:
        if len(target_idx) < 2:
            raise InputError(
                f"{name}: only {len(target_idx)} {domain} = {like!r} row(s) outside test; "
                "need at least 2 to calibrate against"
            )
        full_params, calibration = _maybe_calibrate(
            images,
            sel.base_idx,
            target_idx,
            names,
            full_params,
            user_params,
            overlay,
            seed,
            str(like),
            notes,
        )
    new = images.transform(jobs, names, full_params, rng, overlay)
    if like is not None:
        auc_before, auc_after = _aucs(
            images, new, target_idx, sel.base_idx, jobs, data, sel.group, folds, seed
        )

    new_ids = _new_ids(data.column(id_col), jobs, copy_no, name, id_col)
    taken = data.take(pa.array(jobs))
    if kind == "pixels":
        flat = np.asarray(new).reshape(len(jobs), -1)
        for j, c in enumerate(cols):
            typ = data.schema.field(c).type
            vals = np.rint(flat[:, j]) if pa.types.is_integer(typ) else flat[:, j]
            taken = taken.set_column(taken.schema.get_field_index(c), c, pa.array(vals).cast(typ))
    else:
        from mlstrat.mismatch._files import write_image

        files_dir = _need_folder(files_dir)
        files_dir.mkdir(parents=True, exist_ok=True)
        written = []
        for img, new_id in zip(new, new_ids.to_pylist()):
            path = files_dir / f"{_safe(new_id)}.png"
            write_image(path, _to_byte_range(img[0], images.value_range))
            written.append(_stored_path(path, out_path))
        col = cols[0]
        taken = taken.set_column(
            taken.schema.get_field_index(col),
            col,
            pa.array(written).cast(data.schema.field(col).type),
        )
    table = _append(data, taken, new_ids, data.column(id_col).type, id_col, jobs)
    return table, _plain(full_params), pool_usage, len(jobs), calibration, auc_before, auc_after


def _need_folder(files_dir: Path | None) -> Path:
    if files_dir is None:
        raise ConfigError("synthesized files need a folder: give output (files go next to it) or files_dir")
    return files_dir


def _maybe_calibrate(
    images: _Images,
    base_idx: np.ndarray,
    target_idx: np.ndarray,
    names: tuple[str, ...],
    full_params: dict[str, dict[str, float]],
    user_params: dict[str, dict[str, float]],
    overlay: _Pool | None,
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
    params, d0, d1 = _calibrate(
        images, base_idx, images.stats(target_idx), names, full_params, fixed, overlay, seed
    )
    return params, Calibration(
        like=like,
        n_target=len(target_idx),
        params={t: {CALIBRATED[t][0]: params[t][CALIBRATED[t][0]]} for t in free},
        distance_before=d0,
        distance_after=d1,
    )


def _plain(params: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, float]]:
    return {t: {k: v for k, v in ps.items() if k != "pool"} for t, ps in params.items()}


def _to_byte_range(img: np.ndarray, value_range: tuple[float, float]) -> np.ndarray:
    lo, hi = value_range
    return (img - lo) / max(hi - lo, 1e-12) * 255.0


def _safe(value: Any) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", str(value))


def _stored_path(path: Path, out_path: Path | None) -> str:
    """Paths in the output table: relative to the output's folder when the file is under it."""
    if out_path is not None:
        try:
            return str(path.absolute().relative_to(out_path.absolute().parent))
        except ValueError:
            pass
    return str(path.absolute())


def _new_ids(ids: Any, jobs: np.ndarray, copy_no: np.ndarray, name: str, id_col: str) -> Any:
    """Integer ids continue after the largest id; text ids get a ``~syn<k>`` suffix."""
    import pyarrow as pa

    if pa.types.is_integer(ids.type):
        start = int(np.max(ids.to_numpy(zero_copy_only=False))) + 1 if len(ids) else 0
        return pa.array(np.arange(start, start + len(jobs)), type=ids.type)
    originals = ids.to_pylist()
    new = [f"{originals[j]}~syn{k}" for j, k in zip(jobs, copy_no)]
    clash = set(new) & {str(v) for v in originals}
    if clash:
        raise InputError(
            f"{name}: synthetic id(s) {', '.join(sorted(clash)[:3])} already exist in {id_col!r}"
        )
    return (
        pa.array(new).cast(ids.type)
        if not pa.types.is_string(ids.type)
        else pa.array(new, type=ids.type)
    )


def _append(
    data: Any, taken: Any, new_ids: Any, id_type: Any, id_col: str, jobs: np.ndarray
) -> Any:
    import pyarrow as pa

    originals = data.column(id_col).take(pa.array(jobs))
    taken = taken.set_column(taken.schema.get_field_index(id_col), id_col, new_ids)
    taken = taken.append_column(_SYNTH_COLUMN, originals)
    data = data.append_column(_SYNTH_COLUMN, pa.nulls(data.num_rows, type=id_type))
    return pa.concat_tables([data, taken.cast(data.schema)])


def _load_overlays(pool: Any, value_range: tuple[float, float]) -> _Pool:
    if isinstance(pool, np.ndarray):
        if pool.ndim != 4 or len(pool) == 0:
            raise ConfigError(
                f"pool: an overlay array must have shape (P, C, H, W) with P >= 1; got {pool.shape}"
            )
        return _Pool(pool.astype(np.float32), value_range)
    from mlstrat.mismatch._files import IMAGE_SUFFIXES, list_pool_files, read_image

    return _Pool(
        [read_image(p) for p in list_pool_files(pool, suffixes=IMAGE_SUFFIXES, kind="image")],
        value_range,
    )


def _cap_by_pool(
    jobs: np.ndarray,
    copy_no: np.ndarray,
    amount: np.ndarray,
    size: float,
    kind: str,
    unit: str,
    max_reuse: float | None,
    rng: np.random.Generator,
    notes: list[str],
) -> tuple[np.ndarray, np.ndarray, PoolUsage]:
    """Drop synthetic rows (chosen at random) until the pool's reuse factor is within ``max_reuse``."""
    dropped = 0
    if max_reuse is not None and amount.sum() > max_reuse * size:
        order = rng.permutation(len(jobs))
        keep_sorted = np.sort(order[np.cumsum(amount[order]) <= max_reuse * size])
        dropped = len(jobs) - len(keep_sorted)
        jobs, copy_no, amount = jobs[keep_sorted], copy_no[keep_sorted], amount[keep_sorted]
        notes.append(
            f"max_reuse={max_reuse:g}: {dropped} synthetic row(s) were not made so that the pool of "
            f"{size:g} {unit} is reused at most {max_reuse:g}x"
        )
        if not len(jobs):
            raise ConfigError(
                f"max_reuse={max_reuse:g} leaves no row to synthesize (pool of {size:g} {unit}); "
                "raise it or enlarge the pool"
            )
    used = float(amount.sum())
    return (
        jobs,
        copy_no,
        PoolUsage(
            kind=kind,
            size=size,
            unit=unit,
            synthesized=used,
            reuse_factor=used / size if size else math.inf,
            max_reuse=max_reuse,
            dropped_rows=dropped,
        ),
    )


def pool_note(usage: PoolUsage | None, notes: list[str]) -> None:
    """Add the small-pool warning when the reuse factor exceeds :data:`REUSE_WARN`."""
    if usage is None or usage.reuse_factor <= REUSE_WARN:
        return
    notes.append(
        f"small pool: the {usage.kind} pool ({usage.size:g} {usage.unit}) is reused {usage.reuse_factor:.1f}x "
        f"over the synthesized set ({usage.synthesized:g} {usage.unit}); a model can overfit the pool "
        "(it sounds or looks like a small part of the real target). Enlarge the pool or cap it "
        "with max_reuse (--max-reuse)"
    )


def _aucs(
    images: _Images,
    new: np.ndarray | list[np.ndarray],
    target_idx: np.ndarray,
    base_idx: np.ndarray,
    jobs: np.ndarray,
    data: Any,
    group: str | None,
    folds: int,
    seed: int,
) -> tuple[Auc, Auc]:
    """Domain-classifier AUC of the target rows vs the source rows, then vs the synthesized rows.

    Features: image statistics, plus the pixels for feature-vector images."""
    from mlstrat.mismatch._domain import domain_auc

    def feats(imgs: _Images, idx: np.ndarray | None) -> np.ndarray:
        stats = imgs.stats(idx)
        S = np.stack([stats[k] for k in IMAGE_STATS], axis=1)
        if isinstance(imgs.arrays, np.ndarray):
            arr = imgs.arrays if idx is None else imgs.arrays[idx]
            S = np.concatenate([S, arr.reshape(len(arr), -1)], axis=1)
        return S

    groups = _text(data.column(group).to_pylist()) if group else None
    g = (lambda idx: groups[idx]) if groups is not None else (lambda idx: None)
    X_t = feats(images, target_idx)
    grp_b = None if groups is None else np.concatenate([g(target_idx), g(base_idx)])
    before = domain_auc(X_t, feats(images, base_idx), folds=folds, seed=seed, groups=grp_b)
    synth = _Images(new if isinstance(new, np.ndarray) else list(new), images.value_range)
    grp_a = None if groups is None else np.concatenate([g(target_idx), g(jobs)])
    after = domain_auc(X_t, feats(synth, None), folds=folds, seed=seed, groups=grp_a)
    return before, after


def _synth_audio(
    *,
    name: str,
    data: Any,
    id_col: str,
    jobs: np.ndarray,
    copy_no: np.ndarray,
    rng: np.random.Generator,
    names: tuple[str, ...],
    max_reuse: float | None,
    out_path: Path | None,
    files_dir: Path | None,
    bases: list[Path],
    audio_col: str,
    pool: Any,
    snr: tuple[float, float],
    like: str | None,
    notes: list[str],
) -> tuple[Any, dict, PoolUsage, int]:
    """Mix each source clip with a random noise clip of the pool at a random SNR; write WAV files."""
    import pyarrow as pa

    from mlstrat.mismatch._files import (
        AUDIO_SUFFIXES,
        list_pool_files,
        mix_at_snr,
        read_audio,
        resolve_paths,
        write_audio,
    )

    _require(data, [audio_col], name=name, role="audio column")
    column = data.column(audio_col).to_pylist()
    uniq = np.unique(jobs)
    paths = dict(
        zip(
            uniq.tolist(),
            resolve_paths([column[i] for i in uniq], column=audio_col, source=name, bases=bases),
        )
    )
    clips = {i: read_audio(p) for i, p in paths.items()}
    noise = [
        (p, *read_audio(p)) for p in list_pool_files(pool, suffixes=AUDIO_SUFFIXES, kind="audio")
    ]
    pool_seconds = float(sum(len(d) / r for _, d, r in noise))
    seconds = np.array([len(clips[j][0]) / clips[j][1] for j in jobs])
    jobs, copy_no, usage = _cap_by_pool(
        jobs, copy_no, seconds, pool_seconds, "noise", "seconds", max_reuse, rng, notes
    )
    if like is not None:
        notes.append(
            f"like={like!r}: audio strength is not calibrated; the SNR range {snr[0]:g}..{snr[1]:g} dB "
            "was used as given"
        )
    files_dir = _need_folder(files_dir)
    files_dir.mkdir(parents=True, exist_ok=True)
    new_ids = _new_ids(data.column(id_col), jobs, copy_no, name, id_col)
    written, snrs = [], []
    for j, new_id in zip(jobs, new_ids.to_pylist()):
        clean, rate = clips[j]
        path, noise_data, noise_rate = noise[int(rng.integers(len(noise)))]
        if noise_rate != rate:
            raise InputError(
                f"{path}: noise sampled at {noise_rate} Hz but {paths[j]} at {rate} Hz; "
                "resample the pool to the clips' rate"
            )
        level = float(rng.uniform(snr[0], snr[1]))
        snrs.append(level)
        out = files_dir / f"{_safe(new_id)}.wav"
        write_audio(out, mix_at_snr(clean, noise_data, level, rng), rate)
        written.append(_stored_path(out, out_path))
    taken = data.take(pa.array(jobs))
    taken = taken.set_column(
        taken.schema.get_field_index(audio_col),
        audio_col,
        pa.array(written).cast(data.schema.field(audio_col).type),
    )
    table = _append(data, taken, new_ids, data.column(id_col).type, id_col, jobs)
    params = {
        "mix": {
            "snr_low": float(snr[0]),
            "snr_high": float(snr[1]),
            "snr_mean": float(np.mean(snrs)) if snrs else float("nan"),
        }
    }
    return table, params, usage, len(jobs)

"""Turn manifest columns into a feature matrix: numeric columns, image statistics, embeddings."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mlstrat._exceptions import ConfigError, InputError
from mlstrat._numbers import did_you_mean
from mlstrat.mismatch._stats import IMAGE_STATS, image_statistics

__all__ = [
    "FeatureSpec",
    "FeatureMatrix",
    "feature_columns",
    "build_features",
    "as_images",
    "manifest_bases",
]


#: the arguments that name where the features come from (messages name them)
_SOURCES = ("features", "feature_prefix", "image_col", "embedding_col")


@dataclass(frozen=True)
class FeatureSpec:
    """Where the features come from: exactly one of the four sources."""

    features: tuple[str, ...] | None = None  # numeric columns by name
    feature_prefix: str | None = None  # numeric columns whose name starts with this
    image_col: str | None = None  # image file paths -> image statistics
    embedding_col: str | None = None  # a list/array column (one vector per row)
    image_shape: tuple[int, int, int] | None = None  # (C, H, W): feature columns are image pixels
    value_range: tuple[float, float] | None = None  # pixel range of those images

    def __post_init__(self) -> None:
        given = [
            name
            for name, v in (
                ("features", self.features),
                ("feature_prefix", self.feature_prefix),
                ("image_col", self.image_col),
                ("embedding_col", self.embedding_col),
            )
            if v
        ]
        if len(given) != 1:
            what = "none" if not given else " and ".join(given)
            raise ConfigError(
                f"give exactly one feature source: features, feature_prefix, image_col or "
                f"embedding_col (got {what})", arguments=_SOURCES + ("image_shape",)
            )
        if self.image_shape is not None:
            if self.features is None and self.feature_prefix is None:
                raise ConfigError(
                    "image_shape describes feature columns as images; use it with "
                    "features or feature_prefix", arguments=("image_shape", "features", "feature_prefix")
                )
            if len(self.image_shape) != 3 or min(self.image_shape) < 1:
                raise ConfigError(
                    f"image_shape must be (C, H, W) with positive sizes; got {self.image_shape}",
                    arguments=("image_shape",)
                )


@dataclass(frozen=True)
class FeatureMatrix:
    X: np.ndarray  # (N, F) float64
    names: list[str]
    kind: str  # "columns", "pixels+image_stats", "image_files", "embedding"


def feature_columns(columns: Sequence[str], spec: FeatureSpec, *, source: str) -> list[str]:
    """The manifest columns that hold the features (checked to exist)."""
    available = list(columns)
    if spec.features is not None:
        cols = list(spec.features)
    elif spec.feature_prefix is not None:
        cols = [c for c in available if c.startswith(spec.feature_prefix)]
        if not cols:
            raise InputError(
                f"{source}: no column starts with {spec.feature_prefix!r}; "
                f"available columns: {', '.join(available[:20])}"
            )
    else:
        cols = [spec.image_col or spec.embedding_col or ""]
    missing = [c for c in cols if c not in available]
    if missing:
        raise InputError(
            f"{source}: missing feature column(s) {', '.join(repr(c) for c in missing[:5])}"
            f"{did_you_mean(missing[0], available)}; available columns: {', '.join(available[:20])}"
        )
    if spec.image_shape is not None:
        c, h, w = spec.image_shape
        if c * h * w != len(cols):
            raise ConfigError(
                f"image_shape {c},{h},{w} holds {c * h * w} pixels but {len(cols)} feature "
                "column(s) were given; the shape must match the number of feature columns",
                arguments=("image_shape",)
            )
    return cols


def manifest_bases(manifest: Any) -> list[Path]:
    """Folders that relative paths in a manifest file are resolved against (its own folder)."""
    import os

    if isinstance(manifest, (str, os.PathLike)):
        return [Path(manifest).absolute().parent]
    return []


def _numeric(table: Any, cols: Sequence[str], source: str) -> np.ndarray:
    import pyarrow as pa

    arrays = []
    for c in cols:
        col = table.column(c)
        if not (
            pa.types.is_integer(col.type)
            or pa.types.is_floating(col.type)
            or pa.types.is_boolean(col.type)
            or pa.types.is_decimal(col.type)
        ):
            raise InputError(
                f"{source}: feature column {c!r} has type {col.type}; features must be numeric "
                "(use --image-col for image paths, --embedding-col for vectors)"
            )
        arrays.append(col.to_numpy(zero_copy_only=False).astype(np.float64))
    return np.stack(arrays, axis=1) if arrays else np.zeros((table.num_rows, 0))


def as_images(X: np.ndarray, shape: tuple[int, int, int]) -> np.ndarray:
    """Rows of pixel features -> images (N, C, H, W) in row-major (C, H, W) order."""
    return X.reshape((X.shape[0], *shape))


def build_features(
    table: Any, spec: FeatureSpec, *, source: str, bases: Sequence[Path] = ()
) -> FeatureMatrix:
    """The feature matrix of a pyarrow table for ``spec`` (columns already checked)."""
    if spec.image_col is not None:
        from mlstrat.mismatch._files import read_image, resolve_paths

        paths = resolve_paths(
            table.column(spec.image_col).to_pylist(),
            column=spec.image_col,
            source=source,
            bases=bases,
        )
        rows = []
        for p in paths:
            img = read_image(p)
            if min(img.shape[1:]) < 3:
                raise InputError(
                    f"{p}: image of {img.shape[2]}x{img.shape[1]} pixels; needs at least 3x3"
                )
            stats = image_statistics(img[None], value_range=(0.0, 255.0))
            rows.append([stats[k][0] for k in IMAGE_STATS])
        return FeatureMatrix(
            np.asarray(rows, dtype=np.float64).reshape(len(rows), len(IMAGE_STATS)),
            list(IMAGE_STATS),
            "image_files",
        )
    if spec.embedding_col is not None:
        values = table.column(spec.embedding_col).to_pylist()
        lengths = {len(v) if isinstance(v, (list, tuple)) else -1 for v in values}
        if -1 in lengths or len(lengths) != 1:
            raise InputError(
                f"{source}: column {spec.embedding_col!r} must hold one list of numbers of the "
                "same length per row (an embedding)"
            )
        X = np.asarray(values, dtype=np.float64)
        return FeatureMatrix(
            X, [f"{spec.embedding_col}_{j}" for j in range(X.shape[1])], "embedding"
        )
    cols = (
        list(spec.features)
        if spec.features is not None
        else [c for c in table.column_names if c.startswith(spec.feature_prefix or "")]
    )
    X = _numeric(table, cols, source)
    if spec.image_shape is None:
        return FeatureMatrix(X, cols, "columns")
    stats = image_statistics(
        as_images(np.nan_to_num(X), spec.image_shape), value_range=spec.value_range
    )
    S = np.stack([stats[k] for k in IMAGE_STATS], axis=1)
    return FeatureMatrix(
        np.concatenate([S, X], axis=1), list(IMAGE_STATS) + cols, "pixels+image_stats"
    )

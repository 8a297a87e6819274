"""Reading the manifest into arrays: features, targets, splits and pass-through columns.

Digits-size data fits in memory, so the selected columns are materialized once to NumPy
(one engine query); everything else about the manifest stays in DuckDB. A local Parquet
manifest of modest size with plain column types is read by PyArrow directly: the same arrays,
without building the engine (~0.6-1.3 s of a short run's CPU).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mlstrat._constants import SPLITS
from mlstrat._exceptions import InputError
from mlstrat.nn._config import DataConfig

__all__ = ["Dataset", "load_dataset", "select_features", "feature_matrix", "Normalizer",
           "passthrough_columns", "check_weight_column", "weight_values", "WeightCheck",
           "open_manifest", "small_parquet", "SMALL_MANIFEST_BYTES"]

#: columns the predictions table writes itself: a manifest column of that name is not copied
_OUTPUT_NAMES = ("id", "split", "y_true", "y_pred", "task", "weight")


def passthrough_columns(columns: list[str], *, used: list[str]) -> list[str]:
    """The manifest columns copied to the predictions table: everything that is not a feature.

    Paths, text, domain, group, ... travel with each prediction so that error analysis shows
    the example itself. ``used`` lists the id, split, label/task and feature columns.
    """
    skip = set(used) | set(_OUTPUT_NAMES)
    return [c for c in columns if c not in skip and not c.startswith("proba_")]


@dataclass
class Dataset:
    """The manifest's rows as arrays (row order kept)."""

    source: str
    ids: np.ndarray  # (N,)
    split: np.ndarray  # (N,) of str
    X: np.ndarray  # (N, F) float32, not normalized
    feature_names: list[str]
    labels: np.ndarray | None  # (N,) original label values (single-task)
    classes: list[Any]  # sorted labels seen in train (single-task)
    y: np.ndarray  # (N,) int64 class index, or (N, T) float32 with NaN = missing (multi-task)
    tasks: list[str] = field(default_factory=list)
    passthrough: dict[str, np.ndarray] = field(default_factory=dict)
    weights: np.ndarray | None = None  # (N,) float64 importance weights ([data] weight_col); checked on train rows only

    def mask(self, split: str) -> np.ndarray:
        return self.split == split


def _numpy(column: Any) -> np.ndarray:
    import pyarrow as pa

    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    return column.to_numpy(zero_copy_only=False)


def select_features(columns: list[str], data: DataConfig, *, source: str) -> list[str]:
    """The feature column names the config asks for, checked against the table's columns."""
    from mlstrat._numbers import did_you_mean

    if data.features is not None:
        for name in data.features:
            if name not in columns:
                raise InputError(f"{source}: missing feature column {name!r}{did_you_mean(name, columns)}; "
                                 f"fix [data] features")
        return list(data.features)
    if data.feature_prefix is None:
        raise InputError(f"{source}: no features selected; set [data] features = [...] or "
                         "feature_prefix (e.g. \"px_\")")
    names = [c for c in columns if c.startswith(data.feature_prefix)]
    if not names:
        raise InputError(f"{source}: no column starts with feature_prefix {data.feature_prefix!r}; "
                         f"columns: {', '.join(columns[:20])}")
    return names


def feature_matrix(arrow: Any, names: list[str], *, source: str) -> np.ndarray:
    """(N, F) float32 matrix; a non-numeric column or NaN/empty values raise :class:`InputError`."""
    import pyarrow as pa

    cols = []
    for name in names:
        col = arrow.column(name)
        if pa.types.is_decimal(col.type):  # Spark and SQL exports write fixed-point numbers as decimals
            col = col.cast(pa.float64())
        if not (pa.types.is_integer(col.type) or pa.types.is_floating(col.type) or pa.types.is_boolean(col.type)):
            raise InputError(f"{source}: feature column {name!r} has type {col.type}; features must be numeric")
        cols.append(np.asarray(_numpy(col), dtype=np.float32))
    X = np.stack(cols, axis=1) if cols else np.zeros((arrow.num_rows, 0), np.float32)
    bad = ~np.isfinite(X)
    if bad.any():
        raise_nan_features(bad.sum(axis=0), names, source=source)
    return X


def raise_nan_features(counts: np.ndarray, names: list[str], *, source: str) -> None:
    """Raise :class:`InputError` naming the feature column with the most NaN/empty values."""
    worst = [i for i in np.argsort(-counts, kind="stable") if counts[i]]
    if not worst:
        return
    more = f" (and {len(worst) - 1} more column(s) with NaN)" if len(worst) > 1 else ""
    raise InputError(f"{source}: feature column {names[worst[0]]!r} has {int(counts[worst[0]])} "
                     f"NaN/empty value(s){more}; fill or drop those rows before training")


def check_weight_column(table: Any, data: DataConfig, features: list[str], *, source: str) -> None:
    """``[data] weight_col`` names a column of the table that is not also a feature."""
    from mlstrat.tables import require_columns

    col = data.weight_col
    if col is None:
        return
    require_columns(table, [col], source=source, role="weight column ([data] weight_col)")
    if col in features:
        raise InputError(f"{source}: weight column {col!r} is also selected as a feature by feature_prefix "
                         f"{data.feature_prefix!r}; rename the weight column or list [data] features")


def weight_values(column: Any, *, name: str, source: str) -> np.ndarray:
    """(N,) float64 weights of a pyarrow column, empty values as NaN; a non-numeric column raises
    :class:`InputError`."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    if not (pa.types.is_integer(column.type) or pa.types.is_floating(column.type)
            or pa.types.is_boolean(column.type) or pa.types.is_null(column.type)):
        raise InputError(f"{source}: weight column {name!r} ([data] weight_col) has type {column.type}; "
                         "importance weights must be numbers >= 0")
    return np.asarray(pc.cast(column, pa.float64()).to_numpy(zero_copy_only=False), dtype=np.float64)


@dataclass
class WeightCheck:
    """Checks the train rows' weights, batch by batch: finite, >= 0, not all zero.

    Only train rows are checked (and used): dev and test are never weighted, so their weights
    may be empty (``mlstrat mismatch -o`` writes weights for source rows only).
    """

    name: str
    source: str
    bad: int = 0  # empty, NaN or infinite
    negative: int = 0
    smallest: float = math.inf
    largest: float = 0.0  # what the weights are divided by before training (see `scale`)
    total: float = 0.0
    rows: int = 0

    def add(self, weights: np.ndarray) -> None:
        finite = np.isfinite(weights)
        self.bad += int((~finite).sum())
        ok = weights[finite]
        self.negative += int((ok < 0).sum())
        if ok.size:
            self.smallest = min(self.smallest, float(ok.min()))
            self.largest = max(self.largest, float(ok.max()))
        self.total += float(ok[ok > 0].sum())
        self.rows += len(weights)

    def check(self) -> None:
        where = f"{self.source}: weight column {self.name!r}"
        if self.bad:
            raise InputError(f"{where} has {self.bad} empty, NaN or infinite value(s) in train rows; every "
                             "train row needs a finite weight >= 0 (give target rows in train one too)")
        if self.negative:
            raise InputError(f"{where} has {self.negative} negative value(s) in train rows (smallest "
                             f"{self.smallest:g}); importance weights must be >= 0")
        if self.rows and not self.total > 0:
            raise InputError(f"{where} is 0 on every train row; at least one train row needs a positive weight")

    @property
    def scale(self) -> float:
        """The largest train weight: the loss sum(w l) / sum(w) does not change when every weight is
        divided by it, and the float32 training then sees weights in (0, 1] whatever their unit
        (1e-300 would round to 0 and 1e300 to infinity)."""
        return self.largest if self.largest > 0 else 1.0


def check_label_type(table: Any, name: str, *, source: str) -> None:
    """Refuse a label column of lists, structs, maps or bytes: a label is one class per row."""
    kind = table[name].type()
    if kind.is_nested() or kind.is_binary():
        raise InputError(f"{source}: label column {name!r} holds {kind} values; a label is one class per row, a "
                         "string or an integer ([data] label): write the class itself (e.g. the index of a "
                         "one-hot list's 1), or each 0/1 target as its own column in [multitask] tasks")


def open_manifest(manifest: Any, data: DataConfig, *, con: Any = None) -> tuple[str, Any]:
    """``(name for messages, table)`` of a training manifest that has a split and an id column."""
    from mlstrat.tables import describe_source, read_table, require_columns

    source = describe_source(manifest)
    table = read_table(manifest, con=con)
    if "split" not in table.columns:
        raise InputError(f"{source}: no 'split' column; training needs to know which rows are "
                         f"{', '.join(SPLITS)}. Run `mlstrat split {source} -o split.parquet` first")
    require_columns(table, [data.id], source=source, role="id column")
    return source, table


#: a local Parquet manifest up to this size is read by PyArrow without the engine
SMALL_MANIFEST_BYTES = 256 * 2**20


def small_parquet(manifest: Any, *, con: Any = None) -> str | None:
    """The path of a manifest to read with PyArrow directly: a local ``.parquet`` file of at most
    :data:`SMALL_MANIFEST_BYTES`, on the default engine (an engine the caller passes is used)."""
    if con is not None or not isinstance(manifest, (str, os.PathLike)):
        return None
    path = os.fspath(manifest)
    if "://" in path or not path.lower().endswith(".parquet") or not os.path.isfile(path):
        return None
    return path if os.path.getsize(path) <= SMALL_MANIFEST_BYTES else None


def _plain_type(kind: Any) -> bool:
    """Types the engine hands back unchanged: numbers, booleans and text (others, such as
    timestamps, decimals or float16, go through the engine so both paths give the same values)."""
    import pyarrow as pa

    if pa.types.is_dictionary(kind):
        kind = kind.value_type
    return (pa.types.is_integer(kind) or pa.types.is_boolean(kind)
            or kind in (pa.float32(), pa.float64())
            or pa.types.is_string(kind) or pa.types.is_large_string(kind))


def _plan(columns: list[str], data: DataConfig, tasks: tuple[str, ...], *,
          source: str) -> tuple[list[str], list[str], list[str]]:
    """``(features, pass-through columns, columns to read in order)``."""
    names = select_features(columns, data, source=source)
    targets = list(tasks) if tasks else [data.label]
    passthrough = passthrough_columns(columns, used=[data.id, "split", *targets, *names])
    weight = [data.weight_col] if data.weight_col is not None else []
    wanted = list(dict.fromkeys([data.id, "split", *targets, *passthrough, *weight, *names]))
    return names, passthrough, wanted


def _read_with_pyarrow(path: str, data: DataConfig,
                       tasks: tuple[str, ...]) -> tuple[Any, list[str], list[str]] | None:
    """``(arrow table, features, pass-through)`` read by PyArrow; ``None`` when anything about
    the file needs the engine's checks and messages (a missing column, a type not plain)."""
    import pyarrow.parquet as pq

    try:
        schema = pq.read_schema(path)
    except Exception:  # the engine reports an unreadable file with its own message
        return None
    columns = list(schema.names)
    targets = list(tasks) if tasks else [data.label]
    weight = [data.weight_col] if data.weight_col is not None else []
    needed = [data.id, "split", *targets, *weight]
    if len(set(columns)) != len(columns) or any(c not in columns for c in needed):
        return None
    try:
        names, passthrough, wanted = _plan(columns, data, tasks, source=path)
    except InputError:
        return None
    if data.weight_col in names or not all(_plain_type(schema.field(c).type) for c in wanted):
        return None
    try:
        arrow = pq.read_table(path, columns=wanted)
    except Exception:  # a damaged file: the engine path reads it again and names the problem
        return None
    return arrow, names, passthrough


def _read_with_engine(manifest: Any, data: DataConfig, tasks: tuple[str, ...], *,
                      con: Any) -> tuple[str, Any, list[str], list[str]]:
    """``(source, arrow table, features, pass-through)`` through the engine, with every check."""
    from mlstrat.tables import require_columns

    source, table = open_manifest(manifest, data, con=con)
    columns = list(table.columns)
    names = select_features(columns, data, source=source)
    targets = list(tasks) if tasks else [data.label]
    require_columns(table, targets, source=source, role="task column" if tasks else "label column")
    for target in targets:
        check_label_type(table, target, source=source)
    check_weight_column(table, data, names, source=source)
    names, passthrough, wanted = _plan(columns, data, tasks, source=source)
    return source, table.select(*wanted).to_pyarrow(), names, passthrough


def load_dataset(manifest: Any, data: DataConfig, *, tasks: tuple[str, ...] = (), con: Any = None,
                 classes: list[Any] | None = None) -> Dataset:
    """Read the manifest and check it: split column, features, labels."""
    from mlstrat.tables import describe_source

    path = small_parquet(manifest, con=con)
    direct = _read_with_pyarrow(path, data, tasks) if path is not None else None
    if direct is not None:
        source = describe_source(manifest)
        arrow, names, passthrough = direct
    else:
        source, arrow, names, passthrough = _read_with_engine(manifest, data, tasks, con=con)

    split = np.asarray(_numpy(arrow.column("split")), dtype=object)
    missing = np.array([s is None for s in split])
    if missing.any():
        raise InputError(f"{source}: column 'split' has {int(missing.sum())} empty value(s); every row "
                         f"needs one of {', '.join(SPLITS)}")
    split = split.astype(str)
    unknown = sorted({str(s) for s in np.unique(split)} - set(SPLITS))
    if unknown:
        raise InputError(f"{source}: column 'split' has unknown value(s) {', '.join(map(repr, unknown))}; "
                         f"allowed: {', '.join(SPLITS)}")
    if not (split == "train").any():
        raise InputError(f"{source}: no 'train' rows; the model needs training examples")

    X = feature_matrix(arrow, names, source=source)
    ids = _numpy(arrow.column(data.id))
    extra = {c: _numpy(arrow.column(c)) for c in passthrough}
    weights = _train_weights(arrow, data, split, source=source)
    if tasks:
        y = _task_matrix(arrow, list(tasks), source=source)
        return Dataset(source, ids, split, X, names, None, [], y, list(tasks), extra, weights)
    labels, known, y = _labels(arrow.column(data.label), split, data.label, source=source, classes=classes)
    return Dataset(source, ids, split, X, names, labels, known, y, [], extra, weights)


def _train_weights(arrow: Any, data: DataConfig, split: np.ndarray, *, source: str) -> np.ndarray | None:
    if data.weight_col is None:
        return None
    weights = weight_values(arrow.column(data.weight_col), name=data.weight_col, source=source)
    check = WeightCheck(data.weight_col, source)
    check.add(weights[split == "train"])
    check.check()
    return weights / check.scale


def _labels(column: Any, split: np.ndarray, name: str, *, source: str,
            classes: list[Any] | None) -> tuple[np.ndarray, list[Any], np.ndarray]:
    labels = _numpy(column)
    empty = np.array([v is None or (isinstance(v, float) and np.isnan(v)) for v in labels])
    if empty.any():
        raise InputError(f"{source}: label column {name!r} has {int(empty.sum())} empty/NaN value(s); "
                         "drop those rows or fill the labels")
    if classes is None:
        classes = sorted(np.unique(labels[split == "train"]).tolist())
    index = {c: i for i, c in enumerate(classes)}
    y = np.array([index.get(v, -1) for v in labels.tolist()], dtype=np.int64)
    unseen = y < 0
    if unseen.any():
        parts = []
        for s in SPLITS:
            rows = unseen & (split == s)
            if rows.any():
                values = sorted({str(v) for v in labels[rows].tolist()})
                parts.append(f"{', '.join(values[:5])}{' ...' if len(values) > 5 else ''} in {s} "
                             f"({int(rows.sum())} rows)")
        raise InputError(f"{source}: label(s) never seen in train: {'; '.join(parts)}; the model cannot "
                         "learn a class without training examples. Add such rows to train or drop them")
    return labels, classes, y


def _task_matrix(arrow: Any, tasks: list[str], *, source: str) -> np.ndarray:
    import pyarrow as pa

    cols = []
    for task in tasks:
        col = arrow.column(task)
        if not (pa.types.is_integer(col.type) or pa.types.is_floating(col.type)
                or pa.types.is_boolean(col.type) or pa.types.is_null(col.type)):
            raise InputError(f"{source}: task column {task!r} has type {col.type}; tasks are binary "
                             "targets (0/1, empty = missing)")
        values = np.array([np.nan if v is None else float(v) for v in col.to_pylist()], dtype=np.float32)
        bad = ~np.isnan(values) & (values != 0) & (values != 1)
        if bad.any():
            raise InputError(f"{source}: task column {task!r} has {int(bad.sum())} value(s) other than "
                             "0, 1 or empty (e.g. "
                             f"{values[bad][0]:g}); tasks are binary targets")
        cols.append(values)
    return np.stack(cols, axis=1)


@dataclass(frozen=True)
class Normalizer:
    """Input normalization x -> (x - mean) / std with statistics from the train rows only."""

    mean: np.ndarray  # (F,)
    std: np.ndarray  # (F,)

    @classmethod
    def fit(cls, X_train: np.ndarray) -> Normalizer:
        # float64 accumulators without a float64 copy of the matrix
        mean, std = X_train.mean(axis=0, dtype=np.float64), X_train.std(axis=0, dtype=np.float64)
        std = np.where(std > 1e-12, std, 1.0)  # a constant feature stays 0 instead of dividing by 0
        return cls(mean.astype(np.float32), std.astype(np.float32))

    def __call__(self, X: np.ndarray) -> np.ndarray:
        out = np.subtract(X, self.mean, dtype=np.float32)
        out /= self.std
        return out

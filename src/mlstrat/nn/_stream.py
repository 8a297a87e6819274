"""The streaming path: the manifest read in record batches from the engine, never materialized.

``[data] loader = "stream"`` (or ``auto`` for image files and big manifests). One pass over the
rows checks them (split values, NaN features, labels, image files) and accumulates the
normalization statistics of the train rows in float64; every epoch then streams the train rows
through a bounded, seeded shuffle buffer; dev evaluation and the final predictions (written
batch by batch to Parquet) stream too. Image files are read with Pillow only when a mini-batch
needs them.
"""

from __future__ import annotations

import math
import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import IterableDataset

from mlstrat._constants import SPLITS
from mlstrat._exceptions import ConfigError, InputError
from mlstrat.nn._config import DataConfig
from mlstrat.nn._data import (
    Normalizer,
    WeightCheck,
    check_label_type,
    check_weight_column,
    open_manifest,
    passthrough_columns,
    raise_nan_features,
    select_features,
    weight_values,
)
from mlstrat.nn._distributed import StreamShards

__all__ = ["DEFAULT_STREAM_ROWS", "choose_loader", "StreamSource", "StreamStats", "TrainStream",
           "load_images", "record_batches"]

DEFAULT_STREAM_ROWS = 5_000_000
#: a training mini-batch: features (B, F), class index (B,), importance weights (B,) or None
Batch = tuple[torch.Tensor, torch.Tensor, "torch.Tensor | None"]
_IMAGE_CHUNK = 512  # images decoded at once outside of training mini-batches
_EVAL_CHUNK = 8192
_NULL = "\x00null"  # stands for an empty split value while counting


def stream_threshold() -> int:
    """Rows above which ``loader = "auto"`` streams: ``MLSTRAT_STREAM_ROWS``, default 5 million."""
    raw = os.environ.get("MLSTRAT_STREAM_ROWS")
    if not raw:
        return DEFAULT_STREAM_ROWS
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"MLSTRAT_STREAM_ROWS = {raw!r} must be a whole number of rows") from None
    return value


def choose_loader(data: DataConfig, n_rows: int | None) -> str:
    """The loader ``auto`` resolves to: stream for image files or more rows than the threshold."""
    if data.loader != "auto":
        return data.loader
    if data.image_col is not None:
        return "stream"
    return "stream" if n_rows is not None and n_rows > stream_threshold() else "memory"


def record_batches(con: Any, expr: Any, chunk_size: int) -> Iterator[Any]:
    """pyarrow RecordBatches of at most ``chunk_size`` rows of an Ibis expression on the engine."""
    from mlstrat.tables import engine_of

    for batch in engine_of(con).batches(expr, chunk_size=chunk_size):
        if batch.num_rows:
            yield batch


def load_images(paths: list[str] | np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """(N, C*H*W) float32 in [0, 1]: grayscale for C = 1, RGB for C = 3, resized to H x W (bilinear)."""
    from PIL import Image

    c, h, w = shape
    out = np.empty((len(paths), c * h * w), np.float32)
    mode = "L" if c == 1 else "RGB"
    for i, p in enumerate(paths):
        try:
            with Image.open(p) as im:
                im = im.convert(mode)
                if im.size != (w, h):
                    im = im.resize((w, h), Image.BILINEAR)
                a = np.asarray(im, dtype=np.float32) / 255.0
        except (OSError, ValueError) as exc:  # PIL.UnidentifiedImageError is an OSError
            raise InputError(f"{p}: cannot be read as an image ({type(exc).__name__}: {exc}); fix or "
                             "remove that file or its row") from None
        out[i] = (a if c == 1 else a.transpose(2, 0, 1)).reshape(-1)
    return out


def image_matrix(values: list[Any], *, base_dir: Path, shape: tuple[int, ...], source: str,
                 column: str) -> np.ndarray:
    """Image files named by ``values`` (relative to ``base_dir``) as (N, C*H*W) float32 in [0, 1];
    missing files raise :class:`InputError` with their count and the first few paths."""
    paths = [None if v is None else str(base_dir / str(v)) for v in values]
    missing = [str(p) for p in paths if p is None or not os.path.isfile(p)]
    if missing:
        raise InputError(f"{source}: {len(missing)} image file(s) of column {column!r} not found, "
                         f"e.g. {', '.join(missing[:5])}; paths are relative to the table's folder {base_dir}")
    return load_images(paths, shape)


def _decode(column: Any) -> Any:
    import pyarrow as pa

    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    return column


@dataclass
class StreamStats:
    """What the checking pass found: sizes, classes, normalization, value range."""

    n: dict[str, int]
    classes: list[Any]
    normalizer: Normalizer
    low: float
    high: float
    weight_scale: float = 1.0  # the train weights are divided by it (WeightCheck.scale)

    @property
    def m(self) -> int:
        return self.n.get("train", 0)


@dataclass
class StreamSource:
    """A manifest read in record batches: the selected columns, the image settings, the engine."""

    manifest: str
    data: DataConfig
    con: Any
    table: Any = None
    source: str = ""
    names: list[str] = field(default_factory=list)  # feature columns (empty for image files)
    passthrough: list[str] = field(default_factory=list)
    schema: dict[str, Any] = field(default_factory=dict)  # column -> arrow type
    base_dir: Path = Path(".")

    @classmethod
    def open(cls, manifest: str, data: DataConfig, *, con: Any = None) -> StreamSource:
        from mlstrat.tables import default_connection, require_columns

        con = con or default_connection()
        source, table = open_manifest(manifest, data, con=con)
        columns = list(table.columns)
        require_columns(table, [data.label], source=source, role="label column")
        check_label_type(table, data.label, source=source)
        if data.image_col is not None:
            require_columns(table, [data.image_col], source=source, role="image path column (image_col)")
            names: list[str] = []
        else:
            names = select_features(columns, data, source=source)
        check_weight_column(table, data, names, source=source)
        # the image path column is both the input and what error analysis shows: copied too
        passthrough = passthrough_columns(columns, used=[data.id, "split", data.label, *names])
        schema = {f.name: _decode_type(f.type) for f in table.schema().to_pyarrow()}
        base = Path(manifest).resolve().parent if isinstance(manifest, (str, os.PathLike)) else Path.cwd()
        return cls(str(manifest), data, con, table, source, names, passthrough, schema, base)

    @property
    def n_inputs(self) -> int:
        shape = self.data.image_shape
        return math.prod(shape) if self.data.image_col is not None and shape else len(self.names)

    @property
    def feature_names(self) -> list[str]:
        return [self.data.image_col] if self.data.image_col is not None else list(self.names)

    # -- reading -------------------------------------------------------------------------------

    def batches(self, columns: list[str], *, split: str | None = None, chunk_size: int | None = None,
                limit: int | None = None) -> Iterator[Any]:
        expr = self.table
        if split is not None:
            expr = expr.filter(expr.split == split)
        expr = expr.select(*dict.fromkeys(columns))
        if limit is not None:
            expr = expr.limit(limit)
        yield from record_batches(self.con, expr, chunk_size or self.data.chunk_size)

    def input_columns(self) -> list[str]:
        return [self.data.image_col] if self.data.image_col is not None else list(self.names)

    def keys(self, batch: Any) -> np.ndarray:
        """Per row what :meth:`materialize` turns into features: raw features, or image paths."""
        import pyarrow as pa
        import pyarrow.compute as pc

        if self.data.image_col is not None:
            values = _decode(batch.column(self.data.image_col)).to_pylist()
            return np.array([None if v is None else str(self.base_dir / str(v)) for v in values], dtype=object)
        cols = []
        for name in self.names:
            col = _decode(batch.column(name))
            if not (pa.types.is_integer(col.type) or pa.types.is_floating(col.type)
                    or pa.types.is_boolean(col.type) or pa.types.is_decimal(col.type)):
                raise InputError(f"{self.source}: feature column {name!r} has type {col.type}; features "
                                 "must be numeric")
            cols.append(pc.cast(col, pa.float32()).to_numpy(zero_copy_only=False))
        return np.stack(cols, axis=1) if cols else np.zeros((batch.num_rows, 0), np.float32)

    def materialize(self, keys: np.ndarray) -> np.ndarray:
        """(N, F) float32 raw features (image files decoded)."""
        if self.data.image_col is None:
            return keys
        return load_images(keys.tolist(), tuple(self.data.image_shape))

    def weights(self, batch: Any) -> np.ndarray:
        """(N,) float64 importance weights of a batch (``[data] weight_col``), empty values as NaN."""
        return weight_values(batch.column(self.data.weight_col), name=self.data.weight_col, source=self.source)

    def label_index(self, batch: Any, classes: list[Any]) -> np.ndarray:
        import pyarrow as pa
        import pyarrow.compute as pc

        col = _decode(batch.column(self.data.label))
        idx = pc.index_in(col, value_set=pa.array(classes, type=col.type))
        return idx.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)

    # -- the checking pass ---------------------------------------------------------------------

    def scan(self) -> StreamStats:
        """One pass over every row: check split, features/images and labels; train statistics."""
        data = self.data
        weight = [data.weight_col] if data.weight_col is not None else []
        columns = ["split", data.label, *self.input_columns(), *weight]
        tally = _ScanTally(len(self.names), WeightCheck(data.weight_col, self.source) if weight else None)
        for batch in self.batches(columns):
            split = tally.add_splits_and_labels(batch, data.label)
            keys = self.keys(batch)
            train = split == "train"
            if tally.weights is not None:
                tally.weights.add(self.weights(batch)[train])
            train &= self._usable(keys, tally)
            rows = keys[train]
            step = _IMAGE_CHUNK if data.image_col is not None else max(len(rows), 1)
            for i in range(0, len(rows), step):
                tally.moments.add(self.materialize(rows[i:i + step]).astype(np.float64))
        self._check_scan(tally)
        classes = self._train_classes(tally.labels)
        moments = tally.moments
        std = np.sqrt(moments.m2 / moments.count)
        std = np.where(std > 1e-12, std, 1.0)
        normalizer = Normalizer(moments.mean.astype(np.float32), std.astype(np.float32))
        low, high = (0.0, 1.0) if data.image_col is not None else (moments.low, moments.high)
        scale = tally.weights.scale if tally.weights is not None else 1.0
        return StreamStats(dict(tally.n), classes, normalizer, low, high, weight_scale=scale)

    def _usable(self, keys: np.ndarray, tally: _ScanTally) -> np.ndarray:
        """(N,) rows whose inputs are there: image files that exist, or finite features; what is
        missing is counted in ``tally``."""
        if self.data.image_col is not None:
            exists = np.array([k is not None and os.path.isfile(k) for k in keys.tolist()])
            if not exists.all():
                bad = [str(k) for k in keys[~exists].tolist()]
                tally.n_missing += len(bad)
                tally.missing.extend(bad[:max(0, 5 - len(tally.missing))])
            return exists
        tally.nan_counts += (~np.isfinite(keys)).sum(axis=0)
        return np.isfinite(keys).all(axis=1)

    def _check_scan(self, tally: _ScanTally) -> None:
        """What the pass found wrong, the first problem in a fixed order, in one line."""
        data, n = self.data, tally.n
        unknown_split = {s for s in n if s not in SPLITS and s != _NULL}
        if tally.empty_split:
            raise InputError(f"{self.source}: column 'split' has {tally.empty_split} empty value(s); every row "
                             f"needs one of {', '.join(SPLITS)}")
        if unknown_split:
            raise InputError(f"{self.source}: column 'split' has unknown value(s) "
                             f"{', '.join(map(repr, sorted(unknown_split)))}; allowed: {', '.join(SPLITS)}")
        if not n["train"]:
            raise InputError(f"{self.source}: no 'train' rows; the model needs training examples")
        if tally.n_missing:
            raise InputError(f"{self.source}: {tally.n_missing} image file(s) of column {data.image_col!r} not "
                             f"found, e.g. {', '.join(tally.missing)}; paths are relative to the manifest's "
                             f"folder {self.base_dir}")
        raise_nan_features(tally.nan_counts, self.names, source=self.source)
        if tally.weights is not None:
            tally.weights.check()
        if tally.empty_labels:
            raise InputError(f"{self.source}: label column {data.label!r} has {tally.empty_labels} empty/NaN "
                             "value(s); drop those rows or fill the labels")

    def _train_classes(self, labels: dict[str, Counter[Any]]) -> list[Any]:
        """The classes seen in train, sorted; a label of another split never seen in train is an
        error."""
        classes = sorted(labels["train"])
        known = set(classes)
        parts = []
        for s in SPLITS:
            unseen = {v: c for v, c in labels[s].items() if v not in known}
            if unseen:
                names = sorted(str(v) for v in unseen)
                parts.append(f"{', '.join(names[:5])}{' ...' if len(names) > 5 else ''} in {s} "
                             f"({sum(unseen.values())} rows)")
        if parts:
            raise InputError(f"{self.source}: label(s) never seen in train: {'; '.join(parts)}; the model cannot "
                             "learn a class without training examples. Add such rows to train or drop them")
        return classes


class _RunningMoments:
    """Count, mean and M2 per feature over batches (Chan et al.'s merge: no cancellation as in
    sum(x^2) - n mean^2), and the smallest and largest value."""

    def __init__(self) -> None:
        self.count, self.mean, self.m2 = 0, None, None
        self.low, self.high = math.inf, -math.inf

    def add(self, X: np.ndarray) -> None:
        b, bmean = X.shape[0], X.mean(axis=0)
        bm2 = ((X - bmean) ** 2).sum(axis=0)
        if self.mean is None:
            self.count, self.mean, self.m2 = b, bmean, bm2
        else:
            delta, total = bmean - self.mean, self.count + b
            self.mean = self.mean + delta * (b / total)
            self.m2 = self.m2 + bm2 + delta ** 2 * (self.count * b / total)
            self.count = total
        if X.size:
            self.low, self.high = min(self.low, float(X.min())), max(self.high, float(X.max()))


class _ScanTally:
    """What the checking pass counts: rows per split, empty and unknown values, labels per
    split, missing image files, NaN features, the weights' check and the train moments."""

    def __init__(self, n_features: int, weights: WeightCheck | None) -> None:
        self.n: Counter[str] = Counter()
        self.empty_split = 0
        self.nan_counts = np.zeros(n_features, np.int64)
        self.labels: dict[str, Counter[Any]] = {s: Counter() for s in SPLITS}
        self.empty_labels = 0
        self.missing: list[str] = []
        self.n_missing = 0
        self.weights = weights
        self.moments = _RunningMoments()

    def add_splits_and_labels(self, batch: Any, label: str) -> np.ndarray:
        """Count a batch's splits and (split, label) pairs; returns its split per row (N,)."""
        import pyarrow as pa
        import pyarrow.compute as pc

        split_col = _decode(batch.column("split"))
        self.empty_split += split_col.null_count
        split = np.asarray(pc.fill_null(split_col.cast(pa.string()), _NULL).to_numpy(zero_copy_only=False),
                           dtype=str)
        for value, k in zip(*np.unique(split, return_counts=True)):
            self.n[str(value)] += int(k)
        label_col = _decode(batch.column(label))
        empty = pc.is_null(label_col, nan_is_null=True)
        self.empty_labels += int(pc.sum(empty).as_py() or 0)
        # distinct (split, label) pairs with their counts, computed by Arrow, not per row in Python
        pairs = pa.table({"s": pa.array(split), "v": label_col}).filter(pc.invert(empty))
        for row in pairs.group_by(["s", "v"]).aggregate([([], "count_all")]).to_pylist():
            if row["s"] in self.labels:
                self.labels[row["s"]][row["v"]] += row["count_all"]
        return split


def _decode_type(typ: Any) -> Any:
    import pyarrow as pa

    return typ.value_type if pa.types.is_dictionary(typ) else typ


class TrainStream(IterableDataset):
    """Mini-batches of the train rows: record batches from the engine through a shuffle buffer.

    Each iteration is one epoch. Rows are read in manifest order, ``shuffle_buffer`` rows at a time
    are permuted with a NumPy generator seeded from ``seed`` (set it per epoch with
    :meth:`epoch`), half a buffer is emitted as mini-batches and the rest is mixed with the next
    rows. A buffer at least as large as the train split gives a full shuffle.

    Under DDP (``shards``), this rank keeps only its blocks of rows, takes its share of the global
    batch, and ends each epoch with empty batches until it has run as many steps as every rank.

    Batches are (features, class index, importance weights); the weights are ``None`` without
    ``[data] weight_col``.
    """

    def __init__(self, src: StreamSource, stats: StreamStats, normalizer: Normalizer, *, batch_size: int,
                 device: torch.device, augment: Any = None, shards: StreamShards | None = None) -> None:
        super().__init__()
        self.src, self.stats, self.normalizer = src, stats, normalizer
        self.shards = shards
        if shards is not None:
            batch_size = shards.local_batch(shards.rank)
        self.batch_size, self.device, self.augment = batch_size, device, augment
        self.buffer = max(src.data.shuffle_buffer, batch_size)
        self.seed = 0
        self.weighted = src.data.weight_col is not None

    def epoch(self, seed: int) -> Iterator[Batch]:
        self.seed = seed
        return iter(self)

    def _emit(self, keys: np.ndarray, y: np.ndarray, w: np.ndarray | None) -> Batch:
        raw = self.src.materialize(keys)
        if self.augment is not None:
            raw = self.augment(raw)
        X = torch.from_numpy(self.normalizer(raw))
        weights = None if w is None else torch.from_numpy(w.astype(np.float32)).to(self.device)
        return X.to(self.device), torch.from_numpy(y).to(self.device), weights

    def __iter__(self) -> Iterator[Batch]:
        batches = self._local_batches()
        if self.shards is None:
            yield from batches
            return
        steps = 0
        for batch in batches:
            steps += 1
            yield batch
        empty = (torch.zeros((0, self.src.n_inputs), device=self.device),  # (0, F)
                 torch.zeros(0, dtype=torch.long, device=self.device),
                 torch.zeros(0, device=self.device) if self.weighted else None)
        for _ in range(steps, self.shards.steps()):  # DDP: keep in step with the ranks that have more rows
            yield empty

    def _local_batches(self) -> Iterator[Batch]:
        shards = self.shards
        rng = np.random.default_rng(self.seed if shards is None else [self.seed, shards.rank])
        b = self.batch_size
        # per row: (feature keys, class index, weight); the weight is 1 when unweighted (not emitted)
        buf: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        held = 0
        weight = [self.src.data.weight_col] if self.weighted else []
        columns = [self.src.data.label, *self.src.input_columns(), *weight]
        batches = self.src.batches(columns, split="train")
        for batch in batches if shards is None else shards.select(batches):
            w = self.src.weights(batch) / self.stats.weight_scale if self.weighted else np.ones(batch.num_rows)
            buf.append((self.src.keys(batch), self.src.label_index(batch, self.stats.classes), w))
            held += batch.num_rows
            if held < self.buffer:
                continue
            keys, y, w = _shuffled(buf, rng)
            emit = ((held - self.buffer // 2) // b) * b
            for i in range(0, emit, b):
                yield self._emit(keys[i:i + b], y[i:i + b], w[i:i + b] if self.weighted else None)
            buf, held = [(keys[emit:], y[emit:], w[emit:])], held - emit
        if held:
            keys, y, w = _shuffled(buf, rng)
            for i in range(0, held, b):
                yield self._emit(keys[i:i + b], y[i:i + b], w[i:i + b] if self.weighted else None)


def _shuffled(buf: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
              rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The buffer's rows concatenated and permuted together."""
    keys, y, w = (np.concatenate(parts) for parts in zip(*buf))
    perm = rng.permutation(len(y))
    return keys[perm], y[perm], w[perm]


def eval_chunks(src: StreamSource, stats: StreamStats, normalizer: Normalizer, *, split: str | None,
                extra: list[str] = (), shards: StreamShards | None = None
                ) -> Iterator[tuple[Any, np.ndarray, np.ndarray]]:
    """(record batch, normalized features, class index) over the rows of ``split`` (all when None);
    with ``shards``, only this rank's blocks of those rows."""
    columns = [src.data.label, *src.input_columns(), *extra]
    step = _IMAGE_CHUNK if src.data.image_col is not None else _EVAL_CHUNK
    batches = src.batches(columns, split=split)
    for batch in batches if shards is None else shards.select(batches):
        y = src.label_index(batch, stats.classes)
        keys = src.keys(batch)
        for i in range(0, batch.num_rows, step):
            yield batch.slice(i, step), normalizer(src.materialize(keys[i:i + step])), y[i:i + step]

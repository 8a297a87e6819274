"""Each run's per-row dev results, kept so that later comparisons can pair them.

A recorded run keeps, for its dev split, one row per example in
``<store folder>/runs/<run_id>/dev_rows.parquet``: the example's ``id`` and what the run's
metric needs of it (a 0/1 mistake for error rates, the absolute or squared error for MAE and
RMSE, the loss of a ``mean:COL``, the numerator and denominator of a ``ratio:NUM/DEN`` or of a
weighted error). The metric, the label set and the **dev fingerprint** (the ids with their
true labels) are in the file's metadata: two runs with the same fingerprint were scored on the
same rows and are compared paired (:mod:`mlstrat.metrics._paired`).

On the DuckDB engine the rows never pass through Python at record time
(:func:`save_dev_rows`): the engine writes them in one pass over the predictions, with the
true label of each row, the metric goes to ``dev_rows.json`` beside the file, and the
fingerprint, the label set and the id check are computed when the file is read, from its
rows, exactly as for the Python route. At 100M predictions (5M dev rows) the Python route
cost ~10 s of CPU and 2 GB of memory at record time; the engine route ~2 s and a few hundred
MB. Ids and labels that are not integers or text (floats, booleans, dates) take the Python
route, whose spelling of them (:func:`~mlstrat._labels.label_text`) the engine does not
share.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mlstrat.metrics._spec import MetricSpec, parse_metric

__all__ = ["DevRows", "DEV_ROWS_FILE", "DEV_ROWS_META", "dev_rows_path",
           "dev_rows_from_predictions", "write_dev_rows", "save_dev_rows", "read_dev_rows",
           "spec_of_diagnosis"]

#: The file name of a run's per-row dev results, in the run's folder under the store.
DEV_ROWS_FILE = "dev_rows.parquet"
#: The file beside it that holds their metric, fingerprint and labels (JSON).
DEV_ROWS_META = "dev_rows.json"

# metric kind -> the per-row kind of the paired comparison; f1 is not a per-row quantity
_ROW_KIND = {"error": "rate", "weighted_error": "ratio", "mae": "mean", "rmse": "rmse", "mean": "mean",
             "ratio": "ratio"}


@dataclass(frozen=True)
class DevRows:
    """One run's per-row dev results.

    Attributes
    ----------
    metric : str
        The metric's name (``error``, ``rmse``, ``ratio:word_errors/words``).
    kind : str
        ``rate``, ``mean``, ``rmse`` or ``ratio`` (see :func:`mlstrat.metrics._paired.paired_difference`).
    ids : ndarray of str
    values : ndarray of float
        The per-row mistake, loss, squared error or numerator.
    denominators : ndarray of float or None
        The per-row denominator of a ratio.
    fingerprint : str
        ``dev-<rows>-<12 hex digits>``: sha256 of the sorted ``id``/``y_true`` pairs.
    labels : tuple of str or None
        The true labels of the dev rows (classification), to refuse ranking different tasks
        together.
    higher_is_better : bool
    """

    metric: str
    kind: str
    ids: Any
    values: Any
    denominators: Any
    fingerprint: str
    labels: tuple[str, ...] | None
    higher_is_better: bool = False

    def aligned(self, order: Any) -> Any:
        """The per-row values in the order of ``order`` (ids): arrays, or a pair for ratios."""
        index = {key: i for i, key in enumerate(self.ids.tolist())}
        rows = np.fromiter((index[key] for key in order), dtype=np.int64, count=len(order))
        if self.kind == "ratio":
            return self.values[rows], self.denominators[rows]
        return self.values[rows]


def spec_of_diagnosis(diagnosis: Any) -> MetricSpec:
    """The :class:`MetricSpec` a diagnosis JSON names (``error`` when it names none)."""
    from mlstrat.metrics._spec import metric_name

    doc = diagnosis.to_dict() if hasattr(diagnosis, "to_dict") else (diagnosis or {})
    metric = doc.get("metric") if isinstance(doc, dict) else None
    higher = isinstance(metric, dict) and metric.get("direction") == "higher_is_better"
    return parse_metric(metric_name(metric), higher_is_better=higher or None)


def dev_rows_path(store: Any, run_id: str) -> Path:
    return Path(store.artifacts_root) / run_id / DEV_ROWS_FILE


def _fingerprint(ids: Any, labels: Any) -> str:
    """``dev-<rows>-<12 hex>``: sha256 of the sorted ``id<US>label`` lines joined by newlines
    (pyarrow string arrays; joined by Arrow, not as Python strings)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    lines = ids if labels is None else pc.binary_join_element_wise(ids, labels, "\x1f")
    ordered = pc.take(lines, pc.sort_indices(lines)).cast(pa.large_string())
    one_list = pa.LargeListArray.from_arrays(pa.array([0, len(ordered)], pa.int64()), ordered)
    joined = pc.binary_join(one_list, pa.scalar("\n", pa.large_string()))[0]
    digest = hashlib.sha256(joined.as_buffer() if joined.is_valid else b"").hexdigest()
    return f"dev-{len(ids)}-{digest[:12]}"


def _label_text(column: Any) -> Any:
    """A label column as the text :func:`~mlstrat._labels.label_text` gives each value
    (``3.0`` -> ``"3"``), vectorized for the usual types."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from mlstrat._labels import label_text

    kind = column.type
    if pa.types.is_floating(kind):
        integral = pc.all(pc.equal(column, pc.floor(column))).as_py()
        if integral and pc.all(pc.is_finite(column)).as_py():
            return pc.cast(pc.cast(column, pa.int64()), pa.string())
    if pa.types.is_integer(kind) or pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return pc.cast(column, pa.string())
    return pa.array([label_text(v) for v in column.to_pylist()], pa.string())


def dev_rows_from_predictions(predictions: Any, spec: MetricSpec, *, con: Any = None) -> DevRows | None:
    """The dev split's per-row results of a predictions table; ``None`` when there is nothing to
    pair (no ``id`` column, ids repeated within dev, no dev rows, or ``f1``, which is not a
    mean of per-row values)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from mlstrat.tables import read_table, select_columns

    if spec.kind not in _ROW_KIND:
        return None
    wanted = {"id", "split", "y_true", "y_pred", *spec.columns()}
    if spec.kind == "weighted_error":
        wanted.add("weight")
    table = read_table(predictions, con=con, columns=select_columns(*wanted))
    if not {"id", "split"} <= set(table.columns) or not all(c in table.columns for c in spec.columns()):
        return None
    dev = table.filter(table.split.cast("string") == "dev")
    rows = dev.select(*[c for c in sorted(wanted) if c in table.columns]).to_pyarrow().combine_chunks()
    if rows.num_rows == 0:
        return None
    ids = _label_text(rows["id"].combine_chunks())
    if not _all_distinct(ids):  # rows cannot be matched by id: compare unpaired
        return None
    truth = _label_text(rows["y_true"].combine_chunks()) if "y_true" in rows.column_names else None
    values, denominators = _per_row(spec, rows, truth)
    labels = None
    if spec.is_rate and truth is not None:
        labels = tuple(sorted(pc.unique(truth).to_pylist()))
    return DevRows(metric=spec.name, kind=_ROW_KIND[spec.kind], ids=np.asarray(ids.to_pylist(), dtype=object),
                   values=values, denominators=denominators, fingerprint=_fingerprint(ids, truth),
                   labels=labels, higher_is_better=spec.higher_is_better)


def _all_distinct(values: Any) -> bool:
    """Whether no value of a pyarrow array repeats: sorted, no two neighbours equal (Arrow's
    ``count_distinct`` took ~5 s for 5M ids, the sort ~0.2-0.6 s). Integers and their text
    repeat alike, so the typed ids answer for their text. A missing id matches no row: False."""
    import pyarrow.compute as pc

    if values.null_count:
        return False
    if len(values) < 2:
        return True
    ordered = pc.take(values, pc.sort_indices(values))
    same = pc.equal(ordered.slice(1), ordered.slice(0, len(ordered) - 1))
    return not pc.any(same).as_py()


def _numbers(rows: Any, name: str) -> Any:
    return rows[name].to_numpy().astype(np.float64)


def _per_row(spec: MetricSpec, rows: Any, truth: Any) -> tuple[Any, Any]:
    import pyarrow.compute as pc

    if spec.kind in ("error", "weighted_error"):
        predicted = _label_text(rows["y_pred"].combine_chunks())
        wrong = pc.not_equal(truth, predicted).to_numpy(zero_copy_only=False).astype(np.float64)
        if spec.kind == "error":
            return wrong, None
        weight = _numbers(rows, "weight") if "weight" in rows.column_names else np.ones(len(wrong))
        return wrong * weight, weight
    if spec.kind in ("mae", "rmse"):
        e = _numbers(rows, "y_pred") - _numbers(rows, "y_true")
        return (np.abs(e), None) if spec.kind == "mae" else (e * e, None)
    if spec.kind == "mean":
        return _numbers(rows, spec.column or ""), None
    return _numbers(rows, spec.column or ""), _numbers(rows, spec.denominator or "")


def write_dev_rows(path: str | os.PathLike, rows: DevRows) -> Path:
    """Write ``rows`` as Parquet (zstd) with the metric and fingerprint in its metadata, atomically."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from mlstrat.tables import atomic_write_bytes

    columns = {"id": pa.array(rows.ids.tolist(), pa.string()), "value": pa.array(rows.values, pa.float64())}
    if rows.denominators is not None:
        columns["denominator"] = pa.array(rows.denominators, pa.float64())
    meta = {"metric": rows.metric, "kind": rows.kind, "fingerprint": rows.fingerprint,
            "labels": None if rows.labels is None else list(rows.labels),
            "higher_is_better": rows.higher_is_better}
    table = pa.table(columns).replace_schema_metadata({"mlstrat": json.dumps(meta)})
    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="zstd")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return atomic_write_bytes(path, buffer.getvalue())


def _write_meta(path: Path, meta: dict[str, Any]) -> None:
    from mlstrat.tables import atomic_write_text

    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path.with_name(DEV_ROWS_META), json.dumps(meta))


def save_dev_rows(path: str | os.PathLike, predictions: Any, spec: MetricSpec, *,
                  con: Any = None) -> bool:
    """Keep the dev split's per-row results of ``predictions`` at ``path``; ``False`` when there
    is nothing to pair (see :func:`dev_rows_from_predictions`).

    On DuckDB the engine does the work (module docstring); the file and its fingerprint are
    those :func:`write_dev_rows` gives for :func:`dev_rows_from_predictions`'s rows.
    """
    from mlstrat.tables import engine_of

    path = Path(path)
    if spec.kind in _ROW_KIND and engine_of(con).kind == "duckdb":
        kept = _save_in_engine(path, predictions, spec, con)
        if kept is not None:
            return kept
    rows = dev_rows_from_predictions(predictions, spec, con=con)
    if rows is None:
        return False
    write_dev_rows(path, rows)
    return True


def _spelled_alike(column: Any) -> bool:
    """Whether the engine and :func:`_label_text` write ``column``'s values as the same text
    (integers, strings): such a column is kept as it is typed and read as text."""
    kind = column.type()
    return kind.is_integer() or kind.is_string()


def _engine_rows(table: Any, spec: MetricSpec) -> Any:
    """The dev rows as ``id``, ``truth`` (left out without ``y_true``), ``value`` and, for a
    ratio, ``denominator``; ``None`` when a column's type needs the Python route.

    ``id`` and ``truth`` keep their type (integers or text; the reader spells them as text):
    casting 5M ids to text in the engine cost more than reading them."""
    dev = table.filter(table.split.cast("string") == "dev")
    texts = {"id": dev.id, "truth": dev.y_true if "y_true" in dev.columns else None,
             "predicted": dev.y_pred if spec.kind in ("error", "weighted_error") else None}
    columns = {name: source for name, source in texts.items() if source is not None}
    if not all(_spelled_alike(source) for source in columns.values()):
        return None
    values = _engine_values(dev, spec, columns)
    columns.pop("predicted", None)
    return dev.select(**columns, **values)


def _engine_values(dev: Any, spec: MetricSpec, texts: dict[str, Any]) -> dict[str, Any]:
    """``value`` (and ``denominator``) per row, as :func:`_per_row` computes them."""
    import ibis

    def number(name: str) -> Any:
        return dev[name].cast("float64")

    if spec.kind in ("error", "weighted_error"):
        truth, predicted = texts["truth"], texts["predicted"]
        if truth.type().is_string() != predicted.type().is_string():  # 3 against "3": as text
            truth, predicted = truth.cast("string"), predicted.cast("string")
        wrong = (truth != predicted).cast("float64")
        if spec.kind == "error":
            return {"value": wrong}
        weight = number("weight") if "weight" in dev.columns else ibis.literal(1.0)
        return {"value": wrong * weight, "denominator": weight}
    if spec.kind in ("mae", "rmse"):
        error = number("y_pred") - number("y_true")
        return {"value": error.abs() if spec.kind == "mae" else error * error}
    if spec.kind == "mean":
        return {"value": number(spec.column or "")}
    return {"value": number(spec.column or ""), "denominator": number(spec.denominator or "")}


def _save_in_engine(path: Path, predictions: Any, spec: MetricSpec, con: Any) -> bool | None:
    """:func:`save_dev_rows` in the engine; ``None`` when the Python route must do it.

    One pass: the engine writes the dev rows with their true labels, and the fingerprint, the
    label set and the id check are computed from that file when it is read
    (:func:`read_dev_rows`), so recording pays for no sort of the ids."""
    from mlstrat.tables import engine_of, read_table, select_columns

    wanted = {"id", "split", "y_true", "y_pred", *spec.columns()}
    if spec.kind == "weighted_error":
        wanted.add("weight")
    table = read_table(predictions, con=con, columns=select_columns(*wanted))
    present = set(table.columns)
    if not {"id", "split"} <= present or not all(c in present for c in spec.columns()):
        return False
    labeled = spec.kind in ("error", "weighted_error", "mae", "rmse")
    if labeled and not {"y_true", "y_pred"} <= present:
        return None  # the Python route says what is missing
    rows = _engine_rows(table, spec)
    if rows is None:
        return None
    # the metric first: a reader that finds the rows finds it beside them
    _write_meta(path, {"metric": spec.name, "kind": _ROW_KIND[spec.kind], "labeled": spec.is_rate,
                       "higher_is_better": spec.higher_is_better})
    _write_in_engine(engine_of(con), rows, path)
    return True


def _write_in_engine(engine: Any, rows: Any, path: Path) -> None:
    """The engine writes the Parquet file: to a temporary name beside ``path``, then renamed."""
    from mlstrat.tables._outputs import temp_path

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(path)
    try:
        engine.write(rows, str(tmp), "parquet", force=True)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _facts(table: Any, meta: dict[str, Any]) -> dict[str, Any] | None:
    """The fingerprint and label set of rows the engine wrote (their ``truth`` column), as
    :func:`dev_rows_from_predictions` computes them; ``None`` when they cannot be paired (no
    rows, ids repeated)."""
    import pyarrow.compute as pc

    ids = _label_text(table["id"].combine_chunks())
    if len(ids) == 0 or ids.null_count or not _all_distinct(table["id"].combine_chunks()):
        return None
    truth = _label_text(table["truth"].combine_chunks()) if "truth" in table.column_names else None
    labels = None
    if meta.get("labeled") and truth is not None:
        labels = sorted(pc.unique(truth).to_pylist())
    return {**meta, "fingerprint": _fingerprint(ids, truth), "labels": labels}


def read_dev_rows(path: str | os.PathLike) -> DevRows | None:
    """A run's per-row dev results, or ``None`` when the file is absent or unreadable (a run
    recorded before they were kept compares unpaired, from its own interval)."""
    import pyarrow.parquet as pq

    path = Path(path)
    if not path.is_file():
        return None
    try:
        table = pq.read_table(path)
        meta = _read_meta(path, table)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if meta is None:
        return None
    labels = meta.get("labels")

    def numbers(name: str) -> Any:
        return np.asarray(table[name].to_numpy(), dtype=np.float64)

    return DevRows(metric=str(meta["metric"]), kind=str(meta["kind"]),
                   ids=np.asarray(_label_text(table["id"].combine_chunks()).to_pylist(),
                                  dtype=object),
                   values=numbers("value"),
                   denominators=(numbers("denominator") if "denominator" in table.column_names
                                 else None),
                   fingerprint=str(meta["fingerprint"]), labels=None if labels is None else tuple(labels),
                   higher_is_better=bool(meta.get("higher_is_better")))


def _read_meta(path: Path, table: Any) -> dict[str, Any] | None:
    """The metadata in the Parquet file (written by :func:`write_dev_rows`, by any version),
    else the metadata beside it (``dev_rows.json``, for a file the engine wrote) with the
    fingerprint and labels computed from the rows."""
    inside = (table.schema.metadata or {}).get(b"mlstrat")
    if inside is not None:
        return dict(json.loads(inside))
    beside = path.with_name(DEV_ROWS_META).read_text(encoding="utf-8")
    return _facts(table, dict(json.loads(beside)))

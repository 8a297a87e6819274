"""Applying a trained run to new data.

With an output, the rows stream from the engine in record batches through the model, and each
batch's predictions are appended to a Parquet file (a temporary name, renamed into place when
whole): the table never sits whole in this process, so a table larger than its memory is
predicted in the memory of one batch. Without an output, the predictions table is returned
(the rows are then in memory by request).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mlstrat._exceptions import InputError
from mlstrat.nn._checkpoint import load_checkpoint, network_from_checkpoint
from mlstrat.nn._data import feature_matrix, passthrough_columns
from mlstrat.nn._outputs import outputs_to_predictions, predict_outputs

__all__ = ["predict", "PredictionsWritten"]

#: rows the engine hands over at a time: small, since DuckDB reads a few of them ahead
_ENGINE_ROWS = 4_096
#: a batch through the model holds up to this many rows and this many bytes of the data
_BATCH_ROWS = 65_536
_BATCH_BYTES = 32 << 20


@dataclass(frozen=True)
class PredictionsWritten:
    """What :func:`predict` wrote when given an output: where, how many rows, which columns."""

    path: Path
    num_rows: int
    column_names: list[str]


@dataclass(frozen=True)
class _Plan:
    """What to read from the data and how to turn a batch of it into predictions."""

    model: Any
    normalizer: Any
    payload: dict[str, Any]
    source: str
    columns: list[str]  # the data's columns
    names: list[str]  # the model's feature columns
    id_col: str
    tasks: list[str]
    label: str | None
    targets: list[str]  # label or task columns present
    extra: list[str]  # passthrough columns
    image_col: str | None
    base: Path  # folder relative image paths start from

    @property
    def read(self) -> list[str]:
        keep = [c for c in (self.id_col, "split", *self.targets, *self.extra) if c in self.columns]
        return list(dict.fromkeys(keep + self.names))


def predict(run_dir: str | os.PathLike, data: Any, *, output: str | os.PathLike | None = None,
            con: Any = None, force: bool = False) -> Any:
    """Apply a trained model to ``data`` with the normalization saved at training time.

    Parameters
    ----------
    run_dir : path-like
        A run directory written by :func:`train`, or its ``model.pt``.
    data : path-like or table
        Anything :func:`mlstrat.tables.read_table` reads, with the model's feature columns.
        ``id``, ``split``, the label (or task) columns and every column that is not a feature
        (paths, text, ``domain``, ...) are copied when present.
        For a model trained on image files (``[data] image_col``), that column of image paths,
        relative to the data file's folder.
    output : path-like, default=None
        Write the predictions table there (Parquet, CSV or JSONL) instead of returning it: the
        rows stream through the model in record batches, so the table never sits whole in
        memory.
    force : bool, default=False
        Overwrite ``output`` when it exists.

    Returns
    -------
    pyarrow.Table or PredictionsWritten
        Without ``output``, the predictions table: ``id``, ``split``, ``y_true`` (when the data
        has labels), ``y_pred`` and ``proba_<class>`` for every class. With ``output``, where it
        was written, its number of rows and its columns.
    """
    from mlstrat.tables import check_table_output, read_table

    if output is not None:  # an existing output, or storage the engine cannot reach, before the model runs
        check_table_output(output, inputs=[data], force=force, con=con)
    table = read_table(data, con=con)
    plan = _plan(run_dir, data, table)
    expr = table.select(*plan.read)
    if output is None:
        return _predict_batch(plan, expr.to_pyarrow())
    return _write_streamed(plan, expr, output, data=data, con=con, force=force)


def _plan(run_dir: str | os.PathLike, data: Any, table: Any) -> _Plan:
    """The model and what to read for it, checked against the data's columns."""
    from mlstrat.tables import describe_source, require_columns
    payload = load_checkpoint(run_dir)
    model, normalizer = network_from_checkpoint(payload)
    source = describe_source(data)
    columns = list(table.columns)
    names = list(payload["feature_names"])
    require_columns(table, names, source=source, role="feature column")
    id_col = payload.get("id", "id")
    tasks = list(payload["tasks"])
    label = payload.get("label")
    targets = [t for t in tasks if t in columns] if tasks else ([label] if label in columns else [])
    if tasks and targets and len(targets) != len(tasks):
        raise InputError(f"{source}: has task column(s) {', '.join(targets)} but not all of {', '.join(tasks)}")
    image_col = payload.get("config", {}).get("data", {}).get("image_col")
    extra = passthrough_columns(columns, used=[id_col, "split", *targets, *tasks, label or "",
                                               *(n for n in names if n != image_col)])
    base = Path(data).resolve().parent if isinstance(data, (str, os.PathLike)) else Path.cwd()
    return _Plan(model, normalizer, payload, source, columns, names, id_col, tasks, label, targets, extra,
                 image_col, base)


def _predict_batch(plan: _Plan, arrow: Any, *, first_row: int = 0) -> Any:
    """The predictions table of the rows ``arrow`` (``first_row``: their position in the data,
    numbering rows when the data has no id column)."""
    if plan.image_col:  # a model trained on image files: names == [image_col]
        from mlstrat.nn._stream import image_matrix

        X = image_matrix(arrow.column(plan.image_col).to_pylist(), base_dir=plan.base, source=plan.source,
                         column=plan.image_col, shape=tuple(plan.payload["config"]["data"]["image_shape"]))
    else:
        X = feature_matrix(arrow, plan.names, source=plan.source)
    proba = predict_outputs(plan.model, X, plan.normalizer, multitask=bool(plan.tasks))
    ids = (arrow.column(plan.id_col).to_numpy(zero_copy_only=False) if plan.id_col in plan.columns
           else np.arange(first_row, first_row + arrow.num_rows))
    split = np.asarray(arrow.column("split").to_pylist(), dtype=object) if "split" in plan.columns else None
    labels = task_targets = None
    if plan.tasks and plan.targets:
        from mlstrat.nn._data import _task_matrix

        task_targets = _task_matrix(arrow, plan.tasks, source=plan.source)
    elif plan.targets:
        labels = arrow.column(plan.label).to_numpy(zero_copy_only=False)
    passthrough = {c: _passthrough(arrow.column(c), whole_rows=not plan.tasks) for c in plan.extra}
    return outputs_to_predictions(proba, ids=ids, split=split, labels=labels,
                                  classes=list(plan.payload["classes"]), tasks=plan.tasks,
                                  task_targets=task_targets, passthrough=passthrough)


def _passthrough(column: Any, *, whole_rows: bool) -> Any:
    """A column copied to the predictions: text stays Arrow text when every row is kept (the
    NumPy round trip of long texts costs more than the model); other types go through NumPy,
    whose types the predictions table has always had."""
    import pyarrow as pa

    if whole_rows and (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
        return column.combine_chunks().cast(pa.string())
    return column.to_numpy(zero_copy_only=False)


def _batches(plan: _Plan, expr: Any, con: Any) -> Iterator[Any]:
    """The predictions of ``expr``'s rows, one table per batch of the data (at most
    :data:`_BATCH_ROWS` rows and about :data:`_BATCH_BYTES` bytes: wide text columns make
    fewer rows a batch)."""
    import pyarrow as pa

    from mlstrat.nn._stream import record_batches

    first_row = 0
    pending: list[Any] = []
    rows = size = 0
    for batch in record_batches(con, expr, _ENGINE_ROWS):
        pending.append(batch)
        rows, size = rows + batch.num_rows, size + batch.nbytes
        if rows >= _BATCH_ROWS or size >= _BATCH_BYTES:
            yield _predict_batch(plan, pa.Table.from_batches(pending), first_row=first_row)
            first_row, pending, rows, size = first_row + rows, [], 0, 0
    if pending:
        yield _predict_batch(plan, pa.Table.from_batches(pending), first_row=first_row)


def _write_streamed(plan: _Plan, expr: Any, output: str | os.PathLike, *, data: Any, con: Any,
                    force: bool) -> PredictionsWritten:
    """Predict batch by batch into a Parquet file; a local ``.parquet`` output is that file
    (renamed into place), other formats and URIs are written from it by the engine."""
    from mlstrat.tables import is_uri, write_table
    from mlstrat.tables._outputs import publish, remove_path, reporting_full_disk, temp_path

    final = Path(str(output)[len("file://"):] if str(output).startswith("file://") else output)
    direct = not is_uri(output) or str(output).startswith("file://")
    direct = direct and final.suffix.lower() in (".parquet", ".pq")
    staged = final if direct else _staging_path(final if not is_uri(output) else None)
    with reporting_full_disk(final):
        tmp = temp_path(staged)
        try:
            rows, columns = _write_parquet(plan, expr, tmp, con)
            if direct:
                publish(tmp, final)
            else:
                write_table(tmp, output, con=con, force=force, inputs=[data])
        finally:
            remove_path(tmp)
    return PredictionsWritten(Path(output), rows, columns)


def _staging_path(final: Path | None) -> Path:
    """Where a Parquet file is staged before the engine writes another format or a URI: beside
    the output (the same disk), or in the temporary folder for a URI."""
    import tempfile

    if final is not None:
        return final.with_suffix(".parquet")
    return Path(tempfile.gettempdir()) / "mlstrat-predictions.parquet"


def _write_parquet(plan: _Plan, expr: Any, path: Path, con: Any) -> tuple[int, list[str]]:
    """Stream the predictions into one Parquet file: (rows written, columns)."""
    import pyarrow.parquet as pq

    writer = None
    rows = 0
    schema = None
    try:
        for table in _batches(plan, expr, con):
            if writer is None:
                schema = _stable_schema(table, expr)
                writer = pq.ParquetWriter(str(path), schema)
            writer.write_table(table.cast(schema))
            rows += table.num_rows
        if writer is None:  # no rows: the empty table, with today's types
            empty = _predict_batch(plan, expr.limit(0).to_pyarrow())
            schema = empty.schema
            pq.write_table(empty, str(path))
    finally:
        if writer is not None:
            writer.close()
    return rows, list(schema.names)


def _stable_schema(first: Any, expr: Any) -> Any:
    """The output schema from the first batch; a column that batch holds only nulls of takes its
    type from the data, so that later batches with values fit."""
    import pyarrow as pa

    source = expr.schema().to_pyarrow()
    fields = []
    for f in first.schema:
        if pa.types.is_null(f.type) and f.name in source.names:
            f = pa.field(f.name, source.field(f.name).type)
        fields.append(f)
    return pa.schema(fields)

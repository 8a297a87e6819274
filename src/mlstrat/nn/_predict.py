"""Applying a trained run to new data."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from mlstrat._exceptions import InputError
from mlstrat.nn._checkpoint import load_checkpoint, network_from_checkpoint
from mlstrat.nn._data import feature_matrix, passthrough_columns
from mlstrat.nn._outputs import outputs_to_predictions, predict_outputs

__all__ = ["predict"]


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
        Also write the predictions table there (Parquet, CSV or JSONL).
    force : bool, default=False
        Overwrite ``output`` when it exists.

    Returns
    -------
    pyarrow.Table
        The predictions table: ``id``, ``split``, ``y_true`` (when the data has labels),
        ``y_pred`` and ``proba_<class>`` for every class.
    """
    from mlstrat.tables import check_table_output, describe_source, read_table, require_columns, write_table

    if output is not None:  # an existing output, or storage the engine cannot reach, before the work
        check_table_output(output, inputs=[data], force=force, con=con)
    payload = load_checkpoint(run_dir)
    model, normalizer = network_from_checkpoint(payload)
    source = describe_source(data)
    table = read_table(data, con=con)
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
    keep = [c for c in (id_col, "split", *targets, *extra) if c in columns]
    arrow = table.select(*dict.fromkeys(keep + names)).to_pyarrow()
    if image_col:  # a model trained on image files: names == [image_col]
        from pathlib import Path

        from mlstrat.nn._stream import image_matrix

        base = Path(data).resolve().parent if isinstance(data, (str, os.PathLike)) else Path.cwd()
        X = image_matrix(arrow.column(image_col).to_pylist(), base_dir=base, source=source, column=image_col,
                         shape=tuple(payload["config"]["data"]["image_shape"]))
    else:
        X = feature_matrix(arrow, names, source=source)
    proba = predict_outputs(model, X, normalizer, multitask=bool(tasks))
    ids = (arrow.column(id_col).to_numpy(zero_copy_only=False) if id_col in columns
           else np.arange(arrow.num_rows))
    split = np.asarray(arrow.column("split").to_pylist(), dtype=object) if "split" in columns else None
    labels = task_targets = None
    if tasks and targets:
        from mlstrat.nn._data import _task_matrix

        task_targets = _task_matrix(arrow, tasks, source=source)
    elif targets:
        labels = arrow.column(label).to_numpy(zero_copy_only=False)
    passthrough = {c: arrow.column(c).to_numpy(zero_copy_only=False) for c in extra}
    result = outputs_to_predictions(proba, ids=ids, split=split, labels=labels,
                                    classes=list(payload["classes"]), tasks=tasks,
                                    task_targets=task_targets, passthrough=passthrough)
    if output is not None:
        write_table(result, output, con=con, force=force, inputs=[data])
    return result

"""Recording the runs that ``train`` and ``diagnose`` produce, with their fingerprints."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from mlstrat.runs._rows import (
    DevRows,
    dev_rows_from_predictions,
    dev_rows_path,
    spec_of_diagnosis,
    write_dev_rows,
)
from mlstrat.runs._run import Run
from mlstrat.runs._store import RunStore

__all__ = ["fingerprint_test_set", "record_predictions_run", "dev_rows_of_run", "keep_dev_rows"]


def fingerprint_test_set(predictions: Any, *, con: Any = None) -> str | None:
    """Fingerprint of a predictions table's test split: which ids, with which true labels.

    Order-independent and streaming: ``count`` and ``bit_xor`` over the rows of a 64-bit md5
    of ``"<id>:<y_true>"`` (bytes 8..15 of the digest, little endian, as DuckDB's
    ``md5_number_lower``; the same on every engine and version, unlike a generic ``hash()``;
    each engine computes it its fastest exact way, see ``Engine.md5_low64_parts``). The
    prediction is left out on purpose: two models evaluated
    on the same test set share it while every model's predictions file differs. ``None``
    when there is no test split or no ``id`` column.
    """
    key = _file_key(predictions, con)
    if key is not None and key in _FINGERPRINTS:
        return _FINGERPRINTS[key]
    found = _fingerprint_test_set(predictions, con=con)
    if key is not None:
        while len(_FINGERPRINTS) >= 8:
            _FINGERPRINTS.pop(next(iter(_FINGERPRINTS)))
        _FINGERPRINTS[key] = found
    return found


# one command may need a file's test-set fingerprint twice (counting the look at the test set,
# then recording the run): an md5 per test row is worth computing once per file version
_FINGERPRINTS: dict[tuple[Any, ...], str | None] = {}


def _file_key(predictions: Any, con: Any) -> tuple[Any, ...] | None:
    """(path, size, mtime, engine) of a local file; ``None`` for tables and remote paths."""
    if not isinstance(predictions, (str, os.PathLike)):
        return None
    try:
        stat = os.stat(predictions)
    except (OSError, ValueError):
        return None
    if not os.path.isfile(predictions):
        return None
    return (os.path.realpath(predictions), stat.st_size, stat.st_mtime_ns, id(con))


def _fingerprint_test_set(predictions: Any, *, con: Any = None) -> str | None:
    from mlstrat.tables import engine_of, read_table, select_columns

    engine = engine_of(con)
    # ids as the engine types them (no text_columns): the fingerprint of a file stays what it was
    table = read_table(predictions, con=engine, columns=select_columns("id", "split", "y_true"))
    if not {"id", "split", "y_true"} <= set(table.columns):
        return None
    test = table.filter(table.split.cast("string") == "test")
    parts = engine.md5_low64_parts(test.id.cast("string").concat(":", test.y_true.cast("string")))
    hashed = test.select(**{f"h{i}": part for i, (part, _) in enumerate(parts)})
    n, *xors = engine.rows(hashed.aggregate(
        n=hashed.count(), **{f"h{i}": engine.bit_xor(hashed[f"h{i}"]) for i in range(len(parts))}))[0]
    if not n:
        return None
    h = 0
    for value, (_, shift) in zip(xors, parts):
        h |= int(value) << shift
    return _fingerprint_text(int(n), h)


def _fingerprint_text(n: int, h: int) -> str:
    """The stored form: ``test-<rows>-<16 hex digits of the xor>``."""
    # no ":word:" in the text: Rich would render ":100:" as an emoji
    return f"test-{n}-{h:016x}"


def record_predictions_run(kind: str, predictions: str | os.PathLike, *, store: RunStore | None = None,
                           config: Mapping[str, Any] | None = None, metrics: Any = None,
                           diagnosis: Any = None, artifacts: str | os.PathLike | None = None,
                           note: str | None = None, run_id: str | None = None,
                           data: str | os.PathLike | None = None, count_test: bool = True) -> Run:
    """Record a run evaluated on a predictions file; fingerprints are computed here.

    ``data`` is the file the run's data came from (a training manifest); by default the
    predictions file itself. ``count_test=False`` when the documents' test figures were
    already counted as a look (:func:`mlstrat.runs.count_test_look`). With
    ``$MLFLOW_TRACKING_URI`` set and MLflow installed, the run is also logged to MLflow.
    The dev split's per-row results are kept beside the run (:mod:`mlstrat.runs._rows`) so
    that comparisons with later runs on the same rows are paired.
    """
    from mlstrat.tables import fingerprint

    from mlstrat.runs._mlflow import autolog_run

    store = RunStore() if store is None else store
    rows = dev_rows_of_run(predictions, diagnosis=diagnosis, metrics=metrics)
    run = store.record(kind, config=config, data_fingerprint=fingerprint(data or predictions), metrics=metrics,
                       diagnosis=diagnosis, artifacts=artifacts, note=note,
                       test_fingerprint=fingerprint_test_set(predictions), run_id=run_id,
                       count_test=count_test)
    if rows is not None:
        write_dev_rows(dev_rows_path(store, run.id), rows)
    autolog_run(run)  # when $MLFLOW_TRACKING_URI is set and MLflow is installed
    return run


def dev_rows_of_run(predictions: Any, *, diagnosis: Any = None, metrics: Any = None,
                    con: Any = None) -> DevRows | None:
    """The per-row dev results of a run, for the metric its diagnosis names (``error`` without
    one, ``rmse`` for a regression metrics report)."""
    if diagnosis is not None:
        spec = spec_of_diagnosis(diagnosis)
    else:
        doc = metrics.to_dict() if hasattr(metrics, "to_dict") else (metrics or {})
        task = doc.get("task") if isinstance(doc, Mapping) else None
        spec = spec_of_diagnosis({"metric": "rmse" if task == "regression" else "error"})
    return dev_rows_from_predictions(predictions, spec, con=con)


def keep_dev_rows(store: RunStore, run_id: str, predictions: Any, *, diagnosis: Any = None,
                  metrics: Any = None) -> DevRows | None:
    """Keep a recorded run's per-row dev results beside it (for runs recorded with
    :meth:`RunStore.record` directly); returns them, or ``None`` when there is nothing to keep."""
    rows = dev_rows_of_run(predictions, diagnosis=diagnosis, metrics=metrics)
    if rows is not None:
        write_dev_rows(dev_rows_path(store, run_id), rows)
    return rows

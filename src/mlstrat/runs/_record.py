"""Recording the runs that ``train`` and ``diagnose`` produce, with their fingerprints."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from mlstrat.runs._run import Run
from mlstrat.runs._store import RunStore

__all__ = ["fingerprint_test_set", "record_predictions_run"]


def fingerprint_test_set(predictions: Any, *, con: Any = None) -> str | None:
    """Fingerprint of a predictions table's test split: which ids, with which true labels.

    Order-independent and streaming: ``count`` and ``bit_xor`` over the rows of a 64-bit md5
    of ``"<id>:<y_true>"`` (bytes 8..15 of the digest, little endian, as DuckDB's
    ``md5_number_lower``; the same on every engine and version, unlike a generic ``hash()``;
    xor-ed as two 32-bit halves because Spark has no unsigned 64-bit type). Two models evaluated
    on the same test set share it while every model's predictions file differs. ``None``
    when there is no test split or no ``id`` column.
    """
    from mlstrat.tables import engine_of, hash64_halves, read_table

    engine = engine_of(con)
    table = read_table(predictions, con=engine)
    if not {"id", "split", "y_true"} <= set(table.columns):
        return None
    test = table.filter(table.split.cast("string") == "test")
    high, low = hash64_halves(engine, test.id.cast("string").concat(":", test.y_true.cast("string")))
    hashed = test.select(hi=high, lo=low)
    n, h_high, h_low = engine.rows(hashed.aggregate(n=hashed.count(), hi=engine.bit_xor(hashed.hi),
                                                    lo=engine.bit_xor(hashed.lo)))[0]
    if not n:
        return None
    h = (int(h_high) << 32) | int(h_low)
    # no ":word:" in the text: Rich would render ":100:" as an emoji
    return f"test-{n}-{int(h):016x}"


def record_predictions_run(kind: str, predictions: str | os.PathLike, *, store: RunStore | None = None,
                           config: Mapping[str, Any] | None = None, metrics: Any = None,
                           diagnosis: Any = None, artifacts: str | os.PathLike | None = None,
                           note: str | None = None, run_id: str | None = None,
                           data: str | os.PathLike | None = None) -> Run:
    """Record a run evaluated on a predictions file; fingerprints are computed here.

    ``data`` is the file the run's data came from (a training manifest); by default the
    predictions file itself. With ``$MLFLOW_TRACKING_URI`` set and MLflow installed, the run
    is also logged to MLflow.
    """
    from mlstrat.tables import fingerprint

    from mlstrat.runs._mlflow import autolog_run

    store = RunStore() if store is None else store
    run = store.record(kind, config=config, data_fingerprint=fingerprint(data or predictions), metrics=metrics,
                       diagnosis=diagnosis, artifacts=artifacts, note=note,
                       test_fingerprint=fingerprint_test_set(predictions), run_id=run_id)
    autolog_run(run)  # when $MLFLOW_TRACKING_URI is set and MLflow is installed
    return run

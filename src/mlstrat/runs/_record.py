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
    of ``"<id>:<y_true>"`` (DuckDB's ``md5_number_lower``: bytes 8..15 of the digest, little
    endian; stable across engine versions, unlike a generic ``hash()``). Two models evaluated
    on the same test set share it while every model's predictions file differs. ``None``
    when there is no test split or no ``id`` column.
    """
    import ibis

    from mlstrat.tables import default_connection, read_table

    con = con or default_connection()
    table = read_table(predictions, con=con)
    if not {"id", "split", "y_true"} <= set(table.columns):
        return None
    test = table.filter(table.split.cast("string") == "test")
    key = test.id.cast("string").concat(":", test.y_true.cast("string"))
    sql = ibis.to_sql(test.select(k=key), dialect="duckdb")
    n, h = con.raw_sql(f"SELECT count(*), bit_xor(md5_number_lower(k)) FROM ({sql})").fetchall()[0]
    if not n:
        return None
    # no ":word:" in the text: Rich would render ":100:" as an emoji
    return f"test-{n}-{int(h):016x}"


def record_predictions_run(kind: str, predictions: str | os.PathLike, *, store: RunStore | None = None,
                           config: Mapping[str, Any] | None = None, metrics: Any = None,
                           diagnosis: Any = None, artifacts: str | os.PathLike | None = None,
                           note: str | None = None, run_id: str | None = None,
                           data: str | os.PathLike | None = None, count_test: bool = True) -> Run:
    """Record a run evaluated on a predictions file; fingerprints are computed here.

    ``data`` is the file the run's data came from (a training manifest); by default the
    predictions file itself. ``count_test=False`` when the documents' test figures were
    already counted as a look (:func:`mlstrat.runs.count_test_look`).
    """
    from mlstrat.tables import fingerprint

    store = RunStore() if store is None else store
    return store.record(kind, config=config, data_fingerprint=fingerprint(data or predictions), metrics=metrics,
                        diagnosis=diagnosis, artifacts=artifacts, note=note,
                        test_fingerprint=fingerprint_test_set(predictions), run_id=run_id,
                        count_test=count_test)

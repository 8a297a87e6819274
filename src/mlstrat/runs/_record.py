"""Recording the runs that ``train`` and ``diagnose`` produce, with their fingerprints."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from mlstrat._events import run_recorded
from mlstrat.runs._run import Run
from mlstrat.runs._store import RunStore
from mlstrat.sealing._fingerprint import fingerprint_test_set

__all__ = ["record_predictions_run"]


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
    """
    from mlstrat.tables import fingerprint

    store = RunStore() if store is None else store
    run = store.record(kind, config=config, data_fingerprint=fingerprint(data or predictions), metrics=metrics,
                       diagnosis=diagnosis, artifacts=artifacts, note=note,
                       test_fingerprint=fingerprint_test_set(predictions), run_id=run_id,
                       count_test=count_test)
    run_recorded(run)  # the MLflow export listens: when $MLFLOW_TRACKING_URI is set and MLflow is installed
    return run

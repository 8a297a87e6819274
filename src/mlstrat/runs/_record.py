"""Recording the runs that ``train`` and ``diagnose`` produce, with their fingerprints."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from mlstrat._events import run_recorded
from mlstrat.metrics._spec import MetricSpec
from mlstrat.runs._rows import (
    DevRows,
    dev_rows_from_predictions,
    dev_rows_path,
    read_dev_rows,
    save_dev_rows,
    spec_of_diagnosis,
)
from mlstrat.runs._run import Run
from mlstrat.runs._store import RunStore
from mlstrat.sealing._fingerprint import file_fingerprint, fingerprint_test_set

__all__ = ["record_predictions_run", "record_diagnosis_run", "record_training_run", "training_failure", "dev_rows_of_run", "keep_dev_rows"]


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
    store = RunStore() if store is None else store
    run = store.record(kind, config=config, data_fingerprint=file_fingerprint(data or predictions),
                       metrics=metrics, diagnosis=diagnosis, artifacts=artifacts, note=note,
                       test_fingerprint=fingerprint_test_set(predictions, store=store),
                       run_id=run_id,
                       count_test=count_test)
    save_dev_rows(dev_rows_path(store, run.id), predictions, _spec_of_run(diagnosis, metrics))
    run_recorded(run)  # the MLflow export listens: when $MLFLOW_TRACKING_URI is set and MLflow is installed
    return run


def dev_rows_of_run(predictions: Any, *, diagnosis: Any = None, metrics: Any = None,
                    con: Any = None) -> DevRows | None:
    """The per-row dev results of a run, for the metric its diagnosis names (``error`` without
    one, ``rmse`` for a regression metrics report)."""
    return dev_rows_from_predictions(predictions, _spec_of_run(diagnosis, metrics), con=con)


def _spec_of_run(diagnosis: Any, metrics: Any) -> MetricSpec:
    """The metric a run's per-row dev results are kept for (see :func:`dev_rows_of_run`)."""
    if diagnosis is not None:
        return spec_of_diagnosis(diagnosis)
    doc = metrics.to_dict() if hasattr(metrics, "to_dict") else (metrics or {})
    task = doc.get("task") if isinstance(doc, Mapping) else None
    return spec_of_diagnosis({"metric": "rmse" if task == "regression" else "error"})


def keep_dev_rows(store: RunStore, run_id: str, predictions: Any, *, diagnosis: Any = None,
                  metrics: Any = None) -> DevRows | None:
    """Keep a recorded run's per-row dev results beside it (for runs recorded with
    :meth:`RunStore.record` directly); returns them, or ``None`` when there is nothing to keep."""
    path = dev_rows_path(store, run_id)
    if not save_dev_rows(path, predictions, _spec_of_run(diagnosis, metrics)):
        return None
    return read_dev_rows(path)


def record_training_run(result: Any, config: Any, *, store: RunStore | str | os.PathLike | None = None,
                        human: Any = (), note: str | None = None, test: bool = False) -> Run:
    """Record a training run (``result``: what :func:`mlstrat.train` returned, ``config``: its
    TrainConfig) with its metrics and diagnosis: multi-task runs per task and on the
    task-averaged error. ``train`` counted the look at the test set (when ``test``); nothing
    here counts it again.

    A run whose cost became NaN or infinite is recorded as failed: no metrics or diagnosis
    (the figures of diverged weights mean nothing), ``{"status": "failed", "failure": ...}`` as
    its metrics document and the failure at the head of its note.

    The history's convergence verdict (``history["convergence"]``) and, when the learning-rate
    range test chose the learning rate, its summary (``history["lr_find"]``), and the transfer's
    sizes and multi-task label counts (``history["transfer"]``, ``history["multitask"]``) are kept
    in the metrics document under the same keys.
    """
    import warnings

    from mlstrat._exceptions import MlstratWarning
    from mlstrat._processes import check_owner

    check_owner(f"the record of {result.run_dir}")  # a DDP rank whose launcher is gone records nothing
    store = store if isinstance(store, RunStore) else RunStore(store)
    failure = training_failure(result.history)
    if failure is not None:
        return _record_failed_training(result, config, store=store, failure=failure, note=note)
    predictions = result.run_dir / "predictions.parquet"
    metrics = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MlstratWarning)  # e.g. "no human level: 0 assumed"
        if result.tasks:
            from mlstrat.diagnosis import diagnose_tasks

            diagnosis = diagnose_tasks(str(predictions), human=list(human), test=test, store=False)
        else:
            from mlstrat.diagnosis import diagnose
            from mlstrat.metrics import compute_metrics

            diagnosis = diagnose(str(predictions), human=list(human), test=test, store=False)
            metrics = compute_metrics(str(predictions), test=test, store=False)
    metrics = _with_convergence(metrics, result.history)
    return record_predictions_run("train", predictions, store=store, config=config.to_dict(), metrics=metrics,
                                  diagnosis=diagnosis, artifacts=result.run_dir, note=note,
                                  data=config.data.manifest, count_test=False)


def _with_convergence(metrics: Any, history: Mapping[str, Any] | None) -> Any:
    """The metrics document with the history's convergence verdict and learning-rate range test
    added (unchanged without either)."""
    kept = {key: (history or {}).get(key) for key in ("convergence", "lr_find", "transfer", "multitask")}
    kept = {key: value for key, value in kept.items() if value}
    if not kept:
        return metrics
    doc = metrics.to_dict() if hasattr(metrics, "to_dict") else dict(metrics or {})
    return {**doc, **kept}


def training_failure(history: Mapping[str, Any] | None) -> str | None:
    """The message of a training history that diverged (its cost became NaN or infinite), or
    ``None`` for a run that completed."""
    history = history or {}
    if not history.get("diverged"):
        return None
    for warning in history.get("warnings") or []:
        if warning.get("code") == "diverged":
            return str(warning["message"])
    return "diverged: lower the learning rate"


def _record_failed_training(result: Any, config: Any, *, store: RunStore, failure: str,
                            note: str | None) -> Run:
    from mlstrat.tables import fingerprint

    full_note = f"failed: {failure}" + (f" | {note}" if note else "")
    run = store.record("train", config=config.to_dict(), data_fingerprint=fingerprint(config.data.manifest),
                       metrics=_with_convergence({"status": "failed", "failure": failure}, result.history),
                       artifacts=result.run_dir,
                       note=full_note, count_test=False)
    run_recorded(run)
    return run


def record_diagnosis_run(predictions: str | os.PathLike, diagnosis: Any, *, options: Mapping[str, Any],
                         store: RunStore | None = None, note: str | None = None) -> tuple[Run, bool]:
    """Record a diagnosis of ``predictions`` made with ``options`` (the command's options, kept
    as the run's config); ``(run, updated)``.

    A diagnosis of the same file (same fingerprint) with the same options is the same run:
    diagnosing it again updates that run (its diagnosis, its place as the latest run, the note
    when one is given) instead of adding a copy. A changed file or other options make a new
    run. The look at the test set was counted by the diagnosis; nothing here counts it again.
    """
    from mlstrat.sealing._schema import config_hash

    store = RunStore() if store is None else store
    config = {"diagnose": dict(options)}
    data = file_fingerprint(predictions)
    wanted = config_hash(to_plain(config))
    same = [r for r in store.list(kind="diagnose") if r.data_fingerprint == data and r.config_hash == wanted]
    if not same:
        run = record_predictions_run("diagnose", predictions, store=store, config=to_plain(config),
                                     diagnosis=diagnosis, note=note, count_test=False)
        return run, False
    run = _update_diagnosis(store, same[-1], predictions, diagnosis, note=note)
    save_dev_rows(dev_rows_path(store, run.id), predictions, _spec_of_run(diagnosis, None))
    run_recorded(run)
    return run, True


def to_plain(value: Any) -> Any:
    """JSON-safe options: paths and other objects as text (so that equal options hash equally)."""
    import json

    from mlstrat._json import to_jsonable

    return json.loads(json.dumps(to_jsonable(value), default=str))


def _update_diagnosis(store: RunStore, run: Run, predictions: Any, diagnosis: Any, *,
                      note: str | None) -> Run:
    """Replace a recorded diagnosis run's diagnosis (and note, when given); it becomes the
    latest run."""
    from mlstrat.runs._store import _document, _dump, _evaluates_test
    from mlstrat.sealing._ledger import closing, now, rollback
    from mlstrat.tables._outputs import reporting_full_disk

    doc = _document(diagnosis, "diagnosis")
    test_fingerprint = fingerprint_test_set(predictions, store=store)
    evaluations = None
    if test_fingerprint is not None and _evaluates_test(None, doc):
        evaluations = store.test_evaluation_count(test_fingerprint)
    with reporting_full_disk(store.path, fix="pass another --store"), closing(store._writer()) as conn:
        conn.execute("BEGIN IMMEDIATE")
        try:
            seq = conn.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM runs").fetchone()[0]
            conn.execute("UPDATE runs SET diagnosis = ?, note = COALESCE(?, note), created_at = ?, seq = ?, "
                         "test_fingerprint = ?, test_evaluations = ? WHERE id = ?",
                         (_dump(doc), note, now(), seq, test_fingerprint, evaluations, run.id))
            conn.execute("COMMIT")
        except BaseException:
            rollback(conn)
            raise
    return store.get(run.id)

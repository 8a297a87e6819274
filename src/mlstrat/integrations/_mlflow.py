"""Exporting recorded runs to MLflow (the ``mlflow`` extra; ``mlflow-skinny`` is enough).

One mlstrat run becomes one MLflow run: params = the flattened config, metrics = every
per-split number and each component of the decomposition (plus the learning curves per
epoch), artifacts = the diagnosis and metrics JSON, the HTML report and the summaries of
tagged sheets, tags = the principal problem and how often the test set has been evaluated.
The mlstrat run id is a tag, so exporting twice finds the first export instead of
duplicating it.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlstrat._exceptions import ConfigError, MlstratWarning
from mlstrat.runs._compare import flatten_config
from mlstrat.runs._run import Run

__all__ = ["MlflowExport", "export_to_mlflow", "mlflow_autolog_enabled", "autolog_run", "TRACKING_ENV"]

TRACKING_ENV = "MLFLOW_TRACKING_URI"
DEFAULT_EXPERIMENT = "mlstrat"
_RUN_TAG = "mlstrat.run_id"
_PARAM_MAX = 6000  # MLflow's limit on a param value
_SPLIT_NUMBERS = ("error", "accuracy", "weighted_error", "precision", "recall", "f1", "n", "errors")


@dataclass(frozen=True)
class MlflowExport:
    """Where a run went: MLflow's run id, its experiment, and whether it was already there."""

    run_id: str
    mlflow_run_id: str
    experiment_id: str
    tracking_uri: str
    created: bool

    def to_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "mlflow_run_id": self.mlflow_run_id, "experiment_id": self.experiment_id,
                "tracking_uri": self.tracking_uri, "created": self.created}


def _mlflow() -> Any:
    try:
        import mlflow
    except ImportError:
        raise ConfigError("MLflow is not installed; install the extra: pip install 'mlstrat[mlflow]'") from None
    return mlflow


def _finite(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def run_params(run: Run) -> dict[str, str]:
    """The flattened config (``optim.lr``) and the run's identity, as MLflow params."""
    params = {k: json.dumps(v) if isinstance(v, (list, dict)) else str(v)
              for k, v in flatten_config(run.config or {}).items()}
    params.update({"mlstrat.kind": run.kind, "mlstrat.config_hash": str(run.config_hash),
                   "mlstrat.data_fingerprint": str(run.data_fingerprint)})
    return {k: v[:_PARAM_MAX] for k, v in params.items()}


def run_metrics(run: Run) -> dict[str, float]:
    """``<split>.error``, ``<split>.error_ci_low``, ..., ``component.<name>`` and human level."""
    out: dict[str, float] = {}
    for split, err in run.errors().items():
        for key, name in (("value", "error"), ("ci_low", "error_ci_low"), ("ci_high", "error_ci_high")):
            if (v := _finite(err.get(key))) is not None:
                out[f"{split}.{name}"] = v
    for split, numbers in ((run.metrics or {}).get("splits") or {}).items():
        for name in _SPLIT_NUMBERS:
            if (v := _finite(numbers.get(name))) is not None:
                out.setdefault(f"{split}.{name}", v)
    for name, comp in run.components().items():
        for key, suffix in (("value", ""), ("ci_low", "_ci_low"), ("ci_high", "_ci_high")):
            if (v := _finite(comp.get(key))) is not None:
                out[f"component.{name}{suffix}"] = v
    proxy = (((run.diagnosis or {}).get("human_level") or {}).get("bayes_proxy") or {}).get("value")
    if (v := _finite(proxy)) is not None:
        out["human_level.bayes_proxy"] = v
    return out


def run_tags(run: Run) -> dict[str, str]:
    diagnosis = run.diagnosis or {}
    tags = {_RUN_TAG: run.id, "mlstrat.kind": run.kind,
            "mlstrat.principal_problem": str(diagnosis.get("principal_problem") or "none")}
    if run.test_evaluations is not None:
        tags["mlstrat.test_set_evaluations"] = str(run.test_evaluations)
    if run.test_fingerprint:
        tags["mlstrat.test_fingerprint"] = run.test_fingerprint
    if diagnosis.get("verdict"):
        tags["mlflow.note.content"] = str(diagnosis["verdict"])
    if run.note:
        tags["mlflow.runName"] = run.note[:250]
    return tags


def _history(run: Run) -> list[dict[str, Any]]:
    if not run.artifacts:
        return []
    path = Path(run.artifacts) / "history.json"
    try:
        epochs = json.loads(path.read_text(encoding="utf-8")).get("epochs") or []
    except (OSError, ValueError, AttributeError):
        return []
    return [e for e in epochs if isinstance(e, dict)]


def _sheets(run: Run, sheets: Iterable[str | os.PathLike]) -> list[Path]:
    """Given sheets, plus the tagged sheets kept in the run directory."""
    found = [Path(s) for s in sheets]
    if run.artifacts and Path(run.artifacts).is_dir():
        found += sorted(p.with_name(p.name[: -len(".meta.json")])
                        for p in Path(run.artifacts).glob("*.csv.meta.json"))
    return list(dict.fromkeys(found))


def _write_artifacts(run: Run, folder: Path, *, sheets: list[Path], report: bool) -> None:
    from mlstrat._json import dumps

    if run.diagnosis:
        (folder / "diagnosis.json").write_text(dumps(run.diagnosis) + "\n", encoding="utf-8")
    if run.metrics:
        (folder / "metrics.json").write_text(dumps(run.metrics) + "\n", encoding="utf-8")
    if run.config:
        (folder / "config.json").write_text(dumps(run.config) + "\n", encoding="utf-8")
    for sheet in sheets:
        from mlstrat.errors import summarize_sheet

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the summary JSON carries its own warnings
            summary = summarize_sheet(sheet)
        (folder / f"error_summary_{sheet.stem}.json").write_text(dumps(summary) + "\n", encoding="utf-8")
    if report and (run.diagnosis or run.metrics):
        from mlstrat.report import render_report

        history = {"epochs": _history(run)} if _history(run) else None
        render_report(runs=[run], history=history, title=f"mlstrat run {run.short_id}",
                      output=folder / "report.html")


def export_to_mlflow(run: Run, *, tracking_uri: str | None = None, experiment: str = DEFAULT_EXPERIMENT,
                     sheets: Iterable[str | os.PathLike] = (), report: bool = True) -> MlflowExport:
    """Log a recorded run to MLflow (once: a second export returns the first).

    Parameters
    ----------
    run : Run
        A run from :class:`RunStore`.
    tracking_uri : str, default=None
        MLflow tracking URI (``sqlite:///mlflow.db``, ``http://host:5000``, a folder);
        default: ``$MLFLOW_TRACKING_URI``, else MLflow's own default (``./mlruns``).
    experiment : str, default="mlstrat"
        The MLflow experiment, created when missing.
    sheets : iterable of path-like, default=()
        Tagged error-analysis sheets whose summaries to attach (sheets kept in the run
        directory are attached too).
    report : bool, default=True
        Attach the HTML report of the run.
    """
    mlflow = _mlflow()
    from mlflow.tracking import MlflowClient

    uri = tracking_uri or os.environ.get(TRACKING_ENV) or mlflow.get_tracking_uri()
    client = MlflowClient(tracking_uri=uri)
    found = client.get_experiment_by_name(experiment)
    experiment_id = found.experiment_id if found else client.create_experiment(experiment)
    existing = client.search_runs([experiment_id], filter_string=f"tags.`{_RUN_TAG}` = '{run.id}'", max_results=1)
    if existing:
        return MlflowExport(run.id, existing[0].info.run_id, experiment_id, uri, created=False)
    from mlflow.entities import Metric, Param, RunTag

    created = client.create_run(experiment_id, tags=run_tags(run))
    mlflow_id = created.info.run_id
    try:
        now = int(created.info.start_time)
        metrics = [Metric(k, v, now, 0) for k, v in run_metrics(run).items()]
        for epoch in _history(run):
            step = int(epoch.get("epoch", 0))
            metrics += [Metric(f"history.{k}", v, now, step) for k, val in epoch.items()
                        if k != "epoch" and (v := _finite(val)) is not None]
        params = [Param(k, v) for k, v in run_params(run).items()]
        client.log_batch(mlflow_id, tags=[RunTag("mlstrat.created_at", run.created_at)])
        for i in range(0, len(params), 100):  # MLflow's limits per batch: 100 params, 1000 metrics
            client.log_batch(mlflow_id, params=params[i:i + 100])
        for i in range(0, len(metrics), 1000):
            client.log_batch(mlflow_id, metrics=metrics[i:i + 1000])
        with tempfile.TemporaryDirectory(prefix="mlstrat-mlflow-") as tmp:
            _write_artifacts(run, Path(tmp), sheets=_sheets(run, sheets), report=report)
            client.log_artifacts(mlflow_id, tmp)
        client.set_terminated(mlflow_id, "FINISHED")
    except BaseException:
        client.set_terminated(mlflow_id, "FAILED")
        raise
    return MlflowExport(run.id, mlflow_id, experiment_id, uri, created=True)


def mlflow_autolog_enabled() -> bool:
    """``$MLFLOW_TRACKING_URI`` is set and MLflow can be imported (without importing it)."""
    import importlib.util

    return bool(os.environ.get(TRACKING_ENV)) and importlib.util.find_spec("mlflow") is not None


def autolog_run(run: Run) -> MlflowExport | None:
    """Export ``run`` when automatic logging is on; a failure warns and never loses the run."""
    if not mlflow_autolog_enabled():
        return None
    try:
        return export_to_mlflow(run)
    except Exception as exc:  # the run is recorded locally already; MLflow is a copy
        warnings.warn(f"MLflow: could not log run {run.short_id} to {os.environ.get(TRACKING_ENV)} ({exc}); "
                      f"retry with 'mlstrat runs export {run.short_id} --mlflow'", MlstratWarning, stacklevel=2)
        return None


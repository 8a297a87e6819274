"""mlstrat: run an ML project the disciplined way.

Split data right, train a first system fast, diagnose what holds the model back against
human-level error, analyse errors, choose the next action, keep the history of iterations.

Public names load lazily: ``import mlstrat`` imports neither torch, DuckDB nor matplotlib;
``mlstrat.train`` imports torch on first use.
"""

from __future__ import annotations

from mlstrat._constants import SPLITS
from mlstrat._constants import VERSION as __version__
from mlstrat._events import on_run_recorded as _on_run_recorded
from mlstrat._exceptions import ConfigError, InputError, MlstratError, MlstratWarning, UndefinedMetricWarning
from mlstrat._lazy import lazy_names as _lazy_names

# public name -> module that defines it
_LAZY: dict[str, str] = {
    "connect": "mlstrat.tables",
    "read_table": "mlstrat.tables",
    "write_table": "mlstrat.tables",
    "read_predictions": "mlstrat.tables",
    "split": "mlstrat.splits",
    "compute_metrics": "mlstrat.metrics",
    "compute_metric": "mlstrat.metrics",
    "compute_regression_metrics": "mlstrat.metrics",
    "learning_curve": "mlstrat.curves",
    "diagnose": "mlstrat.diagnosis",
    "select": "mlstrat.metrics",
    "sample_errors": "mlstrat.errors",
    "summarize_sheet": "mlstrat.errors",
    "find_label_issues": "mlstrat.errors",
    "compare_sheets": "mlstrat.errors",
    "analyze_mismatch": "mlstrat.mismatch",
    "synthesize": "mlstrat.mismatch",
    "TrainConfig": "mlstrat.nn",
    "train": "mlstrat.nn",
    "predict": "mlstrat.nn",
    "gradcheck": "mlstrat.nn",
    "RunStore": "mlstrat.runs",
    "render_report": "mlstrat.report",
    "build_digits_manifest": "mlstrat.scenarios",
}

__all__ = [
    "SPLITS",
    "ConfigError",
    "InputError",
    "MlstratError",
    "MlstratWarning",
    "UndefinedMetricWarning",
    "__version__",
    *_LAZY,
]


__getattr__, __dir__ = _lazy_names(__name__, _LAZY, globals())


@_on_run_recorded
def _log_to_mlflow(run: object) -> None:
    """Each recorded run goes to MLflow too when ``$MLFLOW_TRACKING_URI`` is set (a failure warns).

    Subscribed here, at the top of the package, so that the run store below never imports
    the integration, and every way of recording a run (CLI, Python, Lightning) logs it."""
    from mlstrat.integrations._mlflow import autolog_run

    autolog_run(run)

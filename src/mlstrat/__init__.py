"""mlstrat: run an ML project the disciplined way.

Split data right, train a first system fast, diagnose what holds the model back against
human-level error, analyse errors, choose the next action, keep the history of iterations.

Public names load lazily: ``import mlstrat`` imports neither torch, DuckDB nor matplotlib;
``mlstrat.train`` imports torch on first use.
"""

from __future__ import annotations

from mlstrat._constants import SPLITS
from mlstrat._exceptions import ConfigError, InputError, MlstratError, MlstratWarning, UndefinedMetricWarning
from mlstrat._lazy import lazy_names as _lazy_names

__version__ = "0.1.0"

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

"""Classification metrics from confusion counts, regression and per-example metrics from sums,
their intervals, and model selection.

Public names load lazily so that :mod:`mlstrat.diagnosis` can use the interval helpers
without importing numpy or the engine.
"""

from __future__ import annotations

from mlstrat._lazy import lazy_names as _lazy_names

__all__ = [
    "Candidate",
    "Constraint",
    "Counts",
    "Estimate",
    "MetricSpec",
    "MetricsReport",
    "RegressionReport",
    "RegressionSplit",
    "Selection",
    "SplitMetrics",
    "compute_metric",
    "compute_metrics",
    "compute_regression_metrics",
    "confusion_counts",
    "metrics_from_arrays",
    "metrics_from_counts",
    "mover_difference",
    "normal_interval",
    "parse_constraint",
    "parse_metric",
    "regression_from_arrays",
    "select",
    "wilson_interval",
]

_WHERE: dict[str, str] = {
    "Counts": "._compute",
    "MetricsReport": "._compute",
    "SplitMetrics": "._compute",
    "metrics_from_counts": "._compute",
    "compute_metrics": "._metrics",
    "confusion_counts": "._metrics",
    "metrics_from_arrays": "._metrics",
    "Candidate": "._select",
    "Constraint": "._select",
    "Selection": "._select",
    "parse_constraint": "._select",
    "select": "._select",
    "mover_difference": "._intervals",
    "normal_interval": "._intervals",
    "wilson_interval": "._intervals",
    "MetricSpec": "._spec",
    "parse_metric": "._spec",
    "Estimate": "._values",
    "RegressionReport": "._values",
    "RegressionSplit": "._values",
    "compute_metric": "._values",
    "compute_regression_metrics": "._values",
    "regression_from_arrays": "._values",
}


__getattr__, __dir__ = _lazy_names(__name__, _WHERE, globals())

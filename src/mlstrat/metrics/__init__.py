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
    "OperatingPoint",
    "MetricSpec",
    "MetricsReport",
    "RegressionReport",
    "RegressionSplit",
    "Selection",
    "SplitMetrics",
    "choose_threshold",
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
    "Counts": "._from_counts",
    "MetricsReport": "._from_counts",
    "SplitMetrics": "._from_counts",
    "metrics_from_counts": "._from_counts",
    "compute_metrics": "._classification",
    "confusion_counts": "._classification",
    "metrics_from_arrays": "._classification",
    "Candidate": "._select",
    "Constraint": "._select",
    "Selection": "._select",
    "parse_constraint": "._select",
    "select": "._select",
    "mover_difference": "._intervals",
    "normal_interval": "._intervals",
    "wilson_interval": "._intervals",
    "MetricSpec": "._spec",
    "OperatingPoint": "._threshold",
    "choose_threshold": "._threshold",
    "parse_metric": "._spec",
    "Estimate": "._regression",
    "RegressionReport": "._regression",
    "RegressionSplit": "._regression",
    "compute_metric": "._regression",
    "compute_regression_metrics": "._regression",
    "regression_from_arrays": "._regression",
}


__getattr__, __dir__ = _lazy_names(__name__, _WHERE, globals())

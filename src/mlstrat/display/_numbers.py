"""Numbers for humans: rates as percentages, figures in a metric's unit.

Every percentage the project prints, in the terminal, the report, notebooks and charts,
goes through these functions, so the vocabulary lives in one place.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

__all__ = ["format_rate", "format_pct", "format_pp", "format_figure", "format_param", "is_rate_metric"]


def format_rate(value: float | None, digits: int = 2) -> str:
    """Render a fraction as a percentage with ``digits`` decimals: 0.0512 -> '5.12%'."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{100 * value:.{digits}f}%"


def format_pct(value: float | None) -> str:
    """A rate for humans: one decimal from 1% up, two below (``0.051 -> '5.1%'``, ``0.005 -> '0.50%'``)."""
    if value is None:
        return "-"
    digits = 1 if abs(value) >= 0.01 or value == 0 else 2
    return f"{100 * value:.{digits}f}%"


def format_pp(value: float) -> str:
    """A signed gap between two rates in percentage points: ``0.021 -> '+2.1 pp'``."""
    digits = 1 if abs(value) >= 0.01 or value == 0 else 2
    return f"{100 * value:+.{digits}f} pp"


def is_rate_metric(diagnosis: Mapping[str, Any] | None) -> bool:
    """Whether a diagnosis JSON's figures are rates (percentages) or values in a metric's unit.

    Older runs store ``metric`` as a bare name; every one of those was a classification rate.
    """
    metric = (diagnosis or {}).get("metric")
    return not (isinstance(metric, Mapping) and metric.get("unit") == "value")


def format_figure(value: float | None, diagnosis: Mapping[str, Any] | None, *,
                  signed: bool = False) -> str:
    """A diagnosis figure for humans: :func:`format_pct` for rates, 4 significant digits otherwise."""
    if is_rate_metric(diagnosis):
        text = format_pct(value)
        return "+" + text if signed and value is not None and value > 0 else text
    if value is None:
        return "-"
    return f"{value:+.4g}" if signed else f"{value:.4g}"


def format_param(value: object) -> str:
    """A hyperparameter value: 3 significant digits for a float, any other value as text."""
    return f"{value:.3g}" if isinstance(value, float) else str(value)

"""Numbers for humans: one vocabulary for rates, components, changes and intervals.

Every figure the project prints, in the terminal, the report, notebooks, charts and the
tagging UI, goes through these functions, so the vocabulary lives in one place:

- a rate is a percentage: ``0.0512 -> "5.1%"``;
- a component or a change between two rates is in percentage points, ``"pts"``
  (``+2.1 pts``); for a metric in its own unit (RMSE, a mean log loss) it is a signed number
  in that unit;
- an interval is ``[low, high]``; ``±`` is never used (Wilson and bootstrap intervals are
  asymmetric, and ``18.3% ±7.0`` for 12.3% to 26.3% misleads);
- the precision of a column is chosen once for the whole column (:func:`column_digits`), so
  ``0.0%`` never sits above ``0.86%``;
- a change is computed from the values as displayed (:func:`format_change`), so
  ``3.4% -> 5.0%`` reads ``+1.6 pts``, never ``+1.7 pts``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["format_rate", "format_pct", "format_pts", "format_figure", "format_interval",
           "format_change", "column_digits", "is_rate_metric",
           "format_param"]

PTS = "pts"


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and not math.isfinite(value))


def column_digits(values: Iterable[float | None], *, rate: bool = True) -> int:
    """Decimals that make a whole column of figures read evenly.

    For rates (shown in %): one decimal, or two when some non-zero value is under 1% (so that
    0.86% keeps two significant digits and its neighbours show the same two decimals). For
    figures in a metric's unit: enough decimals for two significant digits of the smallest
    non-zero magnitude, at most 6.
    """
    scale = 100.0 if rate else 1.0
    small = [abs(scale * v) for v in values if not _missing(v) and v != 0]
    if not small:
        return 1
    least = min(small)
    if rate:
        return 1 if least >= 1 else 2
    digits = 1 - math.floor(math.log10(least))
    return min(max(digits, 0), 6)


def _number(value: float, digits: int, rate: bool, signed: bool = False) -> str:
    shown = round(100 * value if rate else value, digits)
    if shown == 0:
        shown = 0.0  # no "-0.0"
    sign = "+" if signed else ""
    return f"{shown:{sign}.{digits}f}"


def format_rate(value: float | None, digits: int = 2) -> str:
    """Render a fraction as a percentage with ``digits`` decimals: 0.0512 -> '5.12%'."""
    if _missing(value):
        return "-"
    return _number(float(value), digits, True) + "%"  # type: ignore[arg-type]


def format_pct(value: float | None, *, digits: int | None = None) -> str:
    """A rate for humans: one decimal from 1% up, two below (``0.051 -> '5.1%'``,
    ``0.005 -> '0.50%'``); ``digits`` fixes the decimals (a column's :func:`column_digits`)."""
    if _missing(value):
        return "-"
    if digits is None:
        digits = column_digits([value])  # type: ignore[list-item]
    return format_rate(value, digits)


def format_pts(value: float | None, *, digits: int | None = None, rate: bool = True) -> str:
    """A signed component or change: ``0.021 -> '+2.1 pts'`` for rates, ``'+0.031'`` in a
    metric's own unit (``rate=False``)."""
    if _missing(value):
        return "-"
    if digits is None:
        digits = column_digits([value], rate=rate)  # type: ignore[list-item]
    text = _number(float(value), digits, rate, signed=True)  # type: ignore[arg-type]
    return f"{text} {PTS}" if rate else text


def format_interval(low: float | None, high: float | None, *, rate: bool = True,
                    digits: int | None = None, signed: bool = False) -> str:
    """An interval as ``[low, high]``: ``[12.3%, 26.3%]`` for rates, ``[+1.2, +3.4] pts`` for a
    signed component (``signed=True``), ``[0.12, 0.34]`` in a metric's unit.

    Both ends share one precision (the given ``digits`` or :func:`column_digits` of the two).
    """
    if _missing(low) or _missing(high):
        return "-"
    if digits is None:
        digits = column_digits([low, high], rate=rate)  # type: ignore[list-item]
    lo = _number(float(low), digits, rate, signed)  # type: ignore[arg-type]
    hi = _number(float(high), digits, rate, signed)  # type: ignore[arg-type]
    if not rate:
        return f"[{lo}, {hi}]"
    return f"[{lo}, {hi}] {PTS}" if signed else f"[{lo}%, {hi}%]"


def format_change(before: float | None, after: float | None, *, rate: bool = True,
                  digits: int | None = None) -> tuple[str, str, str]:
    """``(before, after, change)`` texts where the change is the difference of the values as
    shown: ``(0.0344, 0.0496) -> ('3.4%', '5.0%', '+1.6 pts')``."""
    if digits is None:
        digits = column_digits([before, after], rate=rate)
    fig = (lambda v: format_pct(v, digits=digits)) if rate else (lambda v: _fig_text(v, digits))
    if _missing(before) or _missing(after):
        return fig(before), fig(after), "-"
    scale = 100.0 if rate else 1.0
    shown_before = round(scale * float(before), digits)  # type: ignore[arg-type]
    shown_after = round(scale * float(after), digits)  # type: ignore[arg-type]
    change = round(shown_after - shown_before, digits) / scale
    return fig(before), fig(after), format_pts(change, digits=digits, rate=rate)


def _fig_text(value: float | None, digits: int) -> str:
    return "-" if _missing(value) else _number(float(value), digits, False)  # type: ignore[arg-type]


def is_rate_metric(diagnosis: Mapping[str, Any] | None) -> bool:
    """Whether a diagnosis JSON's figures are rates (percentages) or values in a metric's unit.

    Older runs store ``metric`` as a bare name; every one of those was a classification rate.
    """
    metric = (diagnosis or {}).get("metric")
    return not (isinstance(metric, Mapping) and metric.get("unit") == "value")


def format_figure(value: float | None, diagnosis: Mapping[str, Any] | None, *,
                  signed: bool = False, digits: int | None = None) -> str:
    """A diagnosis figure for humans: :func:`format_pct` for rates, 4 significant digits
    otherwise; ``signed`` figures are components (``+2.1 pts``)."""
    rate = is_rate_metric(diagnosis)
    if signed:
        if not rate and digits is None:
            return "-" if _missing(value) else f"{value:+.4g}"
        return format_pts(value, digits=digits, rate=rate)
    if rate:
        return format_pct(value, digits=digits)
    if _missing(value):
        return "-"
    return _fig_text(value, digits) if digits is not None else f"{value:.4g}"


def format_param(value: object) -> str:
    """A hyperparameter value: 3 significant digits for a float, any other value as text."""
    return f"{value:.3g}" if isinstance(value, float) else str(value)

"""Two tagged sheets side by side (typically dev and test, docs/method.md §4): per category both
shares, their difference and its 95% Newcombe interval, and warnings where the sets differ.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any

from mlstrat.display._repr import NotebookRepr
from mlstrat.display._numbers import format_rate
from mlstrat.errors._categories import wilson_interval
from mlstrat.errors._summary import ErrorSummary, _warning, summarize_sheet
from mlstrat.metrics._intervals import mover_difference

__all__ = ["CategoryDifference", "SheetComparison", "compare_sheets"]


@dataclass(frozen=True)
class CategoryDifference:
    """One category in two sheets: shares, their difference and its 95% interval (Newcombe)."""

    name: str
    shares: tuple[float, float]
    difference: float
    difference_ci: tuple[float, float]
    significant: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "shares": list(self.shares),
            "difference": self.difference,
            "difference_ci": list(self.difference_ci),
            "significant": self.significant,
        }


@dataclass(frozen=True)
class SheetComparison(NotebookRepr):
    """Two summaries side by side (typically dev and test after fixing labels)."""

    sheets: tuple[ErrorSummary, ErrorSummary]
    categories: tuple[CategoryDifference, ...]
    warnings: tuple[dict[str, str], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "sheets": [s.to_dict() for s in self.sheets],
            "categories": [c.to_dict() for c in self.categories],
            "warnings": [dict(w) for w in self.warnings],
        }


def _newcombe(k1: int, n1: int, k2: int, n2: int) -> tuple[float, float]:
    """95% interval of p2 - p1 from two Wilson intervals (Newcombe 1998, method 10)."""
    if n1 == 0 or n2 == 0:
        return (math.nan, math.nan)
    p1, p2 = k1 / n1, k2 / n2
    return mover_difference(p2, *wilson_interval(k2, n2), p1, *wilson_interval(k1, n1))


def compare_sheets(
    first: str | os.PathLike, second: str | os.PathLike, *, mislabeled: str = "mislabeled"
) -> SheetComparison:
    """Compare two tagged sheets, e.g. dev and test (fix dev and test alike, docs/method.md §4).

    For every category present in either sheet: both shares (over each sheet's examined
    errors, the rule of :func:`summarize_sheet`), the difference (second - first) and its 95%
    Newcombe interval; ``significant`` when the interval excludes 0.

    Returns
    -------
    SheetComparison
    """
    a = summarize_sheet(first, mislabeled=mislabeled)
    b = summarize_sheet(second, mislabeled=mislabeled)
    names = [c.name for c in a.categories] + [
        c.name for c in b.categories if c.name not in {x.name for x in a.categories}
    ]
    diffs = []
    notes: list[dict[str, str]] = []
    for name in names:
        ca = next((c for c in a.categories if c.name == name), None)
        cb = next((c for c in b.categories if c.name == name), None)
        ka, kb = (ca.count if ca else 0), (cb.count if cb else 0)
        sa = ka / a.reviewed if a.reviewed else math.nan
        sb = kb / b.reviewed if b.reviewed else math.nan
        ci = _newcombe(ka, a.reviewed, kb, b.reviewed)
        significant = not math.isnan(ci[0]) and (ci[0] > 0 or ci[1] < 0)
        diffs.append(CategoryDifference(name, (sa, sb), sb - sa, ci, significant))
        if ca is None or cb is None:
            where = "first" if ca is None else "second"
            notes.append(
                _warning(
                    "category_missing",
                    f"category {name!r} is not in the {where} sheet; counted as 0 there",
                )
            )
    if a.split == b.split:
        notes.append(
            _warning(
                "same_split",
                f"both sheets come from split {a.split!r}; compare dev "
                "with test to check they are examined alike",
            )
        )
    for d in diffs:
        if d.significant:
            notes.append(
                _warning(
                    "share_differs",
                    f"category {d.name!r}: share {format_rate(d.shares[0], 0)} "
                    f"vs {format_rate(d.shares[1], 0)}, a difference beyond "
                    "sampling noise; the two sets may differ (or were "
                    "tagged differently)",
                )
            )
    return SheetComparison(sheets=(a, b), categories=tuple(diffs), warnings=tuple(notes))

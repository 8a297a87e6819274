"""An error-analysis summary's figures as every surface shows them: the terminal
(``errors summarize``), the HTML report, the tagging UI and the advice sentence.

One rule for all of them, so that a share reads ``42.5%`` everywhere, never ``42.5%`` in a
table and ``42%`` or ``43%`` beside it:

- shares and their intervals: one precision for the share column;
- the split error, ceilings and errors if fixed: one precision for all of them, since a
  ceiling plus its error if fixed is the split error (``9.48% + 12.82% = 22.30%``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from mlstrat.display._numbers import column_digits, format_interval, format_pct
from mlstrat.display._sections import n_text

__all__ = ["share_digits", "error_digits", "summary_rows"]


def _finite(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def _entries(summary: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The categories, then "no category: other causes" when the summary has it."""
    cats = [c for c in summary.get("categories") or [] if isinstance(c, Mapping)]
    other = summary.get("other_causes")
    return cats + ([other] if isinstance(other, Mapping) else [])


def share_digits(shares: Sequence[float | None]) -> int:
    """Decimals of the share column (and of the shares quoted in prose)."""
    return column_digits([_finite(s) for s in shares])


def error_digits(split_error: float | None, entries: Sequence[Mapping[str, Any]]) -> int:
    """Decimals of the split error, the ceilings and the errors if fixed."""
    values = [_finite(split_error)]
    values += [_finite(c.get(key)) for c in entries for key in ("ceiling", "error_if_fixed")]
    return column_digits(values)


def summary_rows(summary: Mapping[str, Any]) -> dict[str, Any]:
    """``{"split_error": "22.30%", "rows": [{"name", "count", "share", "share_ci", "ceiling",
    "error_if_fixed"}, ...], "error_due", "error_other"}``, all as text (``-`` when missing).

    ``summary`` is an :class:`~mlstrat.errors.ErrorSummary` as a dict (``to_dict()``).
    """
    entries = _entries(summary)
    shares = share_digits([c.get("share") for c in entries])
    errors = error_digits(summary.get("split_error"), entries)
    rows = []
    for c in entries:
        low, high = (list(c.get("share_ci") or []) + [None, None])[:2]
        rows.append({
            "name": str(c.get("name")),
            "count": n_text(c.get("count")),
            "share": format_pct(_finite(c.get("share")), digits=shares),
            "share_ci": format_interval(_finite(low), _finite(high), digits=shares),
            "ceiling": format_pct(_finite(c.get("ceiling")), digits=errors),
            "error_if_fixed": format_pct(_finite(c.get("error_if_fixed")), digits=errors),
        })
    mislabeled = summary.get("mislabeled") if isinstance(summary.get("mislabeled"), Mapping) else {}
    return {
        "split_error": format_pct(_finite(summary.get("split_error")), digits=errors),
        "rows": rows,
        "error_due": format_pct(_finite(mislabeled.get("error_due")), digits=errors),
        "error_other": format_pct(_finite(mislabeled.get("error_other")), digits=errors),
    }

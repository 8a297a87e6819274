"""The report's "where it fails" section: the top slices of the dev split, with intervals.

Shown when the predictions have metadata or feature columns and class labels; the slices
come from :func:`mlstrat.errors.find_slices` with its defaults (SliceLine's score,
Benjamini–Hochberg at 5%).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlstrat._numbers import finite_or_none
from mlstrat.display import column_digits, format_interval, format_pct

__all__ = ["where_it_fails", "slices_section"]

#: slices shown in the report
TOP = 5


def where_it_fails(predictions: Path | None) -> dict[str, Any] | None:
    """``find_slices(...).to_dict()`` of the dev split, or None when it does not apply."""
    if predictions is None or not predictions.is_file():
        return None
    from mlstrat._exceptions import MlstratError
    from mlstrat.errors import find_slices

    try:
        report = find_slices(str(predictions), split="dev", top=TOP)
    except MlstratError:
        return None  # no dev split, no metadata column, numeric labels: the section is an extra
    return report.to_dict()


def slices_section(doc: dict[str, Any] | None) -> dict[str, Any] | None:
    """The template's view of a slice search: rows of text, and the one-line method."""
    if not doc:
        return None
    slices = doc.get("slices") or []
    # one precision per column; the interval shares the error column's
    error_digits = column_digits([finite_or_none(s[k]) for s in slices
                                  for k in ("error", "ci_low", "ci_high")])
    ceiling_digits = column_digits([finite_or_none(s["ceiling"]) for s in slices])
    rows = [{"slice": s["slice"], "n": f"{int(s['n']):,}",
             "error": format_pct(finite_or_none(s["error"]), digits=error_digits),
             "ci": format_interval(finite_or_none(s["ci_low"]), finite_or_none(s["ci_high"]),
                                   digits=error_digits),
             "lift": f"{s['lift']:.2f}x",
             "ceiling": format_pct(finite_or_none(s["ceiling"]), digits=ceiling_digits),
             "q": f"{s['q_value']:.2g}"}
            for s in slices]
    return {"split": doc.get("split"), "error": format_pct(finite_or_none(doc.get("error"))),
            "n": f"{int(doc.get('n') or 0):,}", "tested": f"{int(doc.get('tested') or 0):,}",
            "significant": doc.get("significant"), "fdr": doc.get("fdr"), "test": doc.get("test"),
            "alpha": (doc.get("score") or {}).get("alpha"), "rows": rows}

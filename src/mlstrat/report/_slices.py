"""The report's "where it fails" section: the top slices of the dev split, with intervals.

Shown when the predictions have metadata or feature columns and class labels; the slices
come from :func:`mlstrat.errors.find_slices` with its defaults (SliceLine's score,
Benjamini–Hochberg at 5%).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlstrat._numbers import finite_or_none
from mlstrat.display import format_pct

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


def _interval(low: Any, high: Any) -> str:
    lo, hi = finite_or_none(low), finite_or_none(high)
    return "–" if lo is None or hi is None else f"{format_pct(lo)} – {format_pct(hi)}"


def slices_section(doc: dict[str, Any] | None) -> dict[str, Any] | None:
    """The template's view of a slice search: rows of text, and the one-line method."""
    if not doc:
        return None
    rows = [{"slice": s["slice"], "n": f"{int(s['n']):,}", "error": format_pct(finite_or_none(s["error"])),
             "ci": _interval(s["ci_low"], s["ci_high"]), "lift": f"{s['lift']:.2f}x",
             "ceiling": format_pct(finite_or_none(s["ceiling"])), "q": f"{s['q_value']:.2g}"}
            for s in doc.get("slices") or []]
    return {"split": doc.get("split"), "error": format_pct(finite_or_none(doc.get("error"))),
            "n": f"{int(doc.get('n') or 0):,}", "tested": f"{int(doc.get('tested') or 0):,}",
            "significant": doc.get("significant"), "fdr": doc.get("fdr"), "test": doc.get("test"),
            "alpha": (doc.get("score") or {}).get("alpha"), "rows": rows}

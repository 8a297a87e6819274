"""The ceiling of each category on a loss sheet: the share of the split's total loss its
tagged rows hold, and the split's figure if they were all fixed (:mod:`mlstrat.errors._losses`
says how a figure follows from the losses)."""

from __future__ import annotations

from typing import Any

from mlstrat._exceptions import InputError
from mlstrat.errors._losses import figure_after
from mlstrat.errors._sheet import Sheet, read_sheet
from mlstrat.metrics._spec import parse_metric

__all__ = ["loss_ceilings"]


def loss_ceilings(sheet: Any) -> dict[str, Any]:
    """Per category: the share of the split's total loss its tagged rows hold, and the figure
    if they were all fixed (see :mod:`mlstrat.errors._losses`). ``sheet``: a path or a read
    :class:`Sheet`."""
    sh = sheet if isinstance(sheet, Sheet) else read_sheet(sheet)
    meta = sh.meta
    if "metric" not in meta or "total_loss" not in meta:
        raise InputError(f"{sh.path}: not a loss sheet (sampled without --metric); "
                         "use `mlstrat errors summarize` for misclassified rows")
    spec = parse_metric(meta["metric"]["name"])
    total, value = float(meta["total_loss"]), float(meta["split_value"])
    losses = [float(r.get("loss") or 0.0) for r in sh.rows]
    rows = []
    for cat in sh.categories:
        held = sum(loss for loss, marks in zip(losses, sh.marks, strict=True) if cat in marks)
        share = held / total if total > 0 else 0.0
        rows.append({"category": cat, "rows": sum(cat in m for m in sh.marks), "loss": held,
                     "share_of_total_loss": share, "figure_if_fixed": figure_after(spec, value, share)})
    rows.sort(key=lambda r: -r["share_of_total_loss"])
    return {"metric": meta["metric"], "split": meta.get("split"), "split_value": value,
            "total_loss": total, "examined": len(losses),
            "examined_share_of_total_loss": sum(losses) / total if total > 0 else 0.0,
            "categories": rows}

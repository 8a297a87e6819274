"""Error analysis on a metric in its own unit: the rows with the largest per-example losses.

For a classification rate, a mistake is a misclassified row and every mistake weighs the
same. For RMSE, MAE, a mean loss or a corpus rate, rows differ in how much they cost: the
sheet takes the ``n`` rows of the split with the largest loss (ties broken by the seeded hash
key, so the sample is reproducible), and each row's loss is a sheet column.

Per-example loss and how the split's figure follows from the sum of the losses ``L``:

- ``mae``: ``|y_pred - y_true|``; MAE = L / n, so removing a share ``s`` of L gives MAE (1 - s);
- ``rmse``: ``(y_pred - y_true)^2``; RMSE = sqrt(L / n): RMSE sqrt(1 - s);
- ``mean:COL``: the column; mean = L / n: mean (1 - s);
- ``ratio:NUM/DEN``: the numerator (the row's word errors); rate = L / sum(DEN): rate (1 - s).

A category's **ceiling** is the share of the split's total loss that its tagged rows hold:
fixing every one of them removes that share and no more (others in the split, not
sampled, may hold more: the ceiling is exact for the rows seen and a floor for the category).
"""

from __future__ import annotations

import math
from typing import Any

from mlstrat._exceptions import ConfigError, InputError
from mlstrat.metrics._spec import MetricSpec, parse_metric

__all__ = ["loss_expression", "figure_after", "loss_split_stats", "sample_losses",
           "parse_value_metric"]


def loss_expression(t: Any, spec: MetricSpec) -> Any:
    """The per-example loss of ``spec`` as an Ibis expression over table ``t``."""
    if spec.kind in ("mae", "rmse"):
        e = t.y_pred.cast("float64") - t.y_true.cast("float64")
        return e.abs() if spec.kind == "mae" else e * e
    if spec.kind in ("mean", "ratio"):
        return t[spec.column].cast("float64")
    raise ConfigError(f"--metric {spec.name}: errors of a classification rate are misclassified rows; "
                      "leave --metric out")


def figure_after(spec: MetricSpec, value: float, share: float) -> float:
    """The split's figure once a share of its total loss is removed (see the module doc)."""
    if spec.kind == "rmse":
        return value * math.sqrt(max(1.0 - share, 0.0))
    return value * (1.0 - share)


def loss_split_stats(table: Any, split: str, spec: MetricSpec) -> dict[str, float]:
    """n, total loss and the split's figure in one engine query."""
    import ibis

    part = table.filter(table.split.cast("string") == split)
    aggs = {"n": ibis._.count(), "total": loss_expression(part, spec).sum()}
    if spec.kind == "ratio":
        aggs["den"] = part[spec.denominator].cast("float64").sum()
    row = part.aggregate(**aggs).to_pyarrow().to_pylist()[0]
    n, total = int(row["n"] or 0), float(row["total"] or 0.0)
    if n == 0:
        return {"n": 0, "total": 0.0, "value": float("nan")}
    if spec.kind == "rmse":
        value = math.sqrt(total / n)
    elif spec.kind == "ratio":
        value = total / float(row["den"]) if row["den"] else float("nan")
    else:
        value = total / n
    return {"n": n, "total": total, "value": value}


def sample_losses(preds: Any, split: str, spec: MetricSpec, n: int, seed: int, *, table: Any = None
                  ) -> tuple[list[dict[str, Any]], dict[str, float]]:
    """The ``n`` rows of ``split`` with the largest loss (column ``loss``) and the split's stats.

    ``table``: the predictions with manifest columns joined back (default: ``preds.table``)."""
    from mlstrat.metrics._regression import _check_columns

    if spec.higher_is_better:
        raise ConfigError(
            f"--metric {spec.name}: a higher-is-better score has no loss to rank by; add a loss "
            "column (e.g. 1 - IoU) and sample with --metric mean:<that column>"
        )
    _check_columns(preds, spec)
    table = preds.table if table is None else table
    stats = loss_split_stats(table, split, spec)
    if stats["n"] == 0:
        raise InputError(f"{preds.source}: split {split!r} has no rows (splits present: "
                         f"{', '.join(preds.sizes) or 'none'})")
    if stats["total"] <= 0:
        raise InputError(f"{preds.source}: split {split!r} has a total {spec.label} loss of 0; "
                         "there is nothing to sample")
    part = table.filter(table.split.cast("string") == split)
    part = part.mutate(_loss=loss_expression(part, spec),
                       _key=(part.id.cast("string") + f":{int(seed)}").hexdigest("md5"))
    rows = (part.order_by([part._loss.desc(), "_key"]).limit(int(n)).drop("_key")
            .to_pyarrow().to_pylist())
    for row in rows:
        row["loss"] = row.pop("_loss")
    return rows, stats


def parse_value_metric(metric: str | MetricSpec | None) -> MetricSpec | None:
    """``None`` or a classification rate -> None (misclassified rows); else the spec."""
    if metric is None:
        return None
    spec = parse_metric(metric)
    return None if spec.is_rate else spec

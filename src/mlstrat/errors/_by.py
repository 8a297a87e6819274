"""Per-slice figures (docs/method.md §4): a split's metric broken down by one or more columns.

Each slice gets its figure with a 95% interval, its size, its share of the split's mistakes
(or of its total loss) and its ceiling: how much the split's figure would fall if that slice
did as well as the split on average, ``(n_s / N)(e_s - e)`` for an error rate. The engine
computes one GROUP BY of sums (:mod:`mlstrat.errors._slicing`); Python only turns the few
result rows into figures.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from mlstrat._exceptions import ConfigError
from mlstrat.display._repr import NotebookRepr
from mlstrat.errors._slicing import (
    ColumnKey,
    as_sums,
    ceiling,
    figure,
    group_sums,
    minus,
    plan_keys,
    row_terms,
    slice_columns,
    slice_spec,
)
from mlstrat.metrics._spec import MetricSpec

__all__ = ["SliceFigure", "SliceMetrics", "slice_metrics", "open_split"]

#: the label of the rows outside the ``top`` slices
OTHER = "(other)"


@dataclass(frozen=True)
class SliceFigure:
    """One slice of :class:`SliceMetrics`.

    Attributes
    ----------
    slice : str
        ``"region = north"``, ``"30 <= age < 45, device = app"``, or ``"(other)"``.
    predicates : tuple of dict
        ``{column, op, value}`` (``op`` ``==``), ``{column, op: "range", low, high}`` or
        ``{column, op: "is_missing"}``; empty for ``(other)``.
    n : int
        Rows in the slice.
    value, ci_low, ci_high : float
        The slice's figure and its 95% interval.
    share : float
        The slice's part of the split's mistakes (rates) or of its summed loss, 0..1.
    ceiling : float
        How much the split's figure would fall if this slice did as well as the split on
        average (negative: the slice does better than average).
    """

    slice: str
    predicates: tuple[dict[str, Any], ...]
    n: int
    value: float
    ci_low: float
    ci_high: float
    share: float
    ceiling: float

    def to_dict(self) -> dict[str, Any]:
        return {"slice": self.slice, "predicates": [dict(p) for p in self.predicates],
                "n": self.n, "value": self.value, "ci_low": self.ci_low, "ci_high": self.ci_high,
                "share": self.share, "ceiling": self.ceiling}


@dataclass(frozen=True)
class SliceMetrics(NotebookRepr):
    """A split's metric per slice; ``to_dict()`` is ``mlstrat metrics --by COL --json``.

    Attributes
    ----------
    split : str
    metric : MetricSpec
    by : tuple of str
        The columns sliced by (their combinations are the slices).
    keys : tuple of ColumnKey
        How each column was cut: its values, or quantile bins with their edges.
    n : int
        Rows in the split.
    value, ci_low, ci_high : float
        The split's figure and its 95% interval.
    slices : tuple of SliceFigure
        The slices with the most mistakes first, ``(other)`` last when some were left out.
    groups : int
        Distinct slices in the split (``top`` of them are listed; the rest are ``(other)``).
    top : int
    source : str
    """

    split: str
    metric: MetricSpec
    by: tuple[str, ...]
    keys: tuple[ColumnKey, ...]
    n: int
    value: float
    ci_low: float
    ci_high: float
    slices: tuple[SliceFigure, ...] = ()
    groups: int = 0
    top: int = 20
    source: str = ""
    interval: str = field(default="")

    def to_dict(self) -> dict[str, Any]:
        return {
            "split": self.split,
            "metric": self.metric.to_dict(),
            "by": list(self.by),
            "columns": [_key_dict(k) for k in self.keys],
            "n": self.n,
            "value": self.value,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "share_of": "mistakes" if self.metric.is_rate else "loss",
            "groups": self.groups,
            "top": self.top,
            "slices": [s.to_dict() for s in self.slices],
            "interval": self.interval,
            "source": self.source,
        }


def _key_dict(key: ColumnKey) -> dict[str, Any]:
    out: dict[str, Any] = {"column": key.column, "kind": key.kind}
    if key.kind == "bins":
        out.update(bins=len(key.edges) + 1, edges=list(key.edges))
    return out


_INTERVALS = {
    "error": "Wilson score",
    "weighted_error": "delta method (ratio of weight sums)",
    "mae": "CLT",
    "mean": "CLT",
    "rmse": "CLT on the mean squared error, square-rooted",
    "ratio": "delta method (ratio of sums)",
}


def open_split(predictions: Any, spec: MetricSpec, split: str, *, weight: str | None,
               con: Any) -> tuple[Any, Any]:
    """``(predictions, rows of the split)``: validated, the metric's columns checked."""
    from mlstrat.metrics._classification import resolve_splits
    from mlstrat.metrics._regression import metric_sums
    from mlstrat.tables import Predictions, read_predictions

    labels = spec.kind not in ("mean", "ratio")
    pred = predictions if isinstance(predictions, Predictions) else read_predictions(
        predictions, con=con, labels=labels, weight=weight)
    if split == "test" and pred.sizes.get("test"):
        raise ConfigError("--split test: the test split is sealed; break down and search dev "
                          "(or train, train_dev): slices chosen on test would overfit it")
    resolve_splits([split], pred.sizes, pred.source, test=False)
    if spec.kind in ("mae", "rmse", "mean", "ratio"):
        metric_sums(pred, spec, [split])  # its checks: numeric columns, no empty values
    t = pred.table
    return pred, t.filter(t.split.cast("string") == split)


def _weight_column(spec: MetricSpec, weight: str | None, columns: Sequence[str]) -> str | None:
    if spec.kind != "weighted_error":
        return None
    if weight:
        return weight
    if "weight" in columns:
        return "weight"
    raise ConfigError("--metric weighted_error needs a weight column: add 'weight' or pass --weight COL")


def slice_metrics(predictions: Any, by: str | Sequence[str], *, split: str = "dev",
                  metric: str | MetricSpec = "error", bins: int = 10, top: int = 20,
                  weight: str | None = None, con: Any = None) -> SliceMetrics:
    """A split's metric per slice of ``by``, with intervals, shares of mistakes and ceilings.

    Parameters
    ----------
    predictions : path-like, DataFrame, ibis.Table or Predictions
        A predictions table with the ``by`` columns.
    by : str or sequence of str
        Column(s) to slice by, ``"region"`` or ``"region,device"``: with several, each
        combination of values is a slice.
    split : str, default="dev"
        The split to break down (the test split stays sealed here).
    metric : str or MetricSpec, default="error"
        ``error``, ``weighted_error``, ``mae``, ``rmse``, ``mean:COL`` or ``ratio:NUM/DEN``.
    bins : int, default=10
        Numbers with more distinct values than this are cut into (at most) ``bins`` quantile bins.
    top : int, default=20
        Slices listed, those with the most mistakes (the largest summed loss) first; the
        others are pooled as ``(other)``.
    weight : str, default=None
        The weight column of ``weighted_error`` (default ``weight``).

    Returns
    -------
    SliceMetrics

    Examples
    --------
    >>> from mlstrat.errors import slice_metrics
    >>> r = slice_metrics({"split": ["dev"] * 4, "y_true": [1, 1, 0, 0], "y_pred": [1, 0, 0, 0],
    ...                    "region": ["n", "n", "s", "s"]}, "region")
    >>> [(s.slice, s.value, s.ceiling) for s in r.slices]
    [('region = n', 0.5, 0.125), ('region = s', 0.0, -0.125)]
    """
    if top < 1:
        raise ConfigError(f"--top {top}: list at least 1 slice")
    spec = slice_spec(metric)
    wanted = [c for c in (by.split(",") if isinstance(by, str) else by)]
    pred, t = _open(predictions, spec, split, weight, con)
    columns = slice_columns(t, wanted, source=pred.source, flag="--by")
    keys = plan_keys(t, columns, bins=bins)
    x, d = row_terms(t, spec, weight=_weight_column(spec, weight, list(t.columns)))
    total = as_sums(group_sums(t, {}, x, d).to_pyarrow().to_pylist()[0])
    names = {f"_k{i}": k.expr(t) for i, k in enumerate(keys)}
    grouped = group_sums(t, names, x, d)
    groups = int(grouped.count().to_pyarrow().as_py())
    import ibis

    ties = [ibis.coalesce(grouped[k].cast("string"), "") for k in names]
    rows = grouped.order_by([ibis.desc("x"), ibis.desc("n"), *ties]).limit(top).to_pyarrow().to_pylist()
    slices = [_figure(spec, keys, row, total) for row in rows]
    if groups > top:
        kept = {k: sum(as_sums(r)[k] for r in rows) for k in total}
        slices.append(_other(spec, minus(total, kept), total))
    value, low, high = figure(spec, total)
    return SliceMetrics(split=split, metric=spec, by=tuple(columns), keys=tuple(keys),
                        n=int(total["n"]), value=value, ci_low=low, ci_high=high,
                        slices=tuple(slices), groups=groups, top=top, source=pred.source,
                        interval=_INTERVALS[spec.kind])


def _open(predictions: Any, spec: MetricSpec, split: str, weight: str | None, con: Any) -> Any:
    wanted = weight if spec.kind == "weighted_error" else None
    return open_split(predictions, spec, split, weight=wanted, con=con)


def _share(part: dict[str, float], total: dict[str, float]) -> float:
    return part["x"] / total["x"] if total["x"] else 0.0


def _figure(spec: MetricSpec, keys: Sequence[ColumnKey], row: dict[str, Any],
            total: dict[str, float]) -> SliceFigure:
    sums = as_sums(row)
    values = [row[f"_k{i}"] for i in range(len(keys))]
    value, low, high = figure(spec, sums)
    return SliceFigure(
        slice=", ".join(k.describe(v) for k, v in zip(keys, values)),
        predicates=tuple(k.predicate(v) for k, v in zip(keys, values)),
        n=int(sums["n"]), value=value, ci_low=low, ci_high=high,
        share=_share(sums, total), ceiling=ceiling(spec, sums, total))


def _other(spec: MetricSpec, sums: dict[str, float], total: dict[str, float]) -> SliceFigure:
    value, low, high = figure(spec, sums)
    return SliceFigure(slice=OTHER, predicates=(), n=int(sums["n"]), value=value, ci_low=low,
                       ci_high=high, share=_share(sums, total), ceiling=ceiling(spec, sums, total))

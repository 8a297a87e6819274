"""Regression and per-example metrics: sums in ONE engine aggregation, figures in Python.

The engine computes, per split, the sums the intervals need (``n``, sums of residuals,
of their squares and fourth powers, of powers of ``y_true``, cross-products; or the sums and
squares of a loss column; or of a ratio's numerator and denominator). The result has one
row per split whatever the table size, so ``diagnose --metric rmse`` streams over 100M rows.
The expression is plain Ibis, so any Ibis backend runs it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from mlstrat._exceptions import InputError
from mlstrat.metrics._intervals import mean_interval, r2_interval, ratio_interval, rmse_interval
from mlstrat.metrics._spec import MetricSpec, metric_columns, parse_metric

__all__ = [
    "Estimate",
    "RegressionSplit",
    "RegressionReport",
    "metric_sums",
    "estimates_from_sums",
    "compute_metric",
    "compute_regression_metrics",
    "regression_from_arrays",
]


@dataclass(frozen=True)
class Estimate:
    """A figure with its 95% interval and the number of examples it is computed on."""

    value: float
    ci_low: float
    ci_high: float
    n: int

    def to_dict(self) -> dict[str, Any]:
        return {"value": self.value, "ci_low": self.ci_low, "ci_high": self.ci_high, "n": self.n}


@dataclass(frozen=True)
class RegressionSplit:
    """MAE, RMSE and R^2 of one split, each with its 95% interval, and the mean residual."""

    n: int
    mae: Estimate
    rmse: Estimate
    r2: Estimate
    mean_residual: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "mae": self.mae.to_dict(),
            "rmse": self.rmse.to_dict(),
            "r2": self.r2.to_dict(),
            "mean_residual": self.mean_residual,
        }


@dataclass(frozen=True)
class RegressionReport:
    """Per-split regression metrics; ``to_dict()`` is ``mlstrat metrics --regression --json``."""

    splits: dict[str, RegressionSplit] = field(default_factory=dict)
    source: str = ""
    interval: str = "CLT (MAE), CLT on MSE square-rooted (RMSE), delta method (R^2)"
    #: ``{"code", "message"}``: the test split sealed, or used (with the look count)
    warnings: tuple[dict[str, str], ...] = ()

    def __getitem__(self, split: str) -> RegressionSplit:
        return self.splits[split]

    def to_dict(self) -> dict[str, Any]:
        return {
            "task": "regression",
            "splits": {name: m.to_dict() for name, m in self.splits.items()},
            "interval": self.interval,
            "source": self.source,
            "warnings": [dict(w) for w in self.warnings],
        }


def _f(col: Any) -> Any:
    return col.cast("float64")


def _regression_aggs(t: Any) -> dict[str, Any]:
    y, e = _f(t.y_true), _f(t.y_pred) - _f(t.y_true)
    e2, y2 = e * e, y * y
    return {
        "e": e.sum(), "abs": e.abs().sum(), "e2": e2.sum(), "e4": (e2 * e2).sum(),
        "y": y.sum(), "y2": y2.sum(), "y3": (y2 * y).sum(), "y4": (y2 * y2).sum(),
        "e2y": (e2 * y).sum(), "e2y2": (e2 * y2).sum(),
    }


def _missing(col: Any) -> Any:
    bad = col.isnull()
    if col.type().is_floating():
        bad = bad | col.isnan()
    return bad.cast("int64").sum()


def _check_columns(pred: Any, spec: MetricSpec) -> None:
    table = pred.table
    for col in spec.columns():
        if col not in table.columns:
            raise InputError(
                f"{pred.source}: --metric {spec.name} needs a column {col!r}; "
                f"columns: {', '.join(pred.source_columns)}"
            )
        if not table[col].type().is_numeric():
            what = "y_true and y_pred must be numbers for" if col in ("y_true", "y_pred") else \
                "the column must hold numbers for"
            raise InputError(
                f"{pred.source}: column {col!r} has type {table[col].type()}; {what} "
                f"--metric {spec.name}"
            )


def metric_sums(pred: Any, spec: MetricSpec, splits: Sequence[str]) -> dict[str, dict[str, float]]:
    """One ``GROUP BY split`` aggregation of the sums ``spec`` needs (see the module doc)."""
    import ibis

    _check_columns(pred, spec)
    table = pred.table
    t = table.mutate(_split=table.split.cast("string"))
    t = t.filter(t._split.isin(list(splits)))
    aggs: dict[str, Any] = {"n": ibis._.count()}
    if spec.kind in ("mae", "rmse", "r2", "regression"):
        aggs.update(_regression_aggs(t))
    elif spec.kind == "mean":
        x = _f(t[spec.column])
        aggs.update(x=x.sum(), x2=(x * x).sum(), bad=_missing(t[spec.column]))
    elif spec.kind == "ratio":
        x, y = _f(t[spec.column]), _f(t[spec.denominator])
        aggs.update(x=x.sum(), y=y.sum(), xx=(x * x).sum(), yy=(y * y).sum(), xy=(x * y).sum(),
                    bad=_missing(t[spec.column]) + _missing(t[spec.denominator]),
                    neg=(y < 0).cast("int64").sum())
    else:
        raise InputError(f"--metric {spec.name}: not a regression or per-example metric")
    rows = t.group_by("_split").aggregate(**aggs).to_pyarrow().to_pylist()
    out = {r.pop("_split"): {k: float(v or 0.0) for k, v in r.items()} for r in rows}
    _check_sums(pred.source, spec, out)
    return {s: out[s] for s in splits if s in out}


def _check_sums(source: str, spec: MetricSpec, sums: dict[str, dict[str, float]]) -> None:
    bad = int(sum(s.get("bad", 0.0) for s in sums.values()))
    cols = " or ".join(repr(c) for c in spec.columns())
    if bad:
        raise InputError(
            f"{source}: column {cols} has {bad} empty/NaN value(s); every row needs a value for "
            f"--metric {spec.name} (drop or fill those rows)"
        )
    if spec.kind == "ratio":
        neg = int(sum(s.get("neg", 0.0) for s in sums.values()))
        if neg:
            raise InputError(
                f"{source}: column {spec.denominator!r} has {neg} negative value(s); "
                "the denominator of a ratio counts (words, tokens, frames) and must be >= 0"
            )
        for split, s in sums.items():
            if s["y"] <= 0:
                raise InputError(
                    f"{source}: split {split}: column {spec.denominator!r} sums to 0; "
                    f"--metric {spec.name} is undefined there"
                )
    for split, s in sums.items():
        if not all(math.isfinite(v) for v in s.values()):
            raise InputError(
                f"{source}: split {split}: a value of {cols} is infinite; metrics need finite numbers"
            )


def _estimate(n: float, triple: tuple[float, float, float], *, low: float | None = None,
              high: float | None = None) -> Estimate:
    value, lo, hi = triple
    if low is not None:
        lo = max(lo, low)
    if high is not None:
        hi = min(hi, high)
    return Estimate(value, lo, hi, int(n))


def estimates_from_sums(spec: MetricSpec, sums: dict[str, float]) -> Estimate:
    """The figure of ``spec`` and its interval from one split's sums."""
    n = sums["n"]
    if spec.kind == "mae":
        return _estimate(n, mean_interval(n, sums["abs"], sums["e2"]), low=0.0)
    if spec.kind == "rmse":
        return _estimate(n, rmse_interval(n, sums["e2"], sums["e4"]))
    if spec.kind == "r2":
        return _estimate(n, r2_interval(n, sums), high=1.0)
    if spec.kind == "mean":
        return _estimate(n, mean_interval(n, sums["x"], sums["x2"]))
    return _estimate(n, ratio_interval(n, sums["x"], sums["y"], sums["xx"], sums["yy"], sums["xy"]),
                     low=0.0 if sums["x"] >= 0 else None)


def compute_metric(predictions: Any, metric: str | MetricSpec, *,
                   split: str | Sequence[str] | None = None, con: Any = None) -> dict[str, Estimate]:
    """One metric (``mae``, ``rmse``, ``r2``, ``mean:COL``, ``ratio:NUM/DEN``) per split.

    Parameters
    ----------
    predictions : path-like, DataFrame, ibis.Table or Predictions
        A predictions table; ``mean``/``ratio`` read their own columns, ``mae``/``rmse`` need
        numeric ``y_true`` and ``y_pred``.
    metric : str or MetricSpec
    split : str or sequence of str, default=None
        Splits to report; all present by default.

    Returns
    -------
    dict of str to Estimate
        ``{"dev": Estimate(value, ci_low, ci_high, n), ...}`` in the order of SPLITS.

    Examples
    --------
    >>> import mlstrat.metrics as mm
    >>> est = mm.compute_metric({"split": ["dev"] * 4, "y_true": [1.0, 2.0, 3.0, 4.0],
    ...                          "y_pred": [1.0, 2.0, 3.0, 6.0]}, "mae")
    >>> est["dev"].value
    0.5
    """
    from mlstrat.metrics._classification import resolve_splits

    spec = metric if isinstance(metric, MetricSpec) else _parse(metric)
    pred = _open(predictions, con, labels=spec.kind not in ("mean", "ratio"), columns=metric_columns(spec))
    splits = resolve_splits(split, pred.sizes, pred.source)
    sums = metric_sums(pred, spec, splits)
    return {s: estimates_from_sums(spec, sums[s]) for s in splits}


def _parse(metric: str) -> MetricSpec:
    return MetricSpec("r2", "r2") if metric == "r2" else parse_metric(metric)


def _open(predictions: Any, con: Any, *, labels: bool = True, columns: Any = None) -> Any:
    from mlstrat.tables import Predictions, read_predictions

    if isinstance(predictions, Predictions):
        return predictions
    return read_predictions(predictions, con=con, labels=labels, columns=columns)


def _split_metrics(sums: dict[str, float]) -> RegressionSplit:
    n = sums["n"]
    return RegressionSplit(
        n=int(n),
        mae=estimates_from_sums(MetricSpec("mae", "mae"), sums),
        rmse=estimates_from_sums(MetricSpec("rmse", "rmse"), sums),
        r2=estimates_from_sums(MetricSpec("r2", "r2"), sums),
        mean_residual=sums["e"] / n,
    )


def compute_regression_metrics(predictions: Any, *, split: str | Sequence[str] | None = None,
                               test: bool = False, store: Any = None,
                               con: Any = None) -> RegressionReport:
    """MAE, RMSE and R^2 per split with 95% intervals, in one engine pass.

    Equal to scikit-learn's ``mean_absolute_error``, ``root_mean_squared_error`` and
    ``r2_score`` per split. Intervals: CLT for MAE, the CLT interval of the MSE
    square-rooted for RMSE, the delta method for R^2. The test split is sealed as in
    :func:`mlstrat.compute_metrics` (``test``, ``store``).

    Examples
    --------
    >>> import mlstrat.metrics as mm
    >>> r = mm.compute_regression_metrics({"split": ["dev"] * 4, "y_true": [1.0, 2.0, 3.0, 4.0],
    ...                                    "y_pred": [1.0, 2.0, 3.0, 6.0]})
    >>> r["dev"].rmse.value, r["dev"].r2.value
    (1.0, 0.2)
    """
    from mlstrat.metrics._classification import _test_notes, resolve_splits

    pred = _open(predictions, con)
    splits = resolve_splits(split, pred.sizes, pred.source, test=test)
    sums = metric_sums(pred, MetricSpec("regression", "regression"), splits)
    notes = _test_notes(predictions, pred, splits, test=test or split is not None, store=store,
                        con=con)
    return RegressionReport({s: _split_metrics(sums[s]) for s in splits}, source=pred.source,
                            warnings=tuple(notes))


def is_regression_table(predictions: Any, *, con: Any = None) -> bool:
    """Whether ``y_true`` or ``y_pred`` holds a non-integer number (a regression table).

    Class labels are text or whole numbers; a numeric column with a fractional value (1.5,
    0.37) cannot be one, so its error rate and confusion matrix would mean nothing. Whole
    numbers stored as floats (1.0, 2.0) still read as classes.
    """
    from mlstrat.tables import read_table, select_columns

    table = read_table(predictions, con=con, columns=select_columns("y_true", "y_pred"),
                       text_columns=("id",))
    checks = []
    for name in ("y_true", "y_pred"):
        if name in table.columns and table[name].type().is_floating():
            col = table[name]
            checks.append((col.notnull() & ~col.isinf() & (col != col.floor())).any())
        elif name in table.columns and table[name].type().is_decimal():
            col = table[name]  # a decimal is never infinite (and has no isinf)
            checks.append((col.notnull() & (col != col.floor())).any())
    if not checks:
        return False
    row = table.aggregate([c.name(f"c{i}") for i, c in enumerate(checks)]).to_pyarrow().to_pylist()[0]
    return any(bool(v) for v in row.values())


def regression_from_arrays(y_true: Any, y_pred: Any) -> RegressionSplit:
    """The figures of :func:`compute_regression_metrics` for one pair of numeric arrays."""
    import numpy as np

    y = np.asarray(y_true, dtype=np.float64)
    p = np.asarray(y_pred, dtype=np.float64)
    if y.ndim != 1 or y.shape != p.shape or len(y) == 0:
        raise InputError(f"y_true and y_pred must be non-empty 1-d arrays of the same length "
                         f"(got shapes {y.shape} and {p.shape})")
    if not (np.isfinite(y).all() and np.isfinite(p).all()):
        raise InputError("y_true and y_pred must be finite numbers (found NaN or inf)")
    e = p - y
    e2, y2 = e * e, y * y
    sums = {"n": float(len(y)), "e": e.sum(), "abs": np.abs(e).sum(), "e2": e2.sum(),
            "e4": (e2 * e2).sum(), "y": y.sum(), "y2": y2.sum(), "y3": (y2 * y).sum(),
            "y4": (y2 * y2).sum(), "e2y": (e2 * y).sum(), "e2y2": (e2 * y2).sum()}
    return _split_metrics({k: float(v) for k, v in sums.items()})

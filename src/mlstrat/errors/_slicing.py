"""What slices share: the key of each row per column, and a metric's sums per group of keys.

A column becomes a *key*: its own values (categoricals, booleans, numbers with few distinct
values) or the index of its quantile bin (numbers with more distinct values than bins). The
bin edges come from exact quantiles computed in the engine (DuckDB ``quantile_cont``, Spark
``percentile``: both interpolate linearly), so DuckDB and Spark cut the same bins.

Every supported metric is a ratio of sums, ``sum x / sum d`` over the rows of a group (``x``
is a mistake, a weighted mistake, an absolute or squared residual, a loss; ``d`` is 1, a
weight or a denominator), and its interval needs only ``n, sum x, sum d, sum x^2, sum d^2,
sum x d``: one GROUP BY per set of columns gives every slice's figure, whatever the table size.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mlstrat._exceptions import ConfigError, InputError
from mlstrat.metrics._intervals import (
    mean_interval,
    normal_interval,
    ratio_interval,
    rmse_interval,
    wilson_interval,
)
from mlstrat.metrics._spec import MetricSpec, parse_metric

__all__ = [
    "ColumnKey",
    "SUM_NAMES",
    "plan_keys",
    "slice_columns",
    "row_terms",
    "group_sums",
    "figure",
    "ceiling",
    "slice_spec",
    "as_sums",
    "minus",
]

#: the per-group sums every figure is computed from
SUM_NAMES: tuple[str, ...] = ("n", "x", "d", "xx", "dd", "xd")

#: columns of a predictions table that are never slice candidates by default
RESERVED = ("id", "split", "y_true", "y_pred", "weight")

#: the key of a row whose binned column is empty
MISSING_BIN = -1


@dataclass(frozen=True)
class ColumnKey:
    """How one column cuts rows into slices.

    Attributes
    ----------
    column : str
        The column of the predictions table.
    kind : str
        ``values`` (each distinct value is a slice) or ``bins`` (quantile bins).
    edges : tuple of float
        Increasing inner bin edges (``bins`` only): bin ``i`` holds ``edges[i-1] <= x < edges[i]``.
    """

    column: str
    kind: str
    edges: tuple[float, ...] = ()

    def expr(self, table: Any) -> Any:
        """The key of each row: the value itself, or the bin index (``-1`` when empty)."""
        import ibis

        col = table[self.column]
        if self.kind == "values":
            return col
        x = col.cast("float64")
        index = ibis.literal(0, "int64")
        for edge in self.edges:
            index = index + (x >= ibis.literal(edge, "float64")).cast("int64")
        return ibis.ifelse(col.isnull() | x.isnan(), ibis.literal(MISSING_BIN, "int64"), index)

    def predicate(self, key: Any) -> dict[str, Any]:
        """The slice's condition on this column as JSON: ``{column, op, value}`` or a range."""
        if self.kind == "values":
            if key is None:
                return {"column": self.column, "op": "is_missing"}
            return {"column": self.column, "op": "==", "value": _plain(key)}
        if key == MISSING_BIN:
            return {"column": self.column, "op": "is_missing"}
        low = self.edges[key - 1] if key > 0 else None
        high = self.edges[key] if key < len(self.edges) else None
        return {"column": self.column, "op": "range", "low": low, "high": high}

    def describe(self, key: Any) -> str:
        """``region = north``, ``age < 30``, ``30 <= age < 45``, ``age >= 60``, ``age is missing``."""
        p = self.predicate(key)
        name = self.column
        if p["op"] == "is_missing":
            return f"{name} is missing"
        if p["op"] == "==":
            return f"{name} = {_label(p['value'])}"
        low, high = p["low"], p["high"]
        if low is None:
            return f"{name} < {_num(high)}"
        if high is None:
            return f"{name} >= {_num(low)}"
        return f"{_num(low)} <= {name} < {_num(high)}"


def _plain(value: Any) -> Any:
    """A key as a JSON value (numpy scalars and whole floats made plain)."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _label(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def _num(value: float) -> str:
    return f"{value:.4g}"


def slice_columns(table: Any, columns: Sequence[str] | None, *, source: str,
                  flag: str = "--columns") -> list[str]:
    """The columns to slice by: those named (checked), else every column that is not the
    prediction itself (``id``, ``split``, ``y_true``, ``y_pred``, ``weight``, ``proba_*``)."""
    have = list(table.columns)
    if columns is None:
        found = [c for c in have if c not in RESERVED and not c.startswith("proba_")
                 and not c.startswith("_")]
        if not found:
            raise InputError(f"{source}: no metadata or feature column to slice by (only "
                             f"{', '.join(have)}); add columns such as device or region")
        return found
    out: list[str] = []
    for name in columns:
        name = name.strip()
        if not name:
            continue
        if name not in have:
            from mlstrat._numbers import did_you_mean

            raise InputError(f"{source}: {flag}: no column {name!r}{did_you_mean(name, have)}; "
                             f"columns: {', '.join(have)}")
        if name in ("split", "y_true", "y_pred"):
            raise ConfigError(f"{flag}: {name!r} is the prediction itself, not a slice column; "
                              "name metadata or feature columns")
        if name not in out:
            out.append(name)
    if not out:
        raise ConfigError(f"{flag}: no column named; give COL[,COL]")
    return out


def _is_binnable(dtype: Any) -> bool:
    return bool(dtype.is_numeric() and not dtype.is_boolean())


def _many_values(table: Any, column: str, bins: int) -> bool:
    """More than ``bins`` distinct values? (a DISTINCT ... LIMIT stops early: no full count)."""
    distinct = table.select(table[column]).distinct().limit(bins + 1)
    return int(distinct.count().to_pyarrow().as_py()) > bins


def plan_keys(table: Any, columns: Sequence[str], *, bins: int) -> list[ColumnKey]:
    """How each column is cut: a number with more distinct values than ``bins`` at its
    ``i / bins`` quantiles (repeated edges merged, so a column with a heavy value has fewer
    bins), anything else by its values. One aggregation computes every column's quantiles.
    """
    if bins < 2:
        raise ConfigError(f"--bins {bins}: needs at least 2 bins")
    binned = [name for name in columns
              if _is_binnable(table[name].type()) and _many_values(table, name, bins)]
    quantiles = [i / bins for i in range(1, bins)]
    edges: dict[str, tuple[float, ...]] = {}
    if binned:
        aggs = {}
        for i, name in enumerate(binned):
            x = table[name].cast("float64")
            aggs[f"q{i}"] = x.quantile(quantiles, where=x.notnull() & ~x.isnan())
        row = table.aggregate(**aggs).to_pyarrow().to_pylist()[0]
        for i, name in enumerate(binned):
            edges[name] = tuple(sorted({float(v) for v in row[f"q{i}"] or () if v is not None}))
    return [ColumnKey(name, "bins", edges[name]) if name in edges else ColumnKey(name, "values")
            for name in columns]


def slice_spec(metric: str | MetricSpec, *, flag: str = "--metric") -> MetricSpec:
    """The metric of a slice view: any of ``--metric`` but ``f1`` (not a sum over rows)."""
    spec = parse_metric(metric)
    if spec.kind == "f1":
        raise ConfigError(f"{flag} f1: F1 is not a sum over rows, so it has no per-slice share "
                          "or ceiling; use error, weighted_error, mae, rmse, mean:COL or ratio:NUM/DEN")
    return spec


def row_terms(table: Any, spec: MetricSpec, *, weight: str | None = None) -> tuple[Any, Any]:
    """``(x, d)`` of each row: the metric of a group is ``sum x / sum d`` (rmse: its root)."""
    import ibis

    one = ibis.literal(1.0, "float64")
    if spec.kind in ("error", "weighted_error"):
        wrong = (table.y_true != table.y_pred).cast("float64")
        if spec.kind == "weighted_error" and weight:
            w = table[weight].cast("float64")
            return wrong * w, w
        return wrong, one
    if spec.kind in ("mae", "rmse"):
        e = table.y_pred.cast("float64") - table.y_true.cast("float64")
        return (e.abs() if spec.kind == "mae" else e * e), one
    if spec.kind == "mean":
        return table[spec.column].cast("float64"), one
    return table[spec.column].cast("float64"), table[spec.denominator].cast("float64")


def group_sums(table: Any, keys: dict[str, Any], x: Any, d: Any) -> Any:
    """``GROUP BY keys``: the sums of :data:`SUM_NAMES` (an Ibis expression, not run yet)."""
    import ibis

    t = table.mutate(_x=x, _d=d, **keys)
    aggs = {"n": ibis._.count(), "x": t._x.sum(), "d": t._d.sum(), "xx": (t._x * t._x).sum(),
            "dd": (t._d * t._d).sum(), "xd": (t._x * t._d).sum()}
    if not keys:
        return t.aggregate(**aggs)
    return t.group_by(list(keys)).aggregate(**aggs)


def figure(spec: MetricSpec, s: dict[str, float]) -> tuple[float, float, float]:
    """``(value, ci_low, ci_high)`` of one group from its sums (95%, the metrics' intervals)."""
    n = s["n"]
    if spec.kind == "error":
        low, high = wilson_interval(s["x"], n)
        return s["x"] / n, low, high
    if spec.kind == "weighted_error":
        if s["d"] <= 0:
            return math.nan, math.nan, math.nan
        r = s["x"] / s["d"]
        ss = max(s["xx"] - 2.0 * r * s["xd"] + r * r * s["dd"], 0.0)
        low, high = normal_interval(r, math.sqrt(ss) / s["d"])
        return r, low, high
    if spec.kind == "rmse":
        return rmse_interval(n, s["x"], s["xx"])
    if spec.kind in ("mae", "mean"):
        value, low, high = mean_interval(n, s["x"], s["xx"])
        return value, (max(low, 0.0) if spec.kind == "mae" else low), high
    if s["d"] <= 0:
        return math.nan, math.nan, math.nan
    value, low, high = ratio_interval(n, s["x"], s["d"], s["xx"], s["dd"], s["xd"])
    return value, (max(low, 0.0) if s["x"] >= 0 else low), high


def ceiling(spec: MetricSpec, part: dict[str, float], total: dict[str, float]) -> float:
    """How much the split's figure would fall if this slice did as well as the split on average.

    For a ratio of sums ``X / D``: the slice's ``x`` replaced by ``r d`` (``r = X / D``), so
    the fall is ``(x - r d) / D``; for error that is ``(n_s / N)(e_s - e)``. RMSE: the root
    of the mean squared error before minus after. Negative when the slice does better.
    """
    if total["d"] <= 0:
        return math.nan
    r = total["x"] / total["d"]
    fall = (part["x"] - r * part["d"]) / total["d"]
    if spec.kind != "rmse":
        return -fall if spec.higher_is_better else fall
    return math.sqrt(max(r, 0.0)) - math.sqrt(max(r - fall, 0.0))


def as_sums(row: dict[str, Any]) -> dict[str, float]:
    """One result row's sums as floats (an empty sum is 0)."""
    return {k: float(row.get(k) or 0.0) for k in SUM_NAMES}


def minus(total: dict[str, float], part: dict[str, float]) -> dict[str, float]:
    """The sums of the rows outside ``part``."""
    return {k: total[k] - part[k] for k in SUM_NAMES}

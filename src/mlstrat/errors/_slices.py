"""Slice discovery (docs/method.md §4): the cohorts where the model fails most.

Candidates are conjunctions of up to ``max_depth`` predicates over metadata and feature
columns (a categorical's values, a number's quantile bins). They are evaluated level by
level as grouped sums in the engine: one GROUP BY per column, then one per pair of columns
whose predicates survived, and so on; a slice is kept only if every parent (the slice with
one predicate fewer) has at least ``min_support`` rows and some error, SliceLine's pruning.

Each slice is ranked by SliceLine's score (Sagadeeva & Boehm, SIGMOD 2021)::

    score = alpha * (e_s / e - 1) - (1 - alpha) * (N / n_s - 1)

with ``e_s`` the slice's mean error, ``e`` the split's, ``n_s`` its size and ``N`` the
split's: a slice scores above 0 when it errs more than average, by more the smaller it is.
False discoveries are controlled by Benjamini–Hochberg over every slice tested (each
candidate with at least ``min_support`` rows): a slice is reported when its score is
positive and its BH-adjusted p-value is at most ``fdr``. The p-value is one-sided, slice
error > the error of the rest of the split: Fisher's exact test (hypergeometric tail) for
an error rate, Welch's z-test on the means for a per-example loss.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from mlstrat._exceptions import ConfigError
from mlstrat.display._repr import NotebookRepr
from mlstrat.errors._by import open_split
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

__all__ = ["Slice", "SliceReport", "find_slices", "sliceline_score", "benjamini_hochberg",
           "DEFAULT_ALPHA", "DEFAULT_MIN_SUPPORT"]

#: SliceLine's weight of the error term against the size term
DEFAULT_ALPHA = 0.95
#: SliceLine's minimum support: fewer rows than this and a slice is neither scored nor tested
DEFAULT_MIN_SUPPORT = 32
#: the per-example losses a slice search ranks (a sum over rows with a denominator of 1)
_KINDS = ("error", "mae", "rmse", "mean")

TESTS = {
    "error": "one-sided Fisher exact test (hypergeometric tail): slice error > error of the rest",
    "loss": "one-sided Welch z-test: slice mean loss > mean loss of the rest",
}


@dataclass(frozen=True)
class Slice:
    """One cohort of :class:`SliceReport`.

    Attributes
    ----------
    slice : str
        ``"region = north and age >= 60"``.
    predicates : tuple of dict
        ``{column, op: "==", value}``, ``{column, op: "range", low, high}`` (``low <= x <
        high``, a missing end is open) or ``{column, op: "is_missing"}``.
    n : int
        Rows in the slice.
    errors : float
        Mistakes in the slice (the summed loss for a loss metric).
    error, ci_low, ci_high : float
        The slice's figure and its 95% interval (Wilson for an error rate).
    lift : float
        The slice's mean error over the split's.
    ceiling : float
        How much the split's figure would fall if this slice erred at the split's average.
    score : float
        SliceLine's score.
    p_value, q_value : float
        The one-sided test of slice > rest, and its Benjamini–Hochberg adjusted value.
    """

    slice: str
    predicates: tuple[dict[str, Any], ...]
    n: int
    errors: float
    error: float
    ci_low: float
    ci_high: float
    lift: float
    ceiling: float
    score: float
    p_value: float
    q_value: float = math.nan

    def to_dict(self) -> dict[str, Any]:
        return {"slice": self.slice, "predicates": [dict(p) for p in self.predicates],
                "n": self.n, "errors": self.errors, "error": self.error, "ci_low": self.ci_low,
                "ci_high": self.ci_high, "lift": self.lift, "ceiling": self.ceiling,
                "score": self.score, "p_value": self.p_value, "q_value": self.q_value}


@dataclass(frozen=True)
class SliceReport(NotebookRepr):
    """The slices where a split fails most; ``to_dict()`` is ``mlstrat errors slices --json``.

    Attributes
    ----------
    split : str
    metric : MetricSpec
    n : int
        Rows in the split.
    error, ci_low, ci_high : float
        The split's figure and its 95% interval.
    slices : tuple of Slice
        The reported slices (score > 0, BH-adjusted p-value <= ``fdr``), best score first.
    tested : int
        Candidates tested (those with at least ``min_support`` rows): the BH family size.
    significant : int
        Slices with a positive score that passed BH (``slices`` lists ``top`` of them).
    keys : tuple of ColumnKey
        How each column was cut.
    alpha, min_support, max_depth, fdr, top :
        The search's settings.
    test : str
        The test behind the p-values.
    """

    split: str
    metric: MetricSpec
    n: int
    error: float
    ci_low: float
    ci_high: float
    slices: tuple[Slice, ...] = ()
    tested: int = 0
    significant: int = 0
    keys: tuple[ColumnKey, ...] = ()
    alpha: float = DEFAULT_ALPHA
    min_support: int = DEFAULT_MIN_SUPPORT
    max_depth: int = 2
    fdr: float = 0.05
    top: int = 10
    test: str = ""
    source: str = ""
    levels: tuple[int, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        from mlstrat.errors._by import _key_dict

        return {
            "split": self.split,
            "metric": self.metric.to_dict(),
            "n": self.n,
            "error": self.error,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "columns": [_key_dict(k) for k in self.keys],
            "score": {"name": "sliceline", "alpha": self.alpha},
            "min_support": self.min_support,
            "max_depth": self.max_depth,
            "fdr": self.fdr,
            "fdr_method": "benjamini_hochberg",
            "test": self.test,
            "tested": self.tested,
            "tested_per_level": list(self.levels),
            "significant": self.significant,
            "top": self.top,
            "slices": [s.to_dict() for s in self.slices],
            "source": self.source,
        }


def sliceline_score(errors: float, n: float, total_errors: float, total_n: float, *,
                    alpha: float = DEFAULT_ALPHA) -> float:
    """SliceLine's score of a slice: ``alpha (e_s / e - 1) - (1 - alpha) (N / n_s - 1)``."""
    mean = total_errors / total_n
    return alpha * ((errors / n) / mean - 1.0) - (1.0 - alpha) * (total_n / n - 1.0)


def benjamini_hochberg(p_values: Sequence[float]) -> list[float]:
    """Benjamini–Hochberg adjusted p-values (``q_i = min_{j >= i} p_(j) m / j``, capped at 1)."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    out = [1.0] * m
    running = 1.0
    for rank in range(m, 0, -1):
        i = order[rank - 1]
        running = min(running, p_values[i] * m / rank)
        out[i] = min(running, 1.0)
    return out


def _p_value(spec: MetricSpec, part: dict[str, float], total: dict[str, float]) -> float:
    """One-sided p-value of "the slice errs more than the rest of the split"."""
    rest = minus(total, part)
    if rest["n"] <= 0:
        return 1.0
    if spec.kind == "error":
        from scipy.stats import hypergeom

        # the slice's mistakes among N rows of which X are mistakes, n_s drawn: P(>= x_s)
        return float(hypergeom.sf(round(part["x"]) - 1, round(total["n"]), round(total["x"]),
                                  round(part["n"])))
    return _welch_p(part, rest)


def _welch_p(a: dict[str, float], b: dict[str, float]) -> float:
    def mean_var(s: dict[str, float]) -> tuple[float, float]:
        mean = s["x"] / s["n"]
        var = max(s["xx"] - s["x"] * mean, 0.0) / (s["n"] - 1) if s["n"] > 1 else 0.0
        return mean, var

    (ma, va), (mb, vb) = mean_var(a), mean_var(b)
    se = math.sqrt(va / a["n"] + vb / b["n"])
    if se == 0:
        return 0.0 if ma > mb else 1.0
    return 0.5 * math.erfc((ma - mb) / se / math.sqrt(2.0))


def _check(max_depth: int, alpha: float, fdr: float, top: int, min_support: int) -> None:
    if max_depth < 1:
        raise ConfigError(f"--max-depth {max_depth}: slices need at least 1 predicate")
    if not 0 < alpha <= 1:
        raise ConfigError(f"--alpha {alpha}: SliceLine's weight must be in (0, 1]")
    if not 0 < fdr <= 1:
        raise ConfigError(f"--fdr {fdr}: the false-discovery rate must be in (0, 1], e.g. 0.05")
    if top < 1:
        raise ConfigError(f"--top {top}: report at least 1 slice")
    if min_support < 1:
        raise ConfigError(f"--min-support {min_support}: must be at least 1 row")


def find_slices(predictions: Any, *, split: str = "dev", columns: Sequence[str] | None = None,
                max_depth: int = 2, bins: int = 10, alpha: float = DEFAULT_ALPHA,
                min_support: int = DEFAULT_MIN_SUPPORT, fdr: float = 0.05, top: int = 10,
                metric: str | MetricSpec = "error", con: Any = None) -> SliceReport:
    """The slices of ``split`` where the model fails most, with false discoveries controlled.

    Parameters
    ----------
    predictions : path-like, DataFrame, ibis.Table or Predictions
        A predictions table with metadata or feature columns.
    split : str, default="dev"
    columns : sequence of str, default=None
        Columns to slice by; default every column but ``id``, ``split``, ``y_true``,
        ``y_pred``, ``weight`` and ``proba_*``.
    max_depth : int, default=2
        Most predicates in one slice (``region = north and age >= 60`` has 2).
    bins : int, default=10
        Numbers with more distinct values are cut into (at most) this many quantile bins.
    alpha : float, default=0.95
        SliceLine's weight of the error term against the size term.
    min_support : int, default=32
        Slices with fewer rows are neither scored nor tested (nor extended).
    fdr : float, default=0.05
        Benjamini–Hochberg false-discovery rate over the slices tested.
    top : int, default=10
        Slices reported, best score first.
    metric : str, default="error"
        ``error`` (mistakes), or a per-example loss: ``mae``, ``rmse`` (squared residuals
        ranked, the slice's RMSE shown), ``mean:COL``.

    Returns
    -------
    SliceReport
    """
    import ibis

    _check(max_depth, alpha, fdr, top, min_support)
    spec = slice_spec(metric)
    if spec.kind not in _KINDS or spec.higher_is_better:
        raise ConfigError(f"--metric {spec.name}: slice search ranks a per-example error or "
                          "loss; use error, mae, rmse or mean:COL")
    pred, t = open_split(predictions, spec, split, weight=None, con=con)
    keys = plan_keys(t, slice_columns(t, columns, source=pred.source), bins=bins)
    keyed = _keyed(t, keys, spec, con)
    x, d = keyed._x, ibis.literal(1.0, "float64")
    total = as_sums(group_sums(keyed, {}, x, d).to_pyarrow().to_pylist()[0])
    found = _search(keyed, len(keys), total, max_depth=max_depth, min_support=min_support)
    tested = [s for level in found for s in level]
    slices = _rank(spec, keys, tested, total, alpha=alpha)
    q_values = benjamini_hochberg([s.p_value for s in slices])
    kept = sorted((_with_q(s, q) for s, q in zip(slices, q_values) if q <= fdr and s.score > 0),
                  key=lambda s: (-s.score, s.slice))
    value, low, high = figure(spec, total)
    is_rate = spec.kind == "error"
    return SliceReport(split=split, metric=spec, n=int(total["n"]), error=value, ci_low=low,
                       ci_high=high, slices=tuple(kept[:top]), tested=len(tested),
                       significant=len(kept), keys=tuple(keys), alpha=alpha,
                       min_support=min_support, max_depth=max_depth, fdr=fdr, top=top,
                       test=TESTS["error" if is_rate else "loss"], source=pred.source,
                       levels=tuple(len(level) for level in found))


def _keyed(t: Any, keys: Sequence[ColumnKey], spec: MetricSpec, con: Any) -> Any:
    """The split's rows as their loss ``_x`` and keys ``_k0, _k1, ...``, computed once and
    kept by the engine: every GROUP BY of the search then reads these few columns only."""
    from mlstrat.tables import engine_of

    x, _ = row_terms(t, spec)
    return engine_of(con).materialize(t.select(_x=x, **{f"_k{i}": k.expr(t) for i, k in enumerate(keys)}))


def _with_q(s: Slice, q: float) -> Slice:
    from dataclasses import replace

    return replace(s, q_value=q)


Candidate = tuple[tuple[int, ...], tuple[Any, ...], dict[str, float]]


def _search(t: Any, width: int, total: dict[str, float], *,
            max_depth: int, min_support: int) -> list[list[Candidate]]:
    """Level by level: the candidates with at least ``min_support`` rows (below the whole split).

    ``t`` holds the keys ``_k0 .. _k{width-1}``. A slice is extended only when it has
    ``min_support`` rows and some error (a child has at most its parent's rows and errors);
    a level-``l`` slice is evaluated only when all its ``l`` parents were extensible.
    """
    levels: list[list[Candidate]] = []
    alive: set[tuple[tuple[int, ...], tuple[Any, ...]]] = set()
    for depth in range(1, min(max_depth, width) + 1):
        level: list[Candidate] = []
        grown: set[tuple[tuple[int, ...], tuple[Any, ...]]] = set()
        for cols in itertools.combinations(range(width), depth):
            if depth > 1 and not _parents_alive(cols, alive):
                continue
            rows = _level_sums(t, [f"_k{c}" for c in cols])
            for row in rows:
                values = tuple(row[f"_g{j}"] for j in range(depth))
                sums = as_sums(row)
                if sums["n"] < min_support:
                    continue
                if depth > 1 and not all((p, v) in alive for p, v in _parents(cols, values)):
                    continue
                if sums["n"] < total["n"]:
                    level.append((cols, values, sums))
                if sums["x"] > 0:
                    grown.add((cols, values))
        levels.append(level)
        alive = grown
        if not alive:
            break
    return levels


def _level_sums(t: Any, keys: list[str]) -> list[dict[str, Any]]:
    """``GROUP BY keys`` of the keyed table: ``n``, ``x``, ``xx`` (the sums a search needs;
    the others follow, as every row's denominator is 1), keys renamed ``_g0, _g1, ...``."""
    import ibis

    grouped = t.group_by({f"_g{j}": t[k] for j, k in enumerate(keys)}).aggregate(
        n=ibis._.count(), x=t._x.sum(), xx=(t._x * t._x).sum())
    rows = grouped.to_pyarrow().to_pylist()
    for row in rows:
        row.update(d=row["n"], dd=row["n"], xd=row["x"])
    return rows


def _parents(cols: tuple[int, ...], values: tuple[Any, ...]) -> list[tuple[tuple[int, ...], tuple[Any, ...]]]:
    return [(cols[:i] + cols[i + 1:], values[:i] + values[i + 1:]) for i in range(len(cols))]


def _parents_alive(cols: tuple[int, ...], alive: set[tuple[tuple[int, ...], tuple[Any, ...]]]) -> bool:
    """Every parent column set has at least one extensible slice (else no GROUP BY is run)."""
    sets = {c for c, _ in alive}
    return all(cols[:i] + cols[i + 1:] in sets for i in range(len(cols)))


def _rank(spec: MetricSpec, keys: Sequence[ColumnKey], tested: Sequence[Candidate],
          total: dict[str, float], *, alpha: float) -> list[Slice]:
    out = []
    mean = total["x"] / total["n"]
    for cols, values, sums in tested:
        value, low, high = figure(spec, sums)
        score = (sliceline_score(sums["x"], sums["n"], total["x"], total["n"], alpha=alpha)
                 if total["x"] > 0 else -math.inf)
        out.append(Slice(
            slice=" and ".join(keys[c].describe(v) for c, v in zip(cols, values)),
            predicates=tuple(keys[c].predicate(v) for c, v in zip(cols, values)),
            n=int(sums["n"]), errors=sums["x"], error=value, ci_low=low, ci_high=high,
            lift=(sums["x"] / sums["n"]) / mean if mean > 0 else math.nan,
            ceiling=ceiling(spec, sums, total), score=score,
            p_value=_p_value(spec, sums, total)))
    return out

"""Optimizing + satisficing model selection (docs/method.md §2).

Maximize (or minimize) one metric over the candidates that meet every threshold on the
others. Thresholds are parsed from a tiny grammar (``column op number``), never evaluated.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from mlstrat.display._repr import NotebookRepr
from mlstrat._exceptions import ConfigError, InputError
from mlstrat._numbers import did_you_mean

__all__ = ["Constraint", "Candidate", "Selection", "parse_constraint", "select"]

_OPS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    ">": operator.gt,
}
_EXPR = re.compile(
    r"^\s*([A-Za-z_][\w.\-]*?)\s*(<=|>=|==|!=|<|>)\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*(%?)\s*$"
)

#: How many near-misses to report when no candidate qualifies.
CLOSEST = 3


@dataclass(frozen=True)
class Constraint:
    """A satisficing threshold ``column op value`` (``latency_ms < 100``)."""

    column: str
    op: str
    value: float
    text: str

    def holds(self, x: float) -> bool:
        return not math.isnan(x) and _OPS[self.op](x, self.value)

    def shortfall(self, x: float) -> float:
        """How far ``x`` is from meeting the constraint, relative to the threshold (0 if met)."""
        if self.holds(x):
            return 0.0
        if math.isnan(x):
            return math.inf
        scale = max(abs(self.value), 1e-12)
        return abs(x - self.value) / scale if self.op != "!=" else 1.0


def parse_constraint(text: str) -> Constraint:
    """Parse ``"latency_ms<100"``, ``"recall >= 0.9"`` or ``"recall>=90%"``.

    Raises
    ------
    ConfigError
        When the text is not ``column op number`` with op one of ``< <= > >= == !=``.
    """
    match = _EXPR.match(str(text))
    if not match:
        raise ConfigError(
            f"--require: {text!r} is not of the form COLUMN OP NUMBER with OP one of "
            "<, <=, >, >=, ==, != (examples: latency_ms<100, recall>=0.9, size_mb<=50)"
        )
    column, op, number, percent = match.groups()
    value = float(number) / (100.0 if percent else 1.0)
    return Constraint(column=column, op=op, value=value, text=f"{column} {op} {number}{percent}")


@dataclass(frozen=True)
class Candidate:
    """One model's outcome: its score and the constraints that excluded it (empty: eligible)."""

    name: str
    score: float
    values: dict[str, float]
    excluded_by: tuple[str, ...] = ()
    shortfall: float = 0.0
    rank: int | None = None

    @property
    def eligible(self) -> bool:
        return not self.excluded_by

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "score": self.score,
            "eligible": self.eligible,
            "rank": self.rank,
            "excluded_by": list(self.excluded_by),
            "values": self.values,
        }


@dataclass(frozen=True)
class Selection(NotebookRepr):
    """Outcome of :func:`select`.

    Attributes
    ----------
    winner : str or None
        The best eligible candidate; None when no candidate meets every constraint.
    metric, direction : str
        The optimizing metric and ``"maximize"`` or ``"minimize"``.
    constraints : tuple of Constraint
    candidates : tuple of Candidate
        Eligible ones first, best first; then the excluded ones, closest to eligible first.
    closest : tuple of str
        When there is no winner: the candidates that miss the fewest constraints by the least.
    """

    winner: str | None
    metric: str
    direction: str
    constraints: tuple[Constraint, ...]
    candidates: tuple[Candidate, ...]
    closest: tuple[str, ...] = field(default=())
    #: eligible candidates that cannot be told apart from the winner (the 95% interval of their
    #: difference includes 0); filled when the candidates carry per-row results (``select --runs``)
    tied: tuple[str, ...] = field(default=())
    #: candidate name -> its difference from the winner (``change``, ``ci_low``, ``ci_high``,
    #: ``verdict``, ``paired``)
    versus_winner: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: sentences about the comparison (candidates compared unpaired, on different rows)
    notes: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {
            "winner": self.winner,
            "metric": self.metric,
            "direction": self.direction,
            "constraints": [c.text for c in self.constraints],
            "candidates": [c.to_dict() for c in self.candidates],
            "closest": list(self.closest),
            "tied": list(self.tied),
            "versus_winner": self.versus_winner,
            "notes": list(self.notes),
        }


def _rows(candidates: Any) -> tuple[list[dict[str, Any]], list[str], str]:
    from mlstrat.tables import describe_source

    source = describe_source(candidates)
    if isinstance(candidates, (list, tuple)) and all(isinstance(r, dict) for r in candidates):
        rows = [dict(r) for r in candidates]
        columns = list(dict.fromkeys(k for r in rows for k in r))
        return rows, columns, source
    from mlstrat.tables import read_table

    expr = read_table(candidates)
    try:
        table = expr.to_pyarrow()
        rows = table.to_pylist()
    except (OverflowError, ValueError) as exc:  # e.g. "-inf" sniffed as an interval out of range
        raise InputError(f"{source}: a value cannot be converted ({exc}); metric columns must be "
                         "plain numbers") from None
    return rows, list(table.column_names), source


def _number(value: Any, column: str, name: str, source: str) -> float:
    if value is None:
        return float("nan")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        try:
            return float(value)
        except (TypeError, ValueError):
            raise InputError(
                f"{source}: column {column!r} has a non-numeric value {value!r} "
                f"(candidate {name!r}); metric columns must be numbers"
            ) from None
    return float(value)


def select(
    candidates: Any,
    *,
    maximize: str | None = None,
    minimize: str | None = None,
    require: Sequence[str | Constraint] = (),
    name_col: str = "name",
) -> Selection:
    """Pick the best model: optimize one metric subject to thresholds on others.

    Parameters
    ----------
    candidates : path-like, DataFrame, pyarrow.Table or list of dict
        One row per model: a name column and metric columns (CSV, JSON, Parquet, ...).
    maximize, minimize : str, default=None
        The optimizing metric; give exactly one.
    require : sequence of str or Constraint, default=()
        Satisficing constraints such as ``"latency_ms<100"`` or ``"recall>=0.9"``.
    name_col : str, default="name"
        Column naming each candidate.

    Returns
    -------
    Selection
        ``winner`` is None when no candidate meets every constraint (see ``closest``).

    Examples
    --------
    >>> from mlstrat.metrics import select
    >>> rows = [{"name": "a", "f1": 0.90, "latency_ms": 150},
    ...         {"name": "b", "f1": 0.88, "latency_ms": 80}]
    >>> select(rows, maximize="f1", require=["latency_ms<100"]).winner
    'b'
    """
    if (maximize is None) == (minimize is None):
        raise ConfigError(
            "give exactly one optimizing metric: --maximize METRIC or --minimize METRIC"
        )
    metric = maximize if maximize is not None else minimize
    direction = "maximize" if maximize is not None else "minimize"
    constraints = tuple(c if isinstance(c, Constraint) else parse_constraint(c) for c in require)
    rows, columns, source = _rows(candidates)
    _check_columns(rows, columns, source, metric=metric, constraints=constraints, name_col=name_col)
    _check_unique_names(rows, name_col, source)
    scored = [_score(row, metric=metric, constraints=constraints, name_col=name_col, source=source)
              for row in rows]
    ranked, excluded = _rank(scored, sign=1.0 if direction == "maximize" else -1.0)
    winner = ranked[0].name if ranked else None
    closest = tuple(c.name for c in excluded[:CLOSEST]) if winner is None else ()
    return Selection(
        winner=winner,
        metric=metric,
        direction=direction,
        constraints=constraints,
        candidates=tuple(ranked + excluded),
        closest=closest,
    )


def _check_columns(rows: list[dict[str, Any]], columns: list[str], source: str, *, metric: str,
                   constraints: tuple[Constraint, ...], name_col: str) -> None:
    """Refuse an empty table, or a name, metric or constraint column the table lacks."""
    if not rows:
        raise InputError(f"{source}: the candidates table has no rows; give one row per model")
    if name_col not in columns:
        raise InputError(
            f"{source}: no name column {name_col!r}{did_you_mean(name_col, columns)}; "
            f"columns: {', '.join(columns)} (choose one with --name-col)"
        )
    metric_columns = [c for c in columns if c != name_col]
    if metric not in columns:
        raise InputError(
            f"{source}: unknown metric {metric!r}{did_you_mean(metric, metric_columns)}; "
            f"available columns: {', '.join(metric_columns)}"
        )
    for c in constraints:
        if c.column not in columns:
            raise InputError(
                f"{source}: --require {c.text!r} names unknown column {c.column!r}"
                f"{did_you_mean(c.column, metric_columns)}; available columns: "
                f"{', '.join(metric_columns)}"
            )


def _score(row: dict[str, Any], *, metric: str, constraints: tuple[Constraint, ...],
           name_col: str, source: str) -> Candidate:
    """One candidate: its values and the constraints it fails (a missing or infinite score fails too)."""
    name = str(row.get(name_col))
    used = [metric] + [c.column for c in constraints]
    values = {col: _number(row.get(col), col, name, source) for col in dict.fromkeys(used)}
    failed = [c for c in constraints if not c.holds(values[c.column])]
    if math.isnan(values[metric]):
        failed_text = tuple([f"{metric} is missing"] + [c.text for c in failed])
    elif math.isinf(values[metric]):  # a diverged or broken measurement, never a winner
        failed_text = tuple([f"{metric} is {values[metric]:g}"] + [c.text for c in failed])
    else:
        failed_text = tuple(c.text for c in failed)
    return Candidate(
        name=name,
        score=values[metric],
        values=values,
        excluded_by=failed_text,
        shortfall=sum(c.shortfall(values[c.column]) for c in failed),
    )


def _rank(scored: list[Candidate], *, sign: float) -> tuple[list[Candidate], list[Candidate]]:
    """The eligible candidates best first (numbered), and the excluded ones closest first."""
    eligible = sorted((c for c in scored if c.eligible), key=lambda c: -sign * c.score)
    excluded = sorted(
        (c for c in scored if not c.eligible),
        key=lambda c: (len(c.excluded_by), c.shortfall, -sign * _finite(c.score)),
    )
    ranked = [
        Candidate(c.name, c.score, c.values, c.excluded_by, c.shortfall, rank=i + 1)
        for i, c in enumerate(eligible)
    ]
    return ranked, excluded


def _check_unique_names(rows: list[dict[str, Any]], name_col: str, source: str) -> None:
    seen: dict[str, int] = {}
    for number, row in enumerate(rows, start=1):
        name = str(row.get(name_col))
        if name in seen:
            raise InputError(f"{source}: candidate name {name!r} appears twice (rows {seen[name]} and "
                             f"{number}); give each candidate its own name in column {name_col!r}")
        seen[name] = number


def _finite(x: float) -> float:
    return x if math.isfinite(x) else -math.inf

"""Numeric near-duplicates for the split's leakage check: rows equal once rounded to a number of
significant digits, grouped and counted per pair of splits by the engine (DuckDB and Spark)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mlstrat._constants import SPLITS
from mlstrat.splits._queries import _lit, _text  # the split's own text and literal forms

__all__ = ["RoundedGroups", "split_row_counts", "rounded_groups"]


@dataclass(frozen=True)
class RoundedGroups:
    """Rows equal at a number of significant digits, counted per split by the engine.

    ``counts`` maps each pair of splits (``(s, s)`` inside a split) to ``(rows, pairs)``;
    ``examples`` maps it to up to a few pairs of ids, the groups met first in the table first.
    """

    compared: int
    counts: dict[tuple[str, str], tuple[int, int]]
    examples: dict[tuple[str, str], list[tuple[Any, Any]]]


def split_row_counts(engine: Any, table: Any) -> dict[str, int]:
    """Rows per split value (the raw values, unknown ones included)."""
    counts = table.group_by(split=_text(table.split)).aggregate(n=table.count())
    return {str(s): int(n) for s, n in engine.rows(counts)}


def _rounded(value: Any, digits: int) -> Any:
    """``value`` at ``digits`` significant digits, as Python's ``float(f"{v:.{digits}g}") + 0.0``.

    DuckDB's printf rounds the exact binary value, ties to even, like Python's formatting, so
    the groups are the same as rounding in the process; ``+ 0.0`` makes -0.0 and 0.0 one value.
    """
    import ibis

    @ibis.udf.scalar.builtin(name="printf")
    def printf(pattern: str, number: float) -> str:  # DuckDB's printf
        ...

    return printf(_lit(f"%.{digits}g"), value.cast("float64")).cast("float64") + 0.0


def _first_ids(ids: Any, order: Any, *, where: Any) -> Any:
    """The first two ``ids`` in ``order`` among the rows where ``where`` holds (DuckDB's arg_min)."""
    import ibis

    @ibis.udf.agg.builtin(name="arg_min")
    def arg_min(value: str, key: int, n: int) -> list[str]:  # DuckDB's arg_min(value, key, n)
        ...

    return arg_min(ids, order, 2, where=where)


def rounded_groups(engine: Any, table: Any, *, id: str, columns: Sequence[str], digits: int,
                   pairs: Sequence[tuple[str, str]], examples: int) -> RoundedGroups:
    """Counts of rows equal in ``columns`` at ``digits`` significant digits, per pair of splits.

    Rows whose values are all missing are not compared. Only groups of two rows or more can hold
    a near-duplicate, so only those are kept (one temp table) and summed per pair of splits; each
    keeps its first two ids per split, so the example pairs need no second pass over the rows.
    """
    import ibis

    filled = table.filter(ibis.or_(*(table[c].notnull() for c in columns)))
    numbered = filled.mutate(_rn=ibis.row_number())
    keys = {f"_k{i}": _rounded(numbered[c], digits) for i, c in enumerate(columns)}
    keyed = numbered.select(_rn=numbered._rn, _id=_text(numbered[id]), _split=_text(numbered.split), **keys)
    in_split = {s: keyed._split == _lit(s) for s in SPLITS}
    grouped = keyed.group_by(list(keys)).aggregate(
        _n=keyed.count(), _first=keyed._rn.min(),
        **{f"_n_{s}": where.cast("int64").sum() for s, where in in_split.items()},
        **{f"_ids_{s}": _first_ids(keyed._id, keyed._rn, where=where) for s, where in in_split.items()})
    shared = engine.materialize(grouped.filter(grouped._n > 1))
    counts, found = {}, {}
    for first, second in pairs:
        holds = _pair_holds(shared, first, second)
        n_first, n_second = shared[f"_n_{first}"], shared[f"_n_{second}"]
        pair_count = n_first * n_second if first != second else n_first * (n_first - 1)
        total = shared.filter(holds).aggregate(rows=n_second.sum(), pairs=pair_count.sum())
        rows, n_pairs = engine.rows(total)[0]
        counts[(first, second)] = (int(rows or 0), int(n_pairs or 0) // (1 if first != second else 2))
        earliest = shared.filter(holds).order_by("_first").limit(examples)
        listed = engine.rows(earliest.select(a=earliest[f"_ids_{first}"], b=earliest[f"_ids_{second}"])) if rows else []
        found[(first, second)] = [(a[0], b[0]) if first != second else (a[0], a[1]) for a, b in listed]
    return RoundedGroups(compared=int(engine.scalar(filled.count())), counts=counts, examples=found)


def _pair_holds(shared: Any, first: str, second: str) -> Any:
    if first == second:
        return shared[f"_n_{first}"] > 1
    return (shared[f"_n_{first}"] > 0) & (shared[f"_n_{second}"] > 0)

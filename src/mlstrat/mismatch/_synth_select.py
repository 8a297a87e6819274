"""Which rows a synthesis reads and how its output is assembled, by the engine.

The leakage rule (only train rows whose group stays in train are synthesized from), the counts
and a bounded hashed sample are engine queries; the output is the manifest's rows (``synthetic_of``
empty) then the new ones, written by the engine. Only the rows read and the rows made reach
this process.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from mlstrat._exceptions import InputError
from mlstrat._numbers import did_you_mean
from mlstrat.mismatch._rows import SYNTH_COLUMN, Selection, require
from mlstrat.mismatch._sample import count_by_text
from mlstrat.mismatch._synth_spec import SynthSpec

__all__ = ["appended", "engine_selection", "final_ids"]


def appended(engine: Any, table: Any, new_rows: Any, id_col: str, *, in_memory: bool) -> Any:
    """The manifest's rows (``synthetic_of`` empty) then the new rows: an engine table, or a
    pyarrow table when asked for in memory."""
    import ibis
    import pyarrow as pa

    if in_memory:
        data = engine.to_arrow(table)
        data = data.append_column(SYNTH_COLUMN, pa.nulls(data.num_rows, type=data.schema.field(id_col).type))
        return pa.concat_tables([data, new_rows.cast(data.schema)])
    originals = table.mutate(**{SYNTH_COLUMN: ibis.null().cast(table.schema()[id_col])})
    added = engine.register(new_rows.cast(originals.schema().to_pyarrow()))
    return originals.union(added, distinct=False)


def final_ids(engine: Any, table: Any, new_rows: Any, spec: SynthSpec, *, name: str) -> Any:
    """Integer ids continue after the largest id of the whole manifest (the rows read may be a
    sample); text ids are checked against every id of the manifest (by the engine)."""
    import pyarrow as pa

    id_col = spec.id_col
    ids = new_rows.column(id_col)
    if pa.types.is_integer(ids.type):
        top = engine.scalar(table[id_col].max())
        start = 0 if top is None else int(top) + 1
        fresh = pa.array(np.arange(start, start + new_rows.num_rows), type=ids.type)
        return new_rows.set_column(new_rows.schema.get_field_index(id_col), id_col, fresh)
    probe = engine.register(pa.table({"_mlstrat_new": ids.cast(pa.string())}))
    known = table.select(_mlstrat_old=table[id_col].cast("string"))
    clash = probe.semi_join(known, probe._mlstrat_new == known._mlstrat_old)
    found = [r[0] for r in engine.rows(clash.order_by("_mlstrat_new").limit(3))]
    if found:
        raise InputError(f"{name}: synthetic id(s) {', '.join(found)} already exist in {id_col!r}")
    return new_rows


def engine_selection(engine: Any, table: Any, spec: SynthSpec, *, name: str) -> tuple[Any, Selection, int]:
    """(the rows synthesized from then the target rows, as pyarrow; the selection; the manifest's
    rows). The engine applies the leakage rule, counts, and hands over at most ``spec.sample``
    rows of each kind (the split's hashed assignment, in the manifest's order when all fit)."""
    import pyarrow as pa

    split_col, id_col, like = spec.split_col, spec.id_col, spec.like
    columns = list(table.columns)
    if split_col not in columns:
        raise InputError(
            f"{name}: no {split_col!r} column; run `mlstrat split` first so that synthetic rows "
            "can be appended to train only"
        )
    require(_Columns(columns), [id_col], name=name, role="id column")
    if SYNTH_COLUMN in columns:
        raise InputError(
            f"{name}: already has a {SYNTH_COLUMN!r} column; synthesize from the original "
            "manifest, not from a synthesized one"
        )
    if like is not None:
        require(_Columns(columns), [spec.domain], name=name, role="domain column")
    splits = count_by_text(engine, table, split_col)
    if not splits.get("train"):
        raise InputError(
            f"{name}: no row has {split_col} = 'train'; values: "
            f"{', '.join(sorted(str(s) for s in splits if s is not None))}"
        )
    split = table[split_col].cast("string")
    base = split == "train"
    target = None
    if like is not None:
        values = sorted(str(v) for v in count_by_text(engine, table, spec.domain) if v is not None)
        if str(like) not in values:
            raise InputError(
                f"{name}: column {spec.domain!r} has no rows with value {str(like)!r}"
                f"{did_you_mean(str(like), values)}; values: {', '.join(values[:20])}"
            )
        dom = table[spec.domain].cast("string")
        target = (dom == str(like)) & (split.fill_null("") != "test")  # the test set is never looked at
        base = base & (dom.isnull() | (dom != str(like)))
        if not engine.scalar(table.filter(base).count()):
            raise InputError(
                f"{name}: every train row is already {spec.domain} = {like!r}; nothing to synthesize from"
            )
    group = spec.group_col if spec.group_col and spec.group_col in columns else None
    notes: list[str] = []
    base, excluded = _leakage_rule(engine, table, split, base, group, notes)
    key = group or id_col
    parts = [_bounded(engine, table.filter(base), key=key, n=spec.sample, seed=spec.seed)]
    if not parts[0].num_rows:
        raise InputError(f"{name}: no train row is left to synthesize from")
    if target is not None:
        parts.append(_bounded(engine, table.filter(target), key=key, n=spec.sample, seed=spec.seed))
    data = pa.concat_tables(parts)
    n_base = parts[0].num_rows
    is_target = np.arange(data.num_rows) >= n_base
    return data, Selection(np.arange(n_base), is_target, group, excluded, notes), sum(splits.values())


def _leakage_rule(engine: Any, table: Any, split: Any, base: Any, group: str | None,
                  notes: list[str]) -> tuple[Any, int]:
    """(the rows synthesized from without those whose group also sits outside train, how many
    were left out): a group seen in train_dev/dev/test must not gain copies in train."""
    if group is None:
        return base, 0
    g = table[group].cast("string")
    outside = table.filter(split.isnull() | (split != "train")).select(og=table[group].cast("string"))
    leaking = (g.notnull() & g.isin(outside.og)).fill_null(False)
    excluded = int(engine.scalar(table.filter(base & leaking).count()))
    if excluded:
        notes.append(
            f"{excluded} train row(s) were not synthesized from: their {group!r} also appears in "
            "train_dev/dev/test (the manifest already leaks; re-run mlstrat split)"
        )
        base = base & ~leaking
    return base, excluded


def _bounded(engine: Any, rows: Any, *, key: str, n: int | None, seed: int) -> Any:
    """``rows`` as pyarrow: all of them in the manifest's order when at most ``n``, else the ``n``
    with the smallest hashed key."""
    from mlstrat.mismatch._sample import hashed_sample, sample_salt

    if n is None or int(engine.scalar(rows.count())) <= n:
        return engine.to_arrow(rows)
    return engine.to_arrow(hashed_sample(engine, rows, key=key, n=n, salt=sample_salt(seed)))


@dataclass(frozen=True)
class _Columns:
    """The column names of an engine table, as :func:`require` reads them."""

    column_names: list[str]

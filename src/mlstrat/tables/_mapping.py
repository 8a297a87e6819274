"""Column and split names a user already has: ``label`` as ``y_true``, ``val`` as ``dev``.

Mapping happens in the engine (a rename and a ``CASE`` on the split column); every mapping
made is returned as a note so the output can say what was read as what.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mlstrat._constants import SPLITS
from mlstrat._exceptions import InputError

__all__ = ["SPLIT_ALIASES", "MappedTable", "map_predictions", "map_split_aliases"]

#: split values other tools use -> the method's names (compared case-insensitively, trimmed)
SPLIT_ALIASES: dict[str, str] = {
    "training": "train",
    "val": "dev",
    "valid": "dev",
    "validation": "dev",
    "train-dev": "train_dev",
    "train dev": "train_dev",
    "traindev": "train_dev",
    "train_val": "train_dev",
    "testing": "test",
}


@dataclass(frozen=True)
class MappedTable:
    """An Ibis table with the method's column and split names, and what was mapped."""

    table: Any
    notes: tuple[str, ...]


def map_split_aliases(table: Any, *, source: str) -> MappedTable:
    """Rewrite alias split values (``val``, ``validation``, ``train-dev``, ...) to the method's."""
    values = table.select(s=table.split.cast("string")).distinct().to_pyarrow().column("s").to_pylist()
    mapping = {}
    for v in values:
        if v is None or v in SPLITS:
            continue
        key = v.strip().lower()
        target = SPLIT_ALIASES.get(key) or (key if key in SPLITS else None)
        if target is not None:
            mapping[v] = target
    if not mapping:
        return MappedTable(table, ())
    mapping = dict(sorted(mapping.items(), key=lambda kv: (SPLITS.index(kv[1]), kv[0])))  # stable notes
    clash = sorted({t for t in mapping.values() if t in values})
    if clash:
        both = [v for v, t in mapping.items() if t in clash]
        raise InputError(f"{source}: column 'split' has both {', '.join(map(repr, both))} and what they would "
                         f"map to ({', '.join(clash)}); rename the split values so each set has one name")
    split = table.split.cast("string")
    expr = split.cases(*[(k, v) for k, v in mapping.items()], else_=split)
    notes = tuple(f"split {k!r} read as {v}" for k, v in mapping.items())
    return MappedTable(table.mutate(split=expr), notes)


def map_predictions(source: Any, *, y_true: str | None = None, y_pred: str | None = None,
                    split_col: str | None = None, id_col: str | None = None, con: Any = None,
                    columns: Any = None) -> MappedTable:
    """Open a predictions table whose columns have other names, and map split aliases.

    Parameters
    ----------
    source : path-like or table
    y_true, y_pred, split_col, id_col : str, default=None
        The user's names of the true label, predicted label, split and id columns.
    columns : ColumnSelection, default=None
        The columns the command reads (the user's names are added); ``None``: every column.
    """
    from mlstrat._numbers import did_you_mean
    from mlstrat.tables._io import describe_source, name_table, read_table, source_columns

    name = describe_source(source)
    table = read_table(source, con=con, text_columns=(id_col or "id",),
                       columns=None if columns is None else columns.plus(y_true, y_pred, split_col, id_col))
    rename: dict[str, str] = {}
    for role, given in (("y_true", y_true), ("y_pred", y_pred), ("split", split_col), ("id", id_col)):
        if not given or given == role:
            continue
        if given not in table.columns:
            every = source_columns(table)
            raise InputError(f"{name}: no column {given!r} to read as {role}{did_you_mean(given, every)}; "
                             f"columns: {', '.join(every[:20])}")
        if role in table.columns:
            raise InputError(f"{name}: has a column {role!r} already; drop it or do not map {given!r} onto it")
        rename[role] = given
    notes = [f"column {given!r} read as {role}" for role, given in rename.items()]
    if rename:
        table = table.rename(rename)
    if "split" in table.columns:
        mapped = map_split_aliases(table, source=name)
        table, notes = mapped.table, notes + list(mapped.notes)
    return MappedTable(name_table(table, name), tuple(notes))

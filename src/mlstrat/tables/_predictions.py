"""The predictions table (DESIGN.md): the core input of metrics, diagnose and error analysis."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from mlstrat._constants import SPLITS
from mlstrat._exceptions import InputError
from mlstrat.tables._columns import ColumnSelection, select_columns
from mlstrat.tables._io import describe_source, read_table, require_columns, source_columns

__all__ = ["Predictions", "read_predictions", "PREDICTION_COLUMNS"]

#: the columns of a predictions table that metrics, diagnose and label issues read
PREDICTION_COLUMNS = select_columns("id", "split", "y_true", "y_pred", "weight", "domain", "task",
                                    prefixes=("proba_",))


@dataclass(frozen=True)
class Predictions:
    """A validated predictions table.

    Attributes
    ----------
    table : ibis.Table
        ``split``, ``y_true``, ``y_pred`` (labels cast to string when their types differ)
        and every other column of the source.
    source : str
        The file name or object type, for messages.
    sizes : dict of str to int
        Rows per split present in the table, in the order of :data:`mlstrat.SPLITS`.
    proba_columns : dict of str to str
        Class label (as text) -> ``proba_<class>`` column name.
    all_columns : tuple of str
        Every column of the source, also those a column selection left out of ``table``
        (for messages); empty when ``table`` has them all.
    """

    table: Any
    source: str
    sizes: dict[str, int] = field(default_factory=dict)
    proba_columns: dict[str, str] = field(default_factory=dict)
    all_columns: tuple[str, ...] = ()

    @property
    def source_columns(self) -> list[str]:
        """Every column of the source, for messages that list what is available."""
        return list(self.all_columns or self.table.columns)


def _numeric_weight(table: Any, weight: str, name: str) -> Any:
    """The table with its weight column as numbers; text that is not a number is one clear error."""
    col = table[weight]
    if col.type().is_numeric() or col.type().is_boolean():
        return table.mutate(**{weight: col.cast("float64")}) if col.type().is_boolean() else table
    as_number = col.cast("string").try_cast("float64")
    bad = table.filter(col.notnull() & as_number.isnull()).select(v=col.cast("string")).limit(1)
    example = bad.to_pyarrow().column("v").to_pylist()
    if example:
        raise InputError(f"{name}: column {weight!r} holds text such as {example[0]!r}; "
                         "weights must be numbers >= 0")
    return table.mutate(**{weight: as_number})


def read_predictions(source: Any, *, con: Any = None, require_id: bool = False,
                     weight: str | None = None, labels: bool = True, columns: ColumnSelection | None = None,
                     _name: str | None = None) -> Predictions:
    """Open and validate a predictions table (one engine pass).

    Checks: the required columns exist; ``split`` values are among ``train``, ``train_dev``,
    ``dev``, ``test``; no null/NaN ``y_true``/``y_pred``; no null or negative weights; at least
    one row. ``labels=False`` accepts a table without ``y_true``/``y_pred`` (a per-example loss
    or a ratio's columns are the metric). Split values other tools use (``val``,
    ``validation``, ``train-dev``, ...; see :data:`SPLIT_ALIASES`) are read as the method's,
    with a :class:`MlstratWarning` saying so.

    ``columns`` (a :class:`~mlstrat.tables.ColumnSelection`, such as :data:`PREDICTION_COLUMNS`)
    keeps only those columns besides the required ones: a wide file is then read for them only.
    ``None`` keeps every column (the error-analysis sheet passes them through).
    """
    import ibis

    name = _name or describe_source(source)
    if columns is not None:
        columns = columns.plus("split", "y_true", "y_pred", "id", weight)
    table = read_table(source, con=con, text_columns=("id",), columns=columns)
    every = tuple(source_columns(table))
    labels = labels or "y_true" in table.columns or "y_pred" in table.columns
    required = (["split"] + (["y_true", "y_pred"] if labels else []) + (["id"] if require_id else [])
                + ([weight] if weight else []))
    require_columns(table, required, source=name)
    kinds = None  # (y_true type, y_pred type) when one is text and the other is not
    if labels and table.y_true.type() != table.y_pred.type():
        y_true, y_pred = table.y_true, table.y_pred
        numeric = y_true.type().is_numeric() and y_pred.type().is_numeric()
        if numeric:
            table = table.mutate(y_true=y_true.cast("float64"), y_pred=y_pred.cast("float64"))
        else:
            kinds = (str(y_true.type()), str(y_pred.type()))
            table = table.mutate(y_true=y_true.cast("string"), y_pred=y_pred.cast("string"))

    def missing(col: Any) -> Any:
        bad = col.isnull()
        if col.type().is_floating():
            bad = bad | col.isnan()
        return bad.cast("int64").sum()

    split_col = table.split.cast("string")
    aggs = {"n": ibis._.count()}
    if labels:
        aggs.update(null_true=missing(table.y_true), null_pred=missing(table.y_pred))
    if weight:
        table = _numeric_weight(table, weight, name)
        w = table[weight]
        bad = w.isnull() | (w < 0)
        if w.type().is_floating():
            bad = bad | w.isnan() | w.isinf()
        aggs["bad_weight"] = bad.cast("int64").sum()
    if kinds:
        aggs["agree"] = (table.y_true == table.y_pred).cast("int64").sum()
    stats = table.mutate(_split=split_col).group_by("_split").aggregate(**aggs).to_pyarrow().to_pylist()
    if not stats:
        raise InputError(f"{name}: the predictions table has no rows")
    found = {row["_split"]: row for row in stats}
    if None in found:
        raise InputError(f"{name}: column 'split' has {found[None]['n']} empty value(s); "
                         f"every row needs one of: {', '.join(SPLITS)}")
    unknown = sorted(str(s) for s in found if s not in SPLITS)
    if unknown and _name is None and all(_is_alias(u) for u in unknown):
        import warnings

        from mlstrat._exceptions import MlstratWarning
        from mlstrat.tables._mapping import map_split_aliases

        mapped = map_split_aliases(table, source=name)
        warnings.warn(f"{name}: {'; '.join(mapped.notes)}", MlstratWarning, stacklevel=2)
        mapped_predictions = read_predictions(mapped.table, con=con, require_id=require_id, weight=weight,
                                              labels=labels, _name=name)
        return dataclasses.replace(mapped_predictions, all_columns=every)
    if unknown:
        raise InputError(
            f"{name}: column 'split' has unknown value(s) {', '.join(repr(u) for u in unknown)}; "
            f"allowed: {', '.join(SPLITS)}"
        )
    for key, col in (("null_true", "y_true"), ("null_pred", "y_pred")):
        count = sum(int(row.get(key) or 0) for row in stats)
        if count:
            raise InputError(f"{name}: column {col!r} has {count} empty/NaN value(s); "
                             "every row needs a label (drop or fill those rows)")
    if weight:
        count = sum(int(row["bad_weight"] or 0) for row in stats)
        if count:
            raise InputError(f"{name}: column {weight!r} has {count} empty, negative or infinite "
                             "weight(s); weights must be finite numbers >= 0")
    if kinds and not sum(int(row["agree"] or 0) for row in stats):
        _refuse_disjoint_kinds(table, name, kinds)
    sizes = {s: int(found[s]["n"]) for s in SPLITS if s in found}
    proba = {c[len("proba_"):]: c for c in table.columns if c.startswith("proba_")}
    return Predictions(table=table, source=name, sizes=sizes, proba_columns=proba, all_columns=every)


def _refuse_disjoint_kinds(table: Any, name: str, kinds: tuple[str, str]) -> None:
    """y_true and y_pred of different types that never agree: a type mix-up, not a 100% error."""
    def sample(col: str) -> str:
        values = table.select(col).distinct().order_by(col).limit(3).to_pyarrow().column(0).to_pylist()
        return ", ".join(repr(v) for v in values)

    raise InputError(
        f"{name}: y_true ({kinds[0]}) and y_pred ({kinds[1]}) never agree: compared as text they share no "
        f"value (y_true: {sample('y_true')}; y_pred: {sample('y_pred')}); the error would be 100% because of "
        "the types, not the model. Write both columns with the same type and spelling (e.g. both integers)"
    )


def _is_alias(value: str) -> bool:
    from mlstrat.tables._mapping import SPLIT_ALIASES

    key = value.strip().lower()
    return key in SPLIT_ALIASES or key in SPLITS

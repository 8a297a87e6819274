"""The predictions table (DESIGN.md): the core input of metrics, diagnose and error analysis."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mlstrat._constants import SPLITS
from mlstrat._exceptions import InputError
from mlstrat.tables._io import describe_source, read_table, require_columns

__all__ = ["Predictions", "read_predictions"]


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
    """

    table: Any
    source: str
    sizes: dict[str, int] = field(default_factory=dict)
    proba_columns: dict[str, str] = field(default_factory=dict)


def read_predictions(source: Any, *, con: Any = None, require_id: bool = False,
                     weight: str | None = None, labels: bool = True, _name: str | None = None) -> Predictions:
    """Open and validate a predictions table (one engine pass).

    Checks: the required columns exist; ``split`` values are among ``train``, ``train_dev``,
    ``dev``, ``test``; no null/NaN ``y_true``/``y_pred``; no null or negative weights; at least
    one row. ``labels=False`` accepts a table without ``y_true``/``y_pred`` (a per-example loss
    or a ratio's columns are the metric). Split values other tools use (``val``,
    ``validation``, ``train-dev``, ...; see :data:`SPLIT_ALIASES`) are read as the method's,
    with a :class:`MlstratWarning` saying so.
    """
    import ibis

    name = _name or describe_source(source)
    table = read_table(source, con=con, text_columns=("id",))
    labels = labels or "y_true" in table.columns or "y_pred" in table.columns
    required = (["split"] + (["y_true", "y_pred"] if labels else []) + (["id"] if require_id else [])
                + ([weight] if weight else []))
    require_columns(table, required, source=name)
    if labels and table.y_true.type() != table.y_pred.type():
        y_true, y_pred = table.y_true, table.y_pred
        numeric = y_true.type().is_numeric() and y_pred.type().is_numeric()
        if numeric:
            table = table.mutate(y_true=y_true.cast("float64"), y_pred=y_pred.cast("float64"))
        else:
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
        w = table[weight]
        aggs["bad_weight"] = (w.isnull() | (w < 0)).cast("int64").sum()
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
        return read_predictions(mapped.table, con=con, require_id=require_id, weight=weight, labels=labels,
                                _name=name)
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
            raise InputError(f"{name}: column {weight!r} has {count} empty or negative weight(s); "
                             "weights must be >= 0")
    sizes = {s: int(found[s]["n"]) for s in SPLITS if s in found}
    proba = {c[len("proba_"):]: c for c in table.columns if c.startswith("proba_")}
    return Predictions(table=table, source=name, sizes=sizes, proba_columns=proba)


def _is_alias(value: str) -> bool:
    from mlstrat.tables._mapping import SPLIT_ALIASES

    key = value.strip().lower()
    return key in SPLIT_ALIASES or key in SPLITS

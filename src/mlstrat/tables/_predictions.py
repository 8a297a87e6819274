"""The predictions table (docs/guide/diagnose.md): what metrics, diagnose and errors read."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from mlstrat._constants import SPLITS
from mlstrat._exceptions import InputError
from mlstrat.tables._columns import ColumnSelection, select_columns
from mlstrat.tables._io import describe_source, read_table, require_columns, source_columns

__all__ = ["Predictions", "read_predictions", "PREDICTION_COLUMNS", "expand_proba_lists", "with_numeric_proba"]

#: the columns of a predictions table that metrics, diagnose and label issues read
PREDICTION_COLUMNS = select_columns("id", "split", "y_true", "y_pred", "weight", "domain", "task", "proba",
                                    prefixes=("proba_",))
#: the keyword argument that names each column when the table calls it otherwise
#: (``map_predictions(..., split_col="fold")``), carried by missing-column errors
_ARGUMENTS = {"split": "split_col", "id": "id_col", "y_true": "y_true", "y_pred": "y_pred"}
#: labels fetched (at the least) to decide whether a list column's positions are the classes 0 .. K-1
_LABELS_SHOWN = 1000


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
    label_counts : pyarrow.Table or None
        With ``read_predictions(..., counts=True)``: one row per (``_split``, ``y_true``,
        ``y_pred``) with its row count ``n`` (and ``w``, ``w2``: the sums of the weight and
        of its square when a count weight was named), from the validation pass itself, so
        the confusion counts cost no second pass over the table.
    counts_weight : str or None
        The weight column summed in ``label_counts``.
    all_columns : tuple of str
        Every column of the source, also those a column selection left out of ``table``
        (for messages); empty when ``table`` has them all.
    """

    table: Any
    source: str
    sizes: dict[str, int] = field(default_factory=dict)
    proba_columns: dict[str, str] = field(default_factory=dict)
    label_counts: Any = None
    counts_weight: str | None = None
    all_columns: tuple[str, ...] = ()

    @property
    def source_columns(self) -> list[str]:
        """Every column of the source, for messages that list what is available."""
        return list(self.all_columns or self.table.columns)


def _numeric_weight(table: Any, weight: str, name: str, *,
                    expected: str = "weights must be numbers >= 0") -> Any:
    """The table with its weight column as numbers; text that is not a number is one clear error."""
    col = table[weight]
    if col.type().is_numeric() or col.type().is_boolean():
        return table.mutate(**{weight: col.cast("float64")}) if col.type().is_boolean() else table
    as_number = col.cast("string").try_cast("float64")
    bad = table.filter(col.notnull() & as_number.isnull()).select(v=col.cast("string")).limit(1)
    example = bad.to_pyarrow().column("v").to_pylist()
    if example:
        raise InputError(f"{name}: column {weight!r} holds text such as {example[0]!r}; {expected}")
    return table.mutate(**{weight: as_number})


def with_numeric_proba(preds: Predictions) -> Predictions:
    """``preds`` with every ``proba_<class>`` column as numbers, for the commands that read the
    probabilities themselves (label issues, the sheet's confidence). A column of text, bytes or
    structs that are not numbers is one clear error; the other commands never look at them."""
    table = preds.table
    for column in preds.proba_columns.values():
        table = _numeric_weight(table, column, preds.source,
                                expected="probabilities must be numbers in [0, 1]")
    return dataclasses.replace(preds, table=table)


def read_predictions(source: Any, *, con: Any = None, require_id: bool = False,
                     weight: str | None = None, labels: bool = True, counts: bool = False,
                     counts_weight: str | None = None, columns: ColumnSelection | None = None,
                     _name: str | None = None) -> Predictions:
    """Open and validate a predictions table (one engine pass).

    Checks: the required columns exist; ``split`` values are among ``train``, ``train_dev``,
    ``dev``, ``test``; no null/NaN ``y_true``/``y_pred``; no null or negative weights; at least
    one row. ``labels=False`` accepts a table without ``y_true``/``y_pred`` (a per-example loss
    or a ratio's columns are the metric). Split values other tools use (``val``,
    ``validation``, ``train-dev``, ...; see :data:`SPLIT_ALIASES`) are read as the method's,
    with a :class:`MlstratWarning` saying so.

    ``counts=True`` (class labels only) groups the same pass by ``split, y_true, y_pred``
    and keeps the groups in :attr:`Predictions.label_counts` (with the sums of
    ``counts_weight`` when named, a column checked to hold numbers but not validated
    otherwise); the checks are then read from the groups.

    ``columns`` (a :class:`~mlstrat.tables.ColumnSelection`, such as :data:`PREDICTION_COLUMNS`)
    keeps only those columns besides the required ones: a wide file is then read for them only.
    ``None`` keeps every column (the error-analysis sheet passes them through).
    """
    name = _name or describe_source(source)
    if columns is not None:
        columns = columns.plus("split", "y_true", "y_pred", "id", weight, counts_weight)
    table = read_table(source, con=con, text_columns=("id",), columns=columns)
    every = tuple(source_columns(table))
    labels = labels or "y_true" in table.columns or "y_pred" in table.columns
    required = (["split"] + (["y_true", "y_pred"] if labels else []) + (["id"] if require_id else [])
                + ([weight] if weight else []))
    named_by = {**_ARGUMENTS, **({weight: "weight"} if weight else {})}
    require_columns(table, required, source=name, arguments=named_by)
    table = expand_proba_lists(table, name=name)
    table, kinds = _comparable_labels(table) if labels else (table, None)
    if weight:
        table = _numeric_weight(table, weight, name)
    counts = counts and labels
    if counts and counts_weight and counts_weight != weight:
        require_columns(table, [counts_weight], source=name)
        table = _numeric_weight(table, counts_weight, name)
    groups = _validation_pass(table, labels=labels, weight=weight, kinds=kinds, counts=counts,
                              counts_weight=counts_weight)
    stats = _per_split(groups, kinds=kinds) if counts else groups.to_pylist()
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
                                              labels=labels, counts=counts, counts_weight=counts_weight,
                                              _name=name)
        return dataclasses.replace(mapped_predictions, all_columns=every)
    if unknown:
        raise InputError(
            f"{name}: column 'split' has unknown value(s) {', '.join(repr(u) for u in unknown)}; "
            f"allowed: {', '.join(SPLITS)}"
        )
    _check_stats(stats, name=name, weight=weight)
    if kinds and not sum(int(row["agree"] or 0) for row in stats):
        _refuse_disjoint_kinds(table, name, kinds)
    sizes = {s: int(found[s]["n"]) for s in SPLITS if s in found}
    proba = {c[len("proba_"):]: c for c in table.columns if c.startswith("proba_")}
    return Predictions(table=table, source=name, sizes=sizes, proba_columns=proba,
                       label_counts=groups if counts else None,
                       counts_weight=counts_weight if counts else None, all_columns=every)


def _comparable_labels(table: Any) -> tuple[Any, tuple[str, str] | None]:
    """y_true and y_pred of one type: numbers as float64, else both as text; ``kinds`` =
    (y_true type, y_pred type) when one was text and the other not."""
    y_true, y_pred = table.y_true, table.y_pred
    if y_true.type() == y_pred.type():
        return table, None
    if y_true.type().is_numeric() and y_pred.type().is_numeric():
        return table.mutate(y_true=y_true.cast("float64"), y_pred=y_pred.cast("float64")), None
    kinds = (str(y_true.type()), str(y_pred.type()))
    return table.mutate(y_true=y_true.cast("string"), y_pred=y_pred.cast("string")), kinds


def _validation_pass(table: Any, *, labels: bool, weight: str | None, kinds: Any, counts: bool,
                     counts_weight: str | None) -> Any:
    """The one engine pass (an Arrow table): per split, or per (split, y_true, y_pred) with
    ``counts``, where empty labels are groups of their own and need no aggregate."""
    import ibis

    def missing(col: Any) -> Any:
        bad = col.isnull()
        if col.type().is_floating():
            bad = bad | col.isnan()
        return bad.cast("int64").sum()

    aggs = {"n": ibis._.count()}
    if labels and not counts:
        aggs.update(null_true=missing(table.y_true), null_pred=missing(table.y_pred))
    if weight:
        w = table[weight]
        bad = w.isnull() | (w < 0)
        if w.type().is_floating():
            bad = bad | w.isnan() | w.isinf()
        aggs["bad_weight"] = bad.cast("int64").sum()
    if kinds and not counts:
        aggs["agree"] = (table.y_true == table.y_pred).cast("int64").sum()
    if counts_weight and counts:
        w = table[counts_weight].cast("float64")
        aggs.update(w=w.sum(), w2=(w * w).sum())
    keys = ["_split", "y_true", "y_pred"] if counts else ["_split"]
    return table.mutate(_split=table.split.cast("string")).group_by(keys).aggregate(**aggs).to_pyarrow()


def _per_split(groups: Any, *, kinds: Any) -> list[dict[str, Any]]:
    """The per-split figures the checks read, summed from the (split, y_true, y_pred) groups."""
    out: dict[Any, dict[str, Any]] = {}
    for row in groups.to_pylist():
        split = out.setdefault(row["_split"], {"_split": row["_split"], "n": 0, "null_true": 0,
                                                "null_pred": 0, "bad_weight": 0, "agree": 0})
        n = row["n"]
        split["n"] += n
        split["null_true"] += n if _empty(row["y_true"]) else 0
        split["null_pred"] += n if _empty(row["y_pred"]) else 0
        split["bad_weight"] += row.get("bad_weight") or 0
        if kinds and not _empty(row["y_true"]) and row["y_true"] == row["y_pred"]:
            split["agree"] += n
    return list(out.values())


def _empty(value: Any) -> bool:
    """Null or NaN (a NaN is the one value unequal to itself)."""
    return value is None or value != value


def _check_stats(stats: list[dict[str, Any]], *, name: str, weight: str | None) -> None:
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


# ---- probabilities written as lists ---------------------------------------------------------------


def _is_proba_name(column: str) -> bool:
    return column == "proba" or column.startswith("proba_")


def expand_proba_lists(table: Any, *, name: str) -> Any:
    """The table with list-typed probability columns read as one number per class column.

    Some exporters write the probabilities as lists. Two shapes are read:

    * one list column (``proba``, or a single ``proba_*`` column) holding the vector of
      per-class probabilities, when the class of each position is unambiguous: every label
      in ``y_true`` and ``y_pred`` is an integer ``0 .. K-1`` (K the vectors' length, the
      same on every row), position ``i`` being class ``i`` (the order of a model's logits and
      of scikit-learn's ``predict_proba`` for such labels). It becomes ``proba_0 ..
      proba_<K-1>``;
    * ``proba_<class>`` columns that each hold a one-element list: the element is the value.

    Anything else is refused in one line that gives the expected shape.

    Raises
    ------
    InputError
        When a list column's class order is ambiguous, its lists differ in length or are
        empty, or ``proba_<class>`` lists hold more than one value.
    """
    lists = [c for c in table.columns if _is_proba_name(c) and table[c].type().is_array()]
    if not lists:
        return table
    scalars = [c for c in table.columns if c.startswith("proba_") and c not in lists]
    lengths = _list_lengths(table, lists)
    if len(lists) == 1 and not scalars and (lists[0] == "proba" or lengths[lists[0]][1] > 1):
        return _vector_to_columns(table, lists[0], lengths[lists[0]], name=name)
    for col in lists:
        low, high = lengths[col]
        if (low, high) != (1, 1) and high is not None:
            raise InputError(
                f"{name}: column {col!r} holds lists of {_count_range(low, high)} values; a proba_<class> "
                "column holds one probability per row (a number, or a list of one number). Write one "
                "proba_<class> column per class, or all probabilities as one list column 'proba'")
    return table.mutate(**{c: table[c][0].cast("float64") for c in lists})


def _list_lengths(table: Any, columns: list[str]) -> dict[str, tuple[int | None, int | None]]:
    """(shortest, longest) non-null list of each column, in one engine pass."""
    aggs = {}
    for i, col in enumerate(columns):
        length = table[col].length()
        aggs[f"lo{i}"], aggs[f"hi{i}"] = length.min(), length.max()
    row = table.aggregate(**aggs).to_pyarrow().to_pylist()[0]
    return {col: (row[f"lo{i}"], row[f"hi{i}"]) for i, col in enumerate(columns)}


def _count_range(low: int | None, high: int | None) -> str:
    return f"{low}" if low == high else f"{low} to {high}"


def _vector_to_columns(table: Any, column: str, lengths: tuple[int | None, int | None], *, name: str) -> Any:
    """``proba_0 .. proba_<K-1>`` from one list column whose position ``i`` is class ``i``."""
    low, high = lengths
    expected = ("one list of K probabilities per row, position i being the probability of label i "
                "(labels 0 .. K-1), or one proba_<class> column per class")
    if high is None or low != high or low == 0:
        raise InputError(f"{name}: column {column!r} holds lists of {_count_range(low, high)} values; "
                         f"expected {expected}")
    labels = _distinct_labels(table, most=max(_LABELS_SHOWN, high + 1))
    outside = sorted({v for v in labels if _class_index(v, high) is None}, key=repr)
    if outside:
        shown = ", ".join(repr(v) for v in outside[:3])
        raise InputError(
            f"{name}: column {column!r} holds lists of {high} probabilities but the class of each position is "
            f"ambiguous: labels such as {shown} are not the integers 0 .. {high - 1}; expected {expected}")
    taken = [f"proba_{i}" for i in range(high) if f"proba_{i}" in table.columns]
    if taken:
        raise InputError(f"{name}: column {column!r} would become proba_0 .. proba_{high - 1} but "
                         f"{taken[0]!r} exists; keep one of the two forms")
    vector = table[column]
    return table.mutate(**{f"proba_{i}": vector[i].cast("float64") for i in range(high)}).drop(column)


def _distinct_labels(table: Any, *, most: int) -> list[Any]:
    """Distinct non-null values of y_true and y_pred, at most ``most`` of each.

    ``most`` above K: K + 1 distinct numbers cannot all be classes 0 .. K-1, so a column
    with more labels than classes shows one that is not.
    """
    values: list[Any] = []
    for col in ("y_true", "y_pred"):
        if col in table.columns:
            part = table.select(v=table[col]).filter(lambda t: t.v.notnull()).distinct().order_by("v").limit(most)
            values += part.to_pyarrow().column("v").to_pylist()
    return values


def _class_index(value: Any, k: int) -> int | None:
    """The class index a label names (``2``, ``2.0`` or ``"2"``) when it is in ``0 .. k-1``."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        text = value.strip()
        value = int(text) if text.isdigit() and text.isascii() else None
    elif isinstance(value, float):
        value = int(value) if value.is_integer() else None
    elif not isinstance(value, int):
        value = None
    return value if value is not None and 0 <= value < k else None

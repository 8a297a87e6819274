"""``compute_metrics``: confusion counts in the engine (one GROUP BY), figures in numpy."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from mlstrat._constants import SPLITS
from mlstrat._exceptions import ConfigError, InputError
from mlstrat._numbers import did_you_mean
from mlstrat.metrics._from_counts import (
    Counts,
    MetricsReport,
    SplitMetrics,
    check_zero_division,
    metrics_from_counts,
)

__all__ = ["compute_metrics", "metrics_from_arrays", "confusion_counts", "resolve_splits"]


def resolve_splits(
    split: str | Sequence[str] | None,
    present: dict[str, int],
    source: str,
    *,
    test: bool = True,
) -> list[str]:
    """Validate requested split names against :data:`SPLITS` and the splits present.

    With ``test=False`` the test split is sealed: left out by default, refused when named.
    """
    if split is None:
        return [s for s in SPLITS if present.get(s) and (test or s != "test")]
    wanted = [split] if isinstance(split, str) else list(split)
    out: list[str] = []
    for name in wanted:
        if name not in SPLITS:
            raise InputError(
                f"unknown split {name!r}{did_you_mean(name, SPLITS)}; allowed: {', '.join(SPLITS)}"
            )
        if not present.get(name):
            have = ", ".join(s for s in SPLITS if present.get(s)) or "none"
            raise InputError(f"{source}: split {name!r} has 0 rows; splits present: {have}")
        if name == "test" and not test:
            raise ConfigError(
                "the test split is sealed: pass --test (test=True) to compute its figures; each "
                "look is counted, and tuning on it overfits it"
            )
        if name not in out:
            out.append(name)
    return out


def confusion_counts(
    table: Any, splits: Sequence[str], *, weight: str | None = None, groups: Any = None
) -> dict[str, Counts]:
    """One engine pass: ``GROUP BY split, y_true, y_pred`` with row counts and weight sums.

    The result has at most ``splits x K x K`` rows, so it is tiny whatever the table size.
    ``groups``: that result already computed (``Predictions.label_counts``, from the
    validation pass), so no pass at all.
    """
    if groups is None:
        groups = _group_labels(table, splits, weight=weight)
    split_col = groups.column("_split").to_pylist()
    y_true = groups.column("y_true").to_pylist()
    y_pred = groups.column("y_pred").to_pylist()
    n = np.asarray(groups.column("n").to_pylist(), dtype=np.int64)
    w = np.asarray(groups.column("w").to_pylist(), dtype=np.float64) if weight else n.astype(np.float64)
    w2 = np.asarray(groups.column("w2").to_pylist(), dtype=np.float64) if weight else n.astype(np.float64)

    out: dict[str, Counts] = {}
    for name in splits:
        idx = [i for i, s in enumerate(split_col) if s == name]
        labels = tuple(sorted({y_true[i] for i in idx} | {y_pred[i] for i in idx}))
        pos = {label: k for k, label in enumerate(labels)}
        k = len(labels)
        matrix = np.zeros((k, k), dtype=np.int64)
        wm = np.zeros((k, k), dtype=np.float64)
        w2m = np.zeros((k, k), dtype=np.float64)
        for i in idx:
            a, b = pos[y_true[i]], pos[y_pred[i]]
            matrix[a, b] += n[i]
            wm[a, b] += w[i]
            w2m[a, b] += w2[i]
        out[name] = Counts(labels, matrix, wm, w2m)
    return out


def _group_labels(table: Any, splits: Sequence[str], *, weight: str | None) -> Any:
    """The engine pass of :func:`confusion_counts` (an Arrow table)."""
    import ibis

    t = table.mutate(_split=table.split.cast("string"))
    if set(splits) != set(SPLITS):
        t = t.filter(t._split.isin(list(splits)))
    aggs: dict[str, Any] = {"n": ibis._.count()}
    if weight:
        w = t[weight].cast("float64")
        aggs.update(w=w.sum(), w2=(w * w).sum())
    return t.group_by(["_split", "y_true", "y_pred"]).aggregate(**aggs).to_pyarrow()


def compute_metrics(
    predictions: Any,
    *,
    split: str | Sequence[str] | None = None,
    pos_label: Any = None,
    weight: str | None = None,
    zero_division: Any = "warn",
    test: bool = False,
    store: Any = None,
    con: Any = None,
) -> MetricsReport:
    """Per-split classification metrics with confidence intervals.

    Parameters
    ----------
    predictions : path-like, DataFrame, pyarrow.Table, dict, ibis.Table or Predictions
        A predictions table (``split``, ``y_true``, ``y_pred``, optional ``weight``), see
        :func:`mlstrat.tables.read_predictions`.
    split : str or sequence of str, default=None
        Splits to report; all present by default.
    pos_label : label, default=None
        Report binary precision/recall/F1 for this class; macro averages otherwise.
    weight : str, default=None
        Column of example weights for ``weighted_error``; the ``weight`` column when present,
        else every weight is 1.
    zero_division : {"warn", 0, 1, nan}, default="warn"
        Value of a precision/recall/F1 whose denominator is 0. ``"warn"`` gives 0 and an
        :class:`mlstrat.UndefinedMetricWarning`; ``nan`` leaves it out of averages.
    test : bool, default=False
        The test split is sealed: its metrics are computed only with ``test=True``, and each
        such call counts one look at the test set in the run store (warning
        ``test_set_reused`` past the threshold, also in ``report.warnings``).
    store : RunStore, path-like, None or False, default=None
        Where looks at the test set are counted (``$MLSTRAT_STORE`` or ``.mlstrat/runs.db``
        by default); ``False`` when the caller counts the same look itself.
    con : ibis DuckDB backend, default=None
        Engine connection; the process-wide one by default.

    Returns
    -------
    MetricsReport
        ``report.splits["dev"].error``, ``.error_ci``, ``.f1``, ...; ``report.to_dict()``
        gives the JSON of ``mlstrat metrics --json``.

    Examples
    --------
    >>> import mlstrat
    >>> report = mlstrat.compute_metrics({"split": ["dev"] * 4, "y_true": [0, 1, 1, 0],
    ...                                   "y_pred": [0, 1, 0, 0]})
    >>> report.splits["dev"].error
    0.25
    """
    from mlstrat.tables import PREDICTION_COLUMNS, Predictions, read_predictions, read_table

    zero_division = check_zero_division(zero_division)
    if isinstance(predictions, Predictions):
        pred = predictions
        if weight is None and "weight" in pred.table.columns:
            weight = "weight"
        if weight is not None and weight in pred.table.columns:
            import dataclasses

            from mlstrat.tables._predictions import _numeric_weight

            pred = dataclasses.replace(pred, table=_numeric_weight(pred.table, weight, pred.source))
    else:
        columns = PREDICTION_COLUMNS.plus(weight)  # a wide file is read for these only
        if weight is None and "weight" in read_table(predictions, con=con, columns=columns,
                                                     text_columns=("id",)).columns:
            weight = "weight"
        # the confusion counts come from the validation pass: one pass over the table
        pred = read_predictions(predictions, con=con, weight=weight, counts=True, counts_weight=weight,
                                columns=columns)
    if weight is not None and weight not in pred.table.columns:
        raise InputError(
            f"{pred.source}: no weight column {weight!r}; columns: {', '.join(pred.source_columns)}"
        )
    splits = resolve_splits(split, pred.sizes, pred.source, test=test)
    reuse = pred.label_counts is not None and pred.counts_weight == weight
    counts = confusion_counts(pred.table, splits, weight=weight, groups=pred.label_counts if reuse else None)
    check_pos_label(pos_label, [label for s in splits for label in counts[s].labels], source=pred.source)
    notes = _test_notes(predictions, pred, splits, test=test or split is not None, store=store,
                        con=con)
    return MetricsReport(
        splits={
            s: metrics_from_counts(
                counts[s], pos_label=pos_label, zero_division=zero_division, split=s
            )
            for s in splits
        },
        weight=weight,
        zero_division=zero_division,
        source=pred.source,
        warnings=tuple(notes),
    )


def _test_notes(
    predictions: Any, pred: Any, splits: Sequence[str], *, test: bool, store: Any, con: Any
) -> list[dict[str, str]]:
    """Count the look when test figures were computed; say so when a test split was sealed
    (``test`` also true when the splits were named: then leaving test out was the request)."""
    from mlstrat.sealing._looks import look_notes
    from mlstrat.tables import Predictions

    return look_notes(pred.table if isinstance(predictions, Predictions) else predictions,
                      used="test" in splits, sealed_rows=0 if test else pred.sizes.get("test", 0),
                      store=store, con=con)


def check_pos_label(pos_label: Any, labels: Sequence[Any], *, source: str) -> None:
    """Refuse a positive class that is no label at all (it would give silent zeros).

    A label present in some splits but absent from one keeps the zero-division policy there.
    """
    from mlstrat._labels import label_text
    from mlstrat.metrics._from_counts import _find_label

    if pos_label is None or _find_label(labels, pos_label) is not None:
        return
    texts = sorted({label_text(v) for v in labels})
    shown = ", ".join(repr(t) for t in texts[:10]) + (", ..." if len(texts) > 10 else "")
    raise ConfigError(f"pos_label={label_text(pos_label)!r} (--pos-label) is not a label of {source} "
                      f"(labels: {shown}){did_you_mean(label_text(pos_label), texts)}")


def metrics_from_arrays(
    y_true: Any,
    y_pred: Any,
    *,
    sample_weight: Any = None,
    pos_label: Any = None,
    zero_division: Any = "warn",
) -> SplitMetrics:
    """The figures of :func:`compute_metrics` for one pair of label arrays.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
        True and predicted labels.
    sample_weight : array-like of shape (n_samples,), default=None
        Example weights (>= 0) for ``weighted_error``.
    pos_label, zero_division
        As in :func:`compute_metrics`.
    """
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.ndim != 1 or y_pred.ndim != 1 or len(y_true) != len(y_pred):
        raise InputError(
            f"y_true and y_pred must be 1-d arrays of the same length "
            f"(got shapes {y_true.shape} and {y_pred.shape})"
        )
    if len(y_true) == 0:
        raise InputError("y_true is empty; give at least one prediction")
    for name, arr in (("y_true", y_true), ("y_pred", y_pred)):
        if arr.dtype.kind == "f" and np.isnan(arr).any():
            raise InputError(
                f"{name} has {int(np.isnan(arr).sum())} NaN value(s); every example needs a label"
            )
        if arr.dtype.kind == "O" and any(v is None for v in arr):
            raise InputError(f"{name} has empty (None) values; every example needs a label")
    if sample_weight is None:
        w = np.ones(len(y_true))
    else:
        w = np.asarray(sample_weight, dtype=np.float64)
        if w.shape != y_true.shape:
            raise InputError(f"sample_weight has shape {w.shape}; expected {y_true.shape}")
        if not np.all(np.isfinite(w)) or (w < 0).any():
            raise InputError("sample_weight has NaN or negative values; weights must be >= 0")
    labels, inverse = np.unique(np.concatenate([y_true, y_pred]), return_inverse=True)
    k, n = len(labels), len(y_true)
    cell = inverse[:n] * k + inverse[n:]
    matrix = np.bincount(cell, minlength=k * k).reshape(k, k).astype(np.int64)
    wm = np.bincount(cell, weights=w, minlength=k * k).reshape(k, k)
    w2m = np.bincount(cell, weights=w * w, minlength=k * k).reshape(k, k)
    counts = Counts(tuple(labels.tolist()), matrix, wm, w2m)
    check_pos_label(pos_label, counts.labels, source="y_true/y_pred")
    return metrics_from_counts(counts, pos_label=pos_label, zero_division=zero_division)

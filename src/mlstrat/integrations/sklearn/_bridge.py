"""From a split table and a scikit-learn estimator to the method's tables."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from mlstrat._constants import SPLITS
from mlstrat._exceptions import ConfigError, InputError

__all__ = ["TrainDevCV", "out_of_fold_predictions", "predictions_table", "train_dev_cv"]


def _frame(data: Any) -> Any:
    """A pandas DataFrame of ``data`` (a DataFrame, or anything :func:`read_table` reads)."""
    import pandas as pd

    if isinstance(data, pd.DataFrame):
        return data
    from mlstrat.tables import read_table

    return read_table(data).to_pandas()


def _features(frame: Any, features: Sequence[str] | None, *, used: Sequence[str]) -> list[str]:
    if features is None:
        names = [c for c in frame.columns if c not in used and frame[c].dtype.kind in "biuf"]
    else:
        # one name is one column: list("f1") would read the columns 'f' and '1'
        names = [features] if isinstance(features, str) else list(features)
        missing = [c for c in names if c not in frame.columns]
        if missing:
            raise InputError(f"split table: missing feature column(s) {', '.join(map(repr, missing))}; "
                             f"columns: {', '.join(map(str, frame.columns[:20]))}")
    if not names:
        raise InputError("split table: no numeric feature column; pass features=[...]")
    return names


def _check(frame: Any, *, label: str, id_col: str, split_col: str) -> None:
    for col, role in ((split_col, "split"), (label, "label"), (id_col, "id")):
        if col not in frame.columns:
            raise InputError(f"split table: missing {role} column {col!r}; "
                             f"columns: {', '.join(map(str, frame.columns[:20]))}")
    unknown = sorted(set(frame[split_col].astype(str)) - set(SPLITS))
    if unknown:
        raise InputError(f"split table: column {split_col!r} has unknown value(s) "
                         f"{', '.join(map(repr, unknown))}; allowed: {', '.join(SPLITS)}")


def _table(frame: Any, rows: np.ndarray, classes: Sequence[Any], y_pred: np.ndarray, proba: np.ndarray | None,
           *, label: str, id_col: str, split_col: str, features: list[str]) -> Any:
    import pandas as pd

    part = frame.loc[rows]
    out = {"id": part[id_col].to_numpy(), "split": part[split_col].astype(str).to_numpy(),
           "y_true": part[label].to_numpy(), "y_pred": y_pred}
    if proba is not None:
        for j, c in enumerate(classes):
            out[f"proba_{c}"] = proba[:, j]
    used = {id_col, split_col, label, *features, *out}
    for c in frame.columns:  # paths, text, domain, ...: error analysis shows the example
        if c not in used:
            out[c] = part[c].to_numpy()
    return pd.DataFrame(out)


def predictions_table(estimator: Any, data: Any, *, features: Sequence[str] | None = None,
                      label: str = "label", id: str = "id", split_col: str = "split") -> Any:
    """The predictions table of a fitted estimator on every row of a split table.

    Parameters
    ----------
    estimator : fitted scikit-learn classifier
        ``predict_proba`` is used when it exists (``proba_<class>`` columns, in
        ``estimator.classes_`` order); ``predict`` otherwise.
    data : DataFrame or path-like
        A split table (the output of ``mlstrat split``): ``id``, ``split``, the label and the
        feature columns.
    features : str or sequence of str, default=None
        Feature columns, in the order the estimator was fitted on; default: every numeric
        column other than id, split and label.
    label, id, split_col : str
        Column names.

    Returns
    -------
    pandas.DataFrame
        ``id``, ``split``, ``y_true``, ``y_pred``, ``proba_<class>``, then the pass-through
        columns (paths, text, ...), ready for ``mlstrat.diagnose`` and ``mlstrat errors``.
    """
    frame = _frame(data).reset_index(drop=True)
    _check(frame, label=label, id_col=id, split_col=split_col)
    names = _features(frame, features, used=(id, split_col, label))
    X = frame[names]
    rows = np.ones(len(frame), dtype=bool)
    if hasattr(estimator, "predict_proba"):
        proba = np.asarray(estimator.predict_proba(X))
        classes = list(estimator.classes_)
        y_pred = np.asarray(classes, dtype=object)[proba.argmax(axis=1)]
        y_pred = np.asarray(y_pred.tolist())
    else:
        proba, classes, y_pred = None, [], np.asarray(estimator.predict(X))
    return _table(frame, rows, classes, y_pred, proba, label=label, id_col=id, split_col=split_col,
                  features=names)


def out_of_fold_predictions(estimator: Any, data: Any, *, features: Sequence[str] | None = None,
                            label: str = "label", id: str = "id", split_col: str = "split",
                            n_splits: int = 5, seed: int = 0) -> Any:
    """Out-of-fold probabilities of the **train** rows, for ``mlstrat labels --split train``.

    Each train row is predicted by a clone of ``estimator`` fitted on the other folds of
    train (stratified K-fold); dev, train-dev and test rows are neither used nor returned, so
    looking for label issues never peeks at the sets the method keeps for evaluation.

    Returns
    -------
    pandas.DataFrame
        The predictions table of the train rows (``split = "train"``) with out-of-sample
        ``proba_<class>`` columns.
    """
    from sklearn.base import clone
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    if isinstance(n_splits, bool) or int(n_splits) != n_splits or n_splits < 2:
        raise ConfigError(f"n_splits: {n_splits!r} must be a whole number >= 2")
    frame = _frame(data).reset_index(drop=True)
    _check(frame, label=label, id_col=id, split_col=split_col)
    names = _features(frame, features, used=(id, split_col, label))
    rows = (frame[split_col].astype(str) == "train").to_numpy()
    y = frame.loc[rows, label].to_numpy()
    smallest = int(np.unique(y, return_counts=True)[1].min()) if rows.any() else 0
    if smallest < n_splits:
        raise InputError(f"split table: a class has {smallest} train row(s), fewer than n_splits={n_splits}; "
                         "lower n_splits or add train rows of that class")
    cv = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    model = clone(estimator)
    proba = cross_val_predict(model, frame.loc[rows, names], y, cv=cv, method="predict_proba")
    classes = np.unique(y)  # cross_val_predict orders columns by the sorted labels
    y_pred = np.asarray(classes[proba.argmax(axis=1)].tolist())
    return _table(frame, rows, list(classes), y_pred, proba, label=label, id_col=id, split_col=split_col,
                  features=names)


@dataclass(frozen=True)
class TrainDevCV:
    """The method's train vs dev as a scikit-learn splitter.

    Attributes
    ----------
    cv : sklearn.model_selection.PredefinedSplit
        One split: fit on the train rows, score on the dev rows.
    rows : numpy.ndarray of int
        Positions of the train and dev rows in the split table: fit the search on
        ``X[rows], y[rows]`` (train-dev and test rows are left out, never scored).
    """

    cv: Any
    rows: np.ndarray

    def __repr__(self) -> str:
        n_dev = int((self.cv.test_fold == 0).sum())
        return f"TrainDevCV(train={len(self.rows) - n_dev}, dev={n_dev})"


def train_dev_cv(data: Any, *, split_col: str = "split") -> TrainDevCV:
    """A ``PredefinedSplit`` so that ``GridSearchCV`` tunes on the method's dev set.

    Examples
    --------
    >>> tdcv = train_dev_cv(split_table)                                 # doctest: +SKIP
    >>> GridSearchCV(model, grid, cv=tdcv.cv).fit(X[tdcv.rows], y[tdcv.rows])  # doctest: +SKIP
    """
    from sklearn.model_selection import PredefinedSplit

    frame = _frame(data).reset_index(drop=True)
    if split_col not in frame.columns:
        raise InputError(f"split table: missing split column {split_col!r}")
    split = frame[split_col].astype(str).to_numpy()
    rows = np.flatnonzero((split == "train") | (split == "dev"))
    for name in ("train", "dev"):
        if not (split == name).any():
            raise InputError(f"split table: no {name!r} rows; tuning needs train rows to fit and dev rows to score")
    fold = np.where(split[rows] == "dev", 0, -1)  # -1: always in the fitting part
    return TrainDevCV(cv=PredefinedSplit(fold), rows=rows)

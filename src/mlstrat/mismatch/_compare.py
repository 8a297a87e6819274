"""Misclassified dev rows against the training rows: a domain classifier per side (misclassified
vs train, correctly classified vs train as the baseline) says whether the errors come from rows
unlike the training data, and which features make them so.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mlstrat._exceptions import InputError
from mlstrat.mismatch._adversarial import MIN_AUC_ROWS, _cross_validate, _few_rows_note, _shifts
from mlstrat.mismatch._auc import Auc, delong_auc
from mlstrat.mismatch._features import (
    FeatureMatrix,
    FeatureSpec,
    build_features,
    manifest_bases,
)
from mlstrat.mismatch._result import ErrorComparison, FeatureShift
from mlstrat.mismatch._rows import as_text


def _error_rows(
    predictions: Any, data: Any, *, name: str, id_col: str, id_present: bool, con: Any
) -> tuple[list[int], list[int], list[int]]:
    """Manifest row numbers of the misclassified dev, correct dev and train rows of a predictions table."""
    from mlstrat.tables import PREDICTION_COLUMNS, read_predictions

    if not id_present:
        raise InputError(
            f"{name}: comparing with predictions needs the manifest's id column {id_col!r}"
        )
    preds = read_predictions(predictions, con=con, require_id=True, columns=PREDICTION_COLUMNS)
    rows = preds.table.select("id", "split", "y_true", "y_pred").to_pyarrow().to_pylist()
    index = {v: i for i, v in enumerate(as_text(data.column(id_col).to_pylist()))}
    wanted = [r for r in rows if r["split"] in ("train", "dev")]
    missing = [str(r["id"]) for r in wanted if str(r["id"]) not in index]
    if missing:
        raise InputError(
            f"{preds.source}: {len(missing)} train/dev id(s) are not in the manifest {name}, "
            f"e.g. {', '.join(missing[:3])}; the predictions must come from this manifest"
        )
    wrong = [
        index[str(r["id"])] for r in wanted if r["split"] == "dev" and r["y_true"] != r["y_pred"]
    ]
    right = [
        index[str(r["id"])] for r in wanted if r["split"] == "dev" and r["y_true"] == r["y_pred"]
    ]
    train = [index[str(r["id"])] for r in wanted if r["split"] == "train"]
    if not train:
        raise InputError(
            f"{preds.source}: no 'train' rows; the comparison needs the training rows' predictions"
        )
    return wrong, right, train


def _compare_errors(
    error_rows: tuple[list[int], list[int], list[int]],
    data: Any,
    *,
    fm_spec: FeatureSpec,
    manifest: Any,
    name: str,
    folds: int,
    seed: int,
    top: int,
    importance_repeats: int,
    level: float,
    group: str | None,
    notes: list[str],
) -> ErrorComparison | None:
    import pyarrow as pa

    wrong, right, train = error_rows
    if len(wrong) < 2:
        notes.append(
            f"only {len(wrong)} misclassified dev row(s): no comparison with the training rows"
        )
        return None
    take = np.array(wrong + right + train)
    fm = build_features(
        data.take(pa.array(take)), fm_spec, source=name, bases=manifest_bases(manifest)
    )
    groups_all = as_text(data.column(group).to_pylist()) if group else None
    n_w, n_r = len(wrong), len(right)
    X_w, X_r, X_t = fm.X[:n_w], fm.X[n_w : n_w + n_r], fm.X[n_w + n_r :]
    g = (lambda idx: groups_all[np.array(idx)]) if groups_all is not None else (lambda idx: None)

    def side(
        X_pos: np.ndarray, pos_idx: list[int], importance: int
    ) -> tuple[Auc, tuple[FeatureShift, ...]]:
        X = np.concatenate([X_pos, X_t])
        y = np.concatenate([np.ones(len(X_pos), dtype=int), np.zeros(len(X_t), dtype=int)])
        grp = None if groups_all is None else np.concatenate([g(pos_idx), g(train)])
        cv = _cross_validate(
            X,
            y,
            folds=folds,
            seed=seed,
            groups=grp,
            importance_repeats=importance,
            what="misclassified dev rows vs train rows",
        )
        return delong_auc(y, cv.oof, level=level), _shifts(
            FeatureMatrix(X, fm.names, fm.kind), y, cv, top
        )

    auc_w, shifts = side(X_w, wrong, importance_repeats)
    auc_r = side(X_r, right, 0)[0] if n_r >= 2 else None
    if n_w < MIN_AUC_ROWS:
        notes.append(_few_rows_note(n_w, "misclassified dev rows", auc_w))
    return ErrorComparison(
        n_misclassified=n_w,
        n_correct=n_r,
        n_train=len(train),
        auc_misclassified=auc_w,
        auc_correct=auc_r,
        top_features=shifts,
    )

"""Misclassified dev rows against the training rows: a domain classifier per side (misclassified
vs train, correctly classified vs train as the baseline) says whether the errors come from rows
unlike the training data, and which features make them so.
"""

from __future__ import annotations

from dataclasses import dataclass
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


@dataclass(frozen=True)
class _ErrorRows:
    """The manifest rows of the misclassified dev, correct dev and train predictions: how many
    there are, and (up to the sample per kind) their features' columns."""

    counts: dict[str, int]  # "wrong", "right", "train" -> rows
    rows: Any  # pyarrow: the rows read, with their kind in column _mlstrat_kind


_KIND = "_mlstrat_kind"


def _error_rows(predictions: Any, table: Any, *, engine: Any, name: str, id_col: str, id_present: bool,
                group: str | None, con: Any, sample: int | None, seed: int) -> _ErrorRows:
    """The predictions joined to the manifest by the engine: the counts per kind are aggregates,
    and only a hashed sample of each kind reaches this process."""
    import ibis

    from mlstrat.mismatch._sample import hashed_sample, sample_salt
    from mlstrat.tables import PREDICTION_COLUMNS, read_predictions

    if not id_present:
        raise InputError(
            f"{name}: comparing with predictions needs the manifest's id column {id_col!r}"
        )
    preds = read_predictions(predictions, con=con, require_id=True, columns=PREDICTION_COLUMNS)
    p = preds.table
    p = p.filter(p.split.isin(["train", "dev"]))
    dev = p.split == "dev"
    kind = ibis.cases((dev & ~p.y_true.identical_to(p.y_pred), "wrong"), (dev, "right"), else_="train")
    keyed = p.select(_mlstrat_pid=p.id.cast("string"), **{_KIND: kind})
    manifest = table.mutate(_mlstrat_mid=table[id_col].cast("string"))
    _check_ids(engine, keyed, manifest, source=preds.source, name=name)
    joined = keyed.inner_join(manifest, keyed._mlstrat_pid == manifest._mlstrat_mid)
    joined = joined.drop("_mlstrat_pid", "_mlstrat_mid")
    counts = {k: 0 for k in ("wrong", "right", "train")}
    counts.update({k: int(n) for k, n in engine.rows(joined.group_by(_KIND).aggregate(n=joined.count()))})
    if not counts["train"]:
        raise InputError(
            f"{preds.source}: no 'train' rows; the comparison needs the training rows' predictions"
        )
    import pyarrow as pa

    n = sample if sample is not None else max(counts.values())
    parts = [engine.to_arrow(hashed_sample(engine, joined.filter(joined[_KIND] == k), key=group or id_col,
                                           n=n, salt=sample_salt(seed)))
             for k in ("wrong", "right", "train")]
    return _ErrorRows(counts, pa.concat_tables(parts))


def _check_ids(engine: Any, keyed: Any, manifest: Any, *, source: str, name: str) -> None:
    """Every train/dev prediction's id is in the manifest (an anti-join counted by the engine)."""
    missing = keyed.anti_join(manifest, keyed._mlstrat_pid == manifest._mlstrat_mid)
    n = int(engine.scalar(missing.count()))
    if n:
        shown = [str(r[0]) for r in engine.rows(missing.select("_mlstrat_pid").order_by("_mlstrat_pid").limit(3))]
        raise InputError(
            f"{source}: {n} train/dev id(s) are not in the manifest {name}, "
            f"e.g. {', '.join(shown)}; the predictions must come from this manifest"
        )


def _compare_errors(
    error_rows: _ErrorRows,
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
    counts, rows = error_rows.counts, error_rows.rows
    if counts["wrong"] < 2:
        notes.append(
            f"only {counts['wrong']} misclassified dev row(s): no comparison with the training rows"
        )
        return None
    kinds = as_text(rows.column(_KIND).to_pylist())
    fm = build_features(rows, fm_spec, source=name, bases=manifest_bases(manifest))
    groups_all = as_text(rows.column(group).to_pylist()) if group else None
    wrong, right, train = (np.flatnonzero(kinds == k) for k in ("wrong", "right", "train"))
    n_w, n_r = len(wrong), len(right)
    X_w, X_r, X_t = fm.X[wrong], fm.X[right], fm.X[train]
    g = (lambda idx: groups_all[idx]) if groups_all is not None else (lambda idx: None)

    def side(
        X_pos: np.ndarray, pos_idx: np.ndarray, importance: int
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
        n_misclassified=counts["wrong"],
        n_correct=counts["right"],
        n_train=counts["train"],
        auc_misclassified=auc_w,
        auc_correct=auc_r,
        top_features=shifts,
    )

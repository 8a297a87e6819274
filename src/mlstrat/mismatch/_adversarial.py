"""The domain classifier (adversarial validation): a gradient-boosted classifier, cross-validated
(by group when given), that tells one side's rows from the other's. Its out-of-fold probabilities
give the ROC AUC; permutation importances on the held-out folds, with a two-sample KS test per
feature, name the features that separate the sides.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from mlstrat._exceptions import InputError
from mlstrat.mismatch._auc import Auc, delong_auc
from mlstrat.mismatch._features import (
    FeatureMatrix,
)
from mlstrat.mismatch._result import FeatureShift
from mlstrat.mismatch._stats import STAT_HINTS

__all__ = ["MIN_AUC_ROWS", "domain_auc"]


_MAX_IMPORTANCE_ROWS = 2000  # held-out rows per fold used for permutation importance


_MAX_IMPORTANCE_FEATURES = 100  # beyond this, only the features with the largest KS are permuted


def _threads() -> int:
    """OpenMP threads per classifier: ``MLSTRAT_THREADS``, else 1. Oversubscribed OpenMP is far
    slower than one thread (measured 3.2 s vs 0.43 s per fit on a busy 2-core machine)."""
    try:
        return max(1, int(os.environ.get("MLSTRAT_THREADS", "1")))
    except ValueError:
        return 1


#: below this many rows on the smaller side, an AUC (and its asymptotic interval) means little
MIN_AUC_ROWS = 30


def _few_rows_note(n: int, what: str, auc: Auc) -> str:
    return (f"only {n} {what}: the AUC {auc.value:.2f} ({auc.level:.0%} CI {auc.ci_low:.2f}-{auc.ci_high:.2f}) means little "
            f"with fewer than {MIN_AUC_ROWS} rows on a side (the interval is an asymptotic approximation); "
            "collect more rows before acting on it")


def _strength(auc: Auc) -> str:
    if auc.ci_low <= 0.5:
        return "none"
    if auc.value < 0.6:
        return "slight"
    if auc.value < 0.75:
        return "moderate"
    return "strong"


@dataclass(frozen=True)
class _CvResult:
    oof: np.ndarray  # (N,) out-of-fold probability of the positive class
    folds: int
    importance: np.ndarray | None  # (F,) mean held-out AUC drop, NaN for features not permuted
    importance_std: np.ndarray | None


def _n_folds(y: np.ndarray, groups: np.ndarray | None, folds: int, what: str) -> int:
    counts = [int((y == k).sum()) if groups is None else len(set(groups[y == k])) for k in (0, 1)]
    unit = "rows" if groups is None else "groups"
    if min(counts) < 2:
        raise InputError(
            f"{what}: needs at least 2 {unit} on each side to cross-validate; "
            f"got {counts[1]} target and {counts[0]} source {unit}"
        )
    return max(2, min(folds, min(counts)))


def _cross_validate(
    X: np.ndarray,
    y: np.ndarray,
    *,
    folds: int,
    seed: int,
    groups: np.ndarray | None = None,
    importance_repeats: int = 0,
    what: str = "domain classifier",
) -> _CvResult:
    """Out-of-fold probabilities (and permutation importances on the held-out folds)."""
    from scipy.stats import ks_2samp
    from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold
    from threadpoolctl import threadpool_limits

    k = _n_folds(y, groups, folds, what)
    if groups is None:
        splits = list(StratifiedKFold(n_splits=k, shuffle=True, random_state=seed).split(X, y))
    else:
        splits = list(
            StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed).split(X, y, groups)
        )
    n_features = X.shape[1]
    permuted = np.arange(n_features)
    if importance_repeats and n_features > _MAX_IMPORTANCE_FEATURES:
        ks = np.array(
            [
                ks_2samp(*_sides(X[:, j], y)).statistic if _sides_ok(X[:, j], y) else 0.0
                for j in range(n_features)
            ]
        )
        permuted = np.sort(np.argsort(-ks)[:_MAX_IMPORTANCE_FEATURES])
    oof = np.full(len(y), np.nan)
    drops: list[np.ndarray] = []
    rng = np.random.default_rng(seed)
    with threadpool_limits(_threads()):
        for train_idx, test_idx in splits:
            _fit_fold(
                X, y, train_idx, test_idx, oof, drops, rng, permuted, importance_repeats, seed
            )
    if not drops:
        return _CvResult(oof, k, None, None)
    stacked = np.concatenate(drops, axis=1)  # (F, folds * repeats)
    return _CvResult(oof, k, stacked.mean(axis=1), stacked.std(axis=1))


def domain_classifier(n_train: int, seed: int) -> Any:
    """The gradient-boosted classifier of every fold (unfitted), for ``n_train`` training rows."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    # small sets (a few dozen images) need smaller leaves than the default 20 to split at all
    leaf = max(1, min(20, n_train // 20))
    return HistGradientBoostingClassifier(
        max_iter=100,
        learning_rate=0.1,
        max_leaf_nodes=15,
        min_samples_leaf=leaf,
        early_stopping=False,
        random_state=seed,
    )


def _fit_fold(
    X: np.ndarray,
    y: np.ndarray,
    train_idx: np.ndarray,
    test_idx: np.ndarray,
    oof: np.ndarray,
    drops: list[np.ndarray],
    rng: np.random.Generator,
    permuted: np.ndarray,
    importance_repeats: int,
    seed: int,
) -> None:
    """Fit one fold; fill its out-of-fold probabilities; append its importance drops (F, repeats)."""
    model = domain_classifier(len(train_idx), seed)
    model.fit(X[train_idx], y[train_idx])
    oof[test_idx] = model.predict_proba(X[test_idx])[:, 1]
    if importance_repeats and len(set(y[test_idx])) == 2:
        sub = (
            test_idx
            if len(test_idx) <= _MAX_IMPORTANCE_ROWS
            else np.sort(rng.choice(test_idx, _MAX_IMPORTANCE_ROWS, replace=False))
        )
        if len(set(y[sub])) < 2:
            sub = test_idx
        drops.append(_permutation_drops(model, X[sub], y[sub], permuted, importance_repeats, rng))


def _auc(y: np.ndarray, score: np.ndarray) -> float:
    """ROC AUC by midranks (Mann-Whitney U / (m n))."""
    from scipy.stats import rankdata

    pos = y == 1
    m, n = int(pos.sum()), int((~pos).sum())
    return float((rankdata(score)[pos].sum() - m * (m + 1) / 2) / (m * n))


def _permutation_drops(
    model: Any,
    X: np.ndarray,
    y: np.ndarray,
    permuted: np.ndarray,
    repeats: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Drop in held-out AUC when one column is shuffled: (F, repeats), NaN for columns not permuted.

    The permuted copies are scored in large batches (one predict call per chunk), which is far
    cheaper than one call and one scorer validation per feature and repeat."""
    out = np.full((X.shape[1], repeats), np.nan)
    base = _auc(y, model.predict_proba(X)[:, 1])
    tasks = [(j, r) for j in permuted for r in range(repeats)]
    per_chunk = max(1, 4_000_000 // max(1, X.size))  # keeps a chunk near 4M values
    for start in range(0, len(tasks), per_chunk):
        chunk = tasks[start : start + per_chunk]
        big = np.tile(X, (len(chunk), 1))  # (len(chunk) * N, F)
        for b, (j, _) in enumerate(chunk):
            big[b * len(X) : (b + 1) * len(X), j] = X[rng.permutation(len(X)), j]
        scores = model.predict_proba(big)[:, 1].reshape(len(chunk), len(X))
        for b, (j, r) in enumerate(chunk):
            out[j, r] = base - _auc(y, scores[b])
    return out


def _sides(values: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ok = ~np.isnan(values)
    return values[ok & (y == 1)], values[ok & (y == 0)]


def _sides_ok(values: np.ndarray, y: np.ndarray) -> bool:
    a, b = _sides(values, y)
    return len(a) > 0 and len(b) > 0


def _shifts(fm: FeatureMatrix, y: np.ndarray, cv: _CvResult, top: int) -> tuple[FeatureShift, ...]:
    from scipy.stats import ks_2samp

    if cv.importance is None:
        return ()
    imp = np.where(np.isnan(cv.importance), -np.inf, cv.importance)
    ks: list[tuple[float, float]] = []
    for j in range(len(fm.names)):
        tgt, src = _sides(fm.X[:, j], y)
        if len(tgt) and len(src) and np.isfinite(imp[j]):
            res = ks_2samp(tgt, src)
            ks.append((float(res.statistic), float(res.pvalue)))
        else:
            ks.append((float("nan"), float("nan")))
    ks_stat = np.nan_to_num(np.array([k[0] for k in ks]), nan=-1.0)
    # importance first; the KS statistic breaks ties, which are common when a few features
    # separate the domains perfectly and permuting any single other one changes nothing
    order = np.lexsort((-ks_stat, -np.round(imp, 6)))[:top]
    out = []
    for j in order:
        if not np.isfinite(imp[j]):
            continue
        tgt, src = _sides(fm.X[:, j], y)
        stat, pvalue = ks[j]
        out.append(
            FeatureShift(
                feature=fm.names[j],
                importance=float(cv.importance[j]),
                importance_std=float(cv.importance_std[j]),
                ks=stat,
                ks_pvalue=pvalue,
                mean_source=float(np.mean(src)) if len(src) else float("nan"),
                mean_target=float(np.mean(tgt)) if len(tgt) else float("nan"),
                hint=STAT_HINTS.get(fm.names[j]),
            )
        )
    return tuple(out)


def domain_auc(
    X_target: np.ndarray,
    X_source: np.ndarray,
    *,
    folds: int = 5,
    seed: int = 0,
    groups: np.ndarray | None = None,
) -> Auc:
    """Cross-validated domain-classifier AUC of target rows vs source rows (no importances)."""
    X = np.concatenate([X_target, X_source])
    y = np.concatenate([np.ones(len(X_target), dtype=int), np.zeros(len(X_source), dtype=int)])
    cv = _cross_validate(X, y, folds=folds, seed=seed, groups=groups)
    return delong_auc(y, cv.oof)

"""The domain classifier (adversarial validation): how the training data differs from the target.

A gradient-boosted classifier learns to tell target rows (e.g. ``domain == "app"``) from source
rows; its cross-validated (out-of-fold) probabilities give the ROC AUC (0.5 = the domains
cannot be told apart), its permutation importances on the held-out folds name the features
that separate the domains, and ``p / (1 - p)`` on each source row is that row's
target-likeness (the importance weight for reweighting or selecting training data).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mlstrat._exceptions import InputError, MlstratWarning
from mlstrat._numbers import did_you_mean
from mlstrat.display._repr import NotebookRepr
from mlstrat.mismatch._auc import Auc, delong_auc
from mlstrat.mismatch._features import (
    FeatureMatrix,
    FeatureSpec,
    build_features,
    feature_columns,
    manifest_bases,
)
from mlstrat.mismatch._stats import STAT_HINTS

__all__ = ["MismatchReport", "FeatureShift", "ErrorComparison", "analyze_mismatch", "domain_auc"]

_EPS = 1e-6  # probabilities are clipped to [eps, 1 - eps] before p / (1 - p)
_MAX_IMPORTANCE_ROWS = 2000  # held-out rows per fold used for permutation importance
_MAX_IMPORTANCE_FEATURES = 100  # beyond this, only the features with the largest KS are permuted


def _threads() -> int:
    """OpenMP threads per classifier: ``MLSTRAT_THREADS``, else 1. Oversubscribed OpenMP is far
    slower than one thread (measured 3.2 s vs 0.43 s per fit on a busy 2-core machine)."""
    try:
        return max(1, int(os.environ.get("MLSTRAT_THREADS", "1")))
    except ValueError:
        return 1


@dataclass(frozen=True)
class FeatureShift:
    """One feature that separates the domains."""

    feature: str
    importance: float  # mean drop in held-out AUC when the feature is permuted
    importance_std: float
    ks: float  # two-sample Kolmogorov-Smirnov statistic, target vs source
    ks_pvalue: float
    mean_source: float
    mean_target: float
    hint: str | None = None  # what an image statistic usually reflects

    def to_dict(self) -> dict[str, Any]:
        return {
            "feature": self.feature,
            "importance": self.importance,
            "importance_std": self.importance_std,
            "ks": self.ks,
            "ks_pvalue": self.ks_pvalue,
            "mean_source": self.mean_source,
            "mean_target": self.mean_target,
            "hint": self.hint,
        }


@dataclass(frozen=True)
class ErrorComparison:
    """Misclassified dev rows compared with the training rows (error analysis of mismatch)."""

    n_misclassified: int
    n_correct: int
    n_train: int
    auc_misclassified: Auc  # domain classifier: misclassified dev rows vs train rows
    auc_correct: Auc | None  # the same for the correctly classified dev rows (the baseline)
    top_features: tuple[FeatureShift, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "n_misclassified": self.n_misclassified,
            "n_correct": self.n_correct,
            "n_train": self.n_train,
            "auc_misclassified": self.auc_misclassified.to_dict(),
            "auc_correct": self.auc_correct.to_dict() if self.auc_correct else None,
            "top_features": [f.to_dict() for f in self.top_features],
        }


@dataclass(frozen=True)
class MismatchReport(NotebookRepr):
    """What :func:`analyze_mismatch` found. ``weights`` (a pyarrow table, one row per source row:
    id, domain, p_target, target_likeness, weight) is not part of :meth:`to_dict`."""

    domain: str
    target: str
    source: tuple[str, ...]
    n_target: int
    n_source: int
    feature_kind: str
    n_features: int
    folds: int
    grouped_by: str | None
    seed: int
    auc: Auc
    strength: str  # "none", "slight", "moderate", "strong"
    top_features: tuple[FeatureShift, ...]
    likeness: dict[str, float]
    errors: ErrorComparison | None = None
    warnings: tuple[str, ...] = ()
    weights: Any = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "domain": self.domain,
            "target": self.target,
            "source": list(self.source),
            "n_target": self.n_target,
            "n_source": self.n_source,
            "features": {"kind": self.feature_kind, "n": self.n_features},
            "classifier": {
                "model": "HistGradientBoostingClassifier",
                "folds": self.folds,
                "grouped_by": self.grouped_by,
                "seed": self.seed,
            },
            "auc": self.auc.to_dict(),
            "strength": self.strength,
            "top_features": [f.to_dict() for f in self.top_features],
            "target_likeness": self.likeness,
            "errors": self.errors.to_dict() if self.errors else None,
            "warnings": list(self.warnings),
        }

    def write_weights(
        self, path: str | os.PathLike, *, force: bool = False, inputs: Sequence[Any] = (), con: Any = None
    ) -> Path:
        """Write the per-source-row target-likeness table (Parquet, CSV or JSONL by suffix);
        ``con`` picks the engine that writes (the process-wide one by default)."""
        from mlstrat.tables import write_table

        return write_table(self.weights, path, force=force, inputs=inputs, con=con)


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
    from sklearn.ensemble import HistGradientBoostingClassifier

    # small sets (a few dozen images) need smaller leaves than the default 20 to split at all
    leaf = max(1, min(20, len(train_idx) // 20))
    model = HistGradientBoostingClassifier(
        max_iter=100,
        learning_rate=0.1,
        max_leaf_nodes=15,
        min_samples_leaf=leaf,
        early_stopping=False,
        random_state=seed,
    )
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


def _as_text(values: list[Any]) -> np.ndarray:
    return np.array([None if v is None else str(v) for v in values], dtype=object)


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


def analyze_mismatch(
    manifest: Any,
    *,
    domain: str,
    target: str,
    features: Sequence[str] | None = None,
    feature_prefix: str | None = None,
    image_col: str | None = None,
    embedding_col: str | None = None,
    predictions: Any = None,
    folds: int = 5,
    seed: int = 0,
    con: Any = None,
    source: str | Sequence[str] | None = None,
    image_shape: Sequence[int] | None = None,
    value_range: tuple[float, float] | None = None,
    group: str | None = None,
    id_col: str = "id",
    top: int = 10,
    importance_repeats: int = 5,
    level: float = 0.95,
) -> MismatchReport:
    """Find how the target rows differ from the source rows with a domain classifier.

    Parameters
    ----------
    manifest : path-like or table
        One row per example (see :func:`mlstrat.read_table` for the accepted inputs).
    domain : str
        Column that says where each row comes from (e.g. ``"domain"``; ``"split"`` works too).
    target : str
        Value of ``domain`` that marks the target rows (e.g. ``"app"``); compared as text.
    features : sequence of str, default=None
        Numeric feature columns.
    feature_prefix : str, default=None
        Use every column whose name starts with this (e.g. ``"px_"``).
    image_col : str, default=None
        Column of image file paths; the features are image statistics (mean, std, contrast,
        sharpness, gradient, noise, background share). Relative paths are looked up next to
        the manifest file, then in the working directory.
    embedding_col : str, default=None
        Column holding one numeric vector per row.
    predictions : path-like or table, default=None
        A predictions table (``id``, ``split``, ``y_true``, ``y_pred``); adds a comparison of
        the misclassified dev rows with the training rows (:class:`ErrorComparison`).
    folds : int, default=5
        Cross-validation folds (fewer when a side has fewer rows or groups).
    seed : int, default=0
        Seeds the folds, the classifier and the permutations.
    con : ibis DuckDB backend, default=None
        Engine connection; the process-wide one by default.
    source : str or sequence of str, default=None
        Values of ``domain`` that form the source; every other non-empty value by default.
    image_shape : (C, H, W), default=None
        With ``features``/``feature_prefix``: the columns are the pixels of a C x H x W image;
        image statistics are added as features (``img_*``).
    value_range : (float, float), default=None
        Pixel range of those images (e.g. ``(0, 16)`` for the digits); defaults to the data's.
    group : str, default=None
        Column of groups (writer, patient...): folds never split a group, so the classifier
        cannot score by recognizing a group it saw in training.
    id_col : str, default="id"
        Row id written with the target-likeness (the row number when the column is absent).
    top : int, default=10
        Number of features reported.
    importance_repeats : int, default=5
        Permutations per feature and fold.
    level : float, default=0.95
        Confidence level of the AUC interval (DeLong).

    Returns
    -------
    MismatchReport

    Raises
    ------
    InputError
        Missing columns, a target value absent from ``domain``, missing image files, too few
        rows on a side.
    ConfigError
        No or several feature sources, an image shape that does not match the features.
    """
    from mlstrat.tables import describe_source, read_table, require_columns, select_columns, source_columns

    spec = FeatureSpec(
        features=tuple(features) if features else None,
        feature_prefix=feature_prefix,
        image_col=image_col,
        embedding_col=embedding_col,
        image_shape=tuple(image_shape) if image_shape else None,  # type: ignore[arg-type]
        value_range=tuple(value_range) if value_range else None,
    )  # type: ignore[arg-type]
    name = describe_source(manifest)
    # a wide manifest is read for these columns only
    wanted = select_columns(id_col, domain, group, spec.image_col, spec.embedding_col, *(spec.features or ()),
                            prefixes=(spec.feature_prefix,) if spec.feature_prefix else ())
    table = read_table(manifest, con=con, columns=wanted)
    require_columns(table, [domain], source=name, role="domain column")
    require_columns(table, [group], source=name, role="group column")
    cols = feature_columns(source_columns(table), spec, source=name)
    id_present = id_col in table.columns
    keep = list(
        dict.fromkeys([c for c in (id_col if id_present else None, domain, group) if c] + cols)
    )
    data = table.select(*keep).to_pyarrow()

    dom = _as_text(data.column(domain).to_pylist())
    values = sorted({v for v in dom if v is not None})
    target = str(target)
    if target not in values:
        raise InputError(
            f"{name}: column {domain!r} has no rows with value {target!r}"
            f"{did_you_mean(target, values)}; values: {', '.join(values[:20])}"
        )
    if source is None:
        sources = [v for v in values if v != target]
    else:
        sources = [str(source)] if isinstance(source, (str, int)) else [str(s) for s in source]
        for s in sources:
            if s not in values:
                raise InputError(
                    f"{name}: column {domain!r} has no rows with source value {s!r}"
                    f"{did_you_mean(s, values)}; values: {', '.join(values[:20])}"
                )
        if target in sources:
            raise InputError(f"source value {target!r} is also the target; give different values")
    if not sources:
        raise InputError(
            f"{name}: every row of column {domain!r} is {target!r}; there is no source to compare"
        )
    error_rows = (
        _error_rows(predictions, data, name=name, id_col=id_col, id_present=id_present, con=con)
        if predictions is not None
        else None
    )
    is_target = dom == target
    is_source = np.isin(dom, np.array(sources, dtype=object))
    used = is_target | is_source
    sub = data.filter(used)
    fm = build_features(sub, spec, source=name, bases=manifest_bases(manifest))
    y = is_target[used].astype(int)
    groups = _as_text(sub.column(group).to_pylist()) if group else None

    notes: list[str] = []
    cv = _cross_validate(
        fm.X, y, folds=folds, seed=seed, groups=groups, importance_repeats=importance_repeats
    )
    if cv.folds < folds:
        notes.append(f"only {cv.folds} folds were possible (too few rows or groups on one side)")
    auc = delong_auc(y, cv.oof, level=level)
    shifts = _shifts(fm, y, cv, top)
    n_small = int(min(y.sum(), (y == 0).sum()))
    if n_small < MIN_AUC_ROWS:
        side_name = f"{target!r} rows" if y.sum() <= (y == 0).sum() else "source rows"
        notes.append(_few_rows_note(n_small, side_name, auc))

    p = np.clip(cv.oof[y == 0], _EPS, 1 - _EPS)
    like = p / (1 - p)
    weights = _weights_table(
        sub, id_col if id_present else None, domain, y, p, like, np.flatnonzero(used)[y == 0]
    )
    summary = {
        "mean": float(like.mean()),
        "median": float(np.median(like)),
        "p90": float(np.quantile(like, 0.9)),
        "max": float(like.max()),
        "share_above_1": float((like > 1).mean()),
    }

    errors = None
    if error_rows is not None:
        errors = _compare_errors(
            error_rows,
            data,
            fm_spec=spec,
            manifest=manifest,
            name=name,
            folds=folds,
            seed=seed,
            top=top,
            importance_repeats=importance_repeats,
            level=level,
            group=group,
            notes=notes,
        )
    for note in notes:
        warnings.warn(note, MlstratWarning, stacklevel=2)
    return MismatchReport(
        domain=domain,
        target=target,
        source=tuple(sources),
        n_target=int(y.sum()),
        n_source=int((y == 0).sum()),
        feature_kind=fm.kind,
        n_features=len(fm.names),
        folds=cv.folds,
        grouped_by=group,
        seed=seed,
        auc=auc,
        strength=_strength(auc),
        top_features=shifts,
        likeness=summary,
        errors=errors,
        warnings=tuple(notes),
        weights=weights,
    )


def _weights_table(
    sub: Any,
    id_col: str | None,
    domain: str,
    y: np.ndarray,
    p: np.ndarray,
    like: np.ndarray,
    rows: np.ndarray,
) -> Any:
    import pyarrow as pa

    src = sub.filter(pa.array(y == 0))
    ids = src.column(id_col) if id_col else pa.array(rows.astype(np.int64))
    return pa.table(
        {
            id_col or "row": ids,
            domain: src.column(domain),
            "p_target": p,
            "target_likeness": like,
            "weight": like / like.mean(),  # normalized to mean 1 over the source rows
        }
    )


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
    index = {v: i for i, v in enumerate(_as_text(data.column(id_col).to_pylist()))}
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
    groups_all = _as_text(data.column(group).to_pylist()) if group else None
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

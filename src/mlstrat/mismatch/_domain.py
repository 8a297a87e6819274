"""How the training data differs from the target: :func:`analyze_mismatch`.

A domain classifier (:mod:`._adversarial`) learns to tell target rows (e.g. ``domain == "app"``)
from source rows; its cross-validated (out-of-fold) probabilities give the ROC AUC (0.5 = the
domains cannot be told apart), its permutation importances on the held-out folds name the
features that separate the domains, and ``p / (1 - p)`` on each source row is that row's
target-likeness (the importance weight for reweighting or selecting training data). With a
predictions table, the misclassified dev rows are compared with the training rows
(:mod:`._compare`).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from mlstrat._exceptions import ConfigError, InputError, MlstratWarning
from mlstrat._numbers import did_you_mean
from mlstrat.mismatch._adversarial import (
    MIN_AUC_ROWS,
    _cross_validate,
    _CvResult,
    _few_rows_note,
    _shifts,
    _strength,
)
from mlstrat.mismatch._auc import Auc, delong_auc
from mlstrat.mismatch._compare import _compare_errors, _error_rows
from mlstrat.mismatch._features import (
    FeatureMatrix,
    FeatureSpec,
    build_features,
    feature_columns,
    manifest_bases,
)
from mlstrat.mismatch._result import FeatureShift, MismatchReport
from mlstrat.mismatch._rows import as_text
from mlstrat.mismatch._sample import DEFAULT_SAMPLE, count_by_text, hashed_sample, sample_salt
from mlstrat.mismatch._weights import streamed_weights

__all__ = ["analyze_mismatch"]

_EPS = 1e-6  # probabilities are clipped to [eps, 1 - eps] before p / (1 - p)
MIN_SAMPLE = 10  # rows per side below which no classifier can be cross-validated meaningfully


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
    sample: int | None = DEFAULT_SAMPLE,
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
    sample : int or None, default=200_000
        Rows per side (target, source) the classifier learns from: a larger side is sampled by
        the engine with the hashed assignment of ``mlstrat split`` (key: the group, else the id;
        the same rows on every engine and run), so the manifest never reaches this process
        whole. The weights still cover every source row: :meth:`MismatchReport.write_weights`
        scores the rows outside the sample in record batches (a model fitted on the whole
        sample) and the engine writes them. ``None``: every row.

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
    spec = FeatureSpec(features=tuple(features) if features else None, feature_prefix=feature_prefix,
                       image_col=image_col, embedding_col=embedding_col,
                       image_shape=tuple(image_shape) if image_shape else None,  # type: ignore[arg-type]
                       value_range=tuple(value_range) if value_range else None)  # type: ignore[arg-type]
    if sample is not None and sample < MIN_SAMPLE:
        raise ConfigError(f"sample must be at least {MIN_SAMPLE} rows per side; got {sample}",
                          arguments=("sample",))
    from mlstrat.tables import engine_of

    engine = engine_of(con)
    name, table, id_present = _read_manifest(manifest, spec, domain=domain, group=group, id_col=id_col,
                                             con=engine)
    counts = count_by_text(engine, table, domain)
    target = str(target)
    sources = _source_values(np.array(list(counts), dtype=object), target, source, name=name, domain=domain)
    sides = _Sides(domain, target, tuple(sources), counts[target], sum(counts[s] for s in sources), sample)
    if sides.sampled and not id_present:
        raise InputError(f"{name}: {sides.n_target + sides.n_source:,} rows, more than --sample {sample:,} per "
                         f"side, and no id column {id_col!r} to key the sample and the weights; add one or "
                         "raise --sample")
    data = _training_rows(engine, table, sides, key=group or id_col, seed=seed)
    notes: list[str] = []
    fit = _fit_sides(data, spec, sides, manifest=manifest, name=name, group=group, folds=folds, seed=seed,
                     importance_repeats=importance_repeats, level=level, top=top, notes=notes)
    if sides.sampled:
        weights: Any = streamed_weights(engine, table, data, fit, spec, sides, manifest=manifest, name=name,
                                        id_col=id_col, seed=seed)
    else:
        weights = _weights_table(fit.sub, id_col if id_present else None, domain, fit.y, fit.p, fit.like,
                                 np.flatnonzero(fit.used)[fit.y == 0])
    errors = None
    if predictions is not None:
        errors = _compare_errors(
            _error_rows(predictions, table, engine=engine, name=name, id_col=id_col, id_present=id_present,
                        group=group, con=con, sample=sample, seed=seed),
            fm_spec=spec, manifest=manifest, name=name, folds=folds, seed=seed, top=top,
            importance_repeats=importance_repeats, level=level, group=group, notes=notes)
    for note in notes:
        warnings.warn(note, MlstratWarning, stacklevel=2)
    return MismatchReport(
        domain=domain, target=target, source=tuple(sources), n_target=sides.n_target, n_source=sides.n_source,
        feature_kind=fit.fm.kind, n_features=len(fit.fm.names), folds=fit.cv.folds, grouped_by=group, seed=seed,
        auc=fit.auc, strength=_strength(fit.auc), top_features=fit.shifts, likeness=_summary(fit.like),
        errors=errors, warnings=tuple(notes), weights=weights,
        sample=sides.to_dict(int(fit.y.sum()), int((fit.y == 0).sum())),
    )


@dataclass(frozen=True)
class _Sides:
    """The target and source values of the domain column, their rows, and the sample's size."""

    domain: str
    target: str
    sources: tuple[str, ...]
    n_target: int
    n_source: int
    sample: int | None  # rows per side at most; None: every row

    @property
    def sampled(self) -> bool:
        return self.sample is not None and max(self.n_target, self.n_source) > self.sample

    def to_dict(self, target_used: int, source_used: int) -> dict[str, Any]:
        return {"rows_per_side": self.sample, "target_used": target_used, "target_rows": self.n_target,
                "source_used": source_used, "source_rows": self.n_source}


@dataclass(frozen=True)
class _Fit:
    """The domain classifier fitted on the rows read: what it found, and each source row's likeness."""

    sub: Any  # pyarrow: the target and source rows read
    used: np.ndarray  # (N,) bool: rows of the data read that are target or source rows
    y: np.ndarray  # (M,) 1 = target
    fm: FeatureMatrix
    cv: _CvResult
    auc: Auc
    shifts: tuple[FeatureShift, ...]
    p: np.ndarray  # out-of-fold probability of the target, clipped, per source row
    like: np.ndarray  # p / (1 - p) per source row


def _training_rows(engine: Any, table: Any, sides: _Sides, *, key: str, seed: int) -> Any:
    """The rows the classifier learns from, as pyarrow: every row when both sides fit the sample
    (in the manifest's order), else up to ``sample`` hashed rows of each side."""
    import pyarrow as pa

    if not sides.sampled:
        return engine.to_arrow(table)
    dom = table[sides.domain].cast("string")
    salt = sample_salt(seed)
    parts = [engine.to_arrow(hashed_sample(engine, table.filter(where), key=key, n=sides.sample, salt=salt))
             for where in (dom == sides.target, dom.isin(list(sides.sources)))]
    return pa.concat_tables(parts)


def _fit_sides(data: Any, spec: FeatureSpec, sides: _Sides, *, manifest: Any, name: str, group: str | None,
               folds: int, seed: int, importance_repeats: int, level: float, top: int,
               notes: list[str]) -> _Fit:
    """Features of the target and source rows of ``data``, the cross-validated classifier, and
    each source row's out-of-fold target-likeness."""
    dom = as_text(data.column(sides.domain).to_pylist())
    is_target = dom == sides.target
    used = is_target | np.isin(dom, np.array(sides.sources, dtype=object))
    sub = data.filter(used)
    fm = build_features(sub, spec, source=name, bases=manifest_bases(manifest))
    y = is_target[used].astype(int)
    groups = as_text(sub.column(group).to_pylist()) if group else None
    cv, auc, shifts = _classify(fm, y, groups, folds=folds, seed=seed, importance_repeats=importance_repeats,
                                level=level, top=top, target=sides.target, notes=notes)
    p = np.clip(cv.oof[y == 0], _EPS, 1 - _EPS)
    return _Fit(sub, used, y, fm, cv, auc, shifts, p, p / (1 - p))


def _classify(fm: FeatureMatrix, y: np.ndarray, groups: np.ndarray | None, *, folds: int, seed: int,
              importance_repeats: int, level: float, top: int, target: str,
              notes: list[str]) -> tuple[_CvResult, Auc, tuple[FeatureShift, ...]]:
    """The domain classifier, cross-validated: (its folds and out-of-fold probabilities, the AUC
    with its interval, the features that separate the domains)."""
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
    return cv, auc, shifts


def _read_manifest(manifest: Any, spec: FeatureSpec, *, domain: str, group: str | None, id_col: str,
                   con: Any) -> tuple[str, Any, bool]:
    """(the manifest's name, its id, domain, group and feature columns as an engine table, whether
    the id column exists)."""
    from mlstrat.tables import (
        describe_source,
        read_table,
        require_columns,
        select_columns,
        source_columns,
    )

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
    return name, table.select(*keep), id_present


def _source_values(dom: np.ndarray, target: str, source: str | Sequence[str] | None, *, name: str,
                   domain: str) -> list[str]:
    """The values of ``domain`` that form the source (every other one by default), checked
    against the values present."""
    values = sorted({v for v in dom if v is not None})
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
    return sources


def _summary(like: np.ndarray) -> dict[str, float]:
    """The spread of the source rows' target-likeness (those the classifier scored out of fold)."""
    return {
        "mean": float(like.mean()),
        "median": float(np.median(like)),
        "p90": float(np.quantile(like, 0.9)),
        "max": float(like.max()),
        "share_above_1": float((like > 1).mean()),
    }


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

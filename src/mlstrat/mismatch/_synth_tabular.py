"""Synthesis for tabular feature rows: transforms made for columns of numbers, not images.

``jitter`` adds Gaussian noise of ``std`` x each feature's standard deviation (over the rows
synthesized from); ``match`` moves each feature's mean and spread towards the target rows':
``x' = x + alpha (mu_t + (x - mu_s) sd_t / sd_s - x)`` (``alpha = 1``: the first two moments of
every feature match the target's). With ``like``, both strengths are calibrated on a grid to
minimize the mean over features of the Wasserstein-1 distance to the target rows, over the
pooled standard deviation (the same criterion as image statistics).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from mlstrat._exceptions import InputError

__all__ = ["TABULAR_TRANSFORMS", "TABULAR_CALIBRATED", "synth_tabular"]

#: transform -> default parameters
TABULAR_TRANSFORMS: dict[str, dict[str, float]] = {"jitter": {"std": 0.1}, "match": {"alpha": 1.0}}
#: transform -> (parameter, grid searched by ``like``)
TABULAR_CALIBRATED: dict[str, tuple[str, tuple[float, ...]]] = {
    "jitter": ("std", tuple(np.round(np.linspace(0.0, 0.5, 11), 3))),
    "match": ("alpha", tuple(np.round(np.linspace(0.0, 1.0, 11), 3))),
}


class _Moments:
    """Per-feature mean and standard deviation of the source and target rows."""

    def __init__(self, source: np.ndarray, target: np.ndarray | None) -> None:
        self.mu_s, self.sd_s = source.mean(axis=0), source.std(axis=0)
        self.mu_t = target.mean(axis=0) if target is not None else self.mu_s
        self.sd_t = target.std(axis=0) if target is not None else self.sd_s


def apply_tabular(X: np.ndarray, names: Sequence[str], params: Mapping[str, Mapping[str, float]],
                  moments: _Moments, rng: np.random.Generator) -> np.ndarray:
    """Apply the transforms in order to rows ``X`` (N, F)."""
    out = X.astype(np.float64, copy=True)
    for name in names:
        p = params[name]
        if name == "jitter":
            out = out + rng.normal(0.0, 1.0, size=out.shape) * (p["std"] * moments.sd_s)
        else:
            ratio = np.divide(moments.sd_t, moments.sd_s, out=np.ones_like(moments.sd_s), where=moments.sd_s > 0)
            matched = moments.mu_t + (out - moments.mu_s) * ratio
            out = out + p["alpha"] * (matched - out)
    return out


def _distance(a: np.ndarray, b: np.ndarray, scale: np.ndarray) -> float:
    from scipy.stats import wasserstein_distance

    return float(np.mean([wasserstein_distance(a[:, j], b[:, j]) / scale[j] for j in range(a.shape[1])]))


def calibrate_tabular(X_src: np.ndarray, X_tgt: np.ndarray, names: Sequence[str], params: dict,
                      fixed: set[tuple[str, str]], moments: _Moments, seed: int) -> tuple[dict, float, float]:
    """Coordinate search over the free strengths (three sweeps), common random numbers."""
    from mlstrat.mismatch._calibrate import coordinate_search

    scale = np.maximum(np.concatenate([X_src, X_tgt]).std(axis=0), 1e-12)
    free = [(t, *TABULAR_CALIBRATED[t]) for t in names if (t, TABULAR_CALIBRATED[t][0]) not in fixed]

    def distance(p: dict) -> float:
        return _distance(apply_tabular(X_src, names, p, moments, np.random.default_rng(seed + 1)), X_tgt, scale)

    best, best_d = coordinate_search(params, free, distance)
    return best, _distance(X_src, X_tgt, scale), best_d


def synth_tabular(*, name: str, data: Any, sel: Any, cols: list[str], jobs: np.ndarray, rng: np.random.Generator,
                  names: tuple[str, ...], user_params: dict, like: str | None, domain: str, seed: int,
                  folds: int, notes: list[str]) -> tuple[np.ndarray, dict, Any, Any, Any]:
    """(new feature rows (J, F), parameters used, calibration, AUC before, AUC after)."""
    from mlstrat.mismatch._adversarial import domain_auc
    from mlstrat.mismatch._calibrate import Calibration
    from mlstrat.mismatch._rows import as_text

    X = np.column_stack([np.asarray(data.column(c).to_numpy(zero_copy_only=False), dtype=np.float64) for c in cols])
    if not np.isfinite(X).all():
        raise InputError(f"{name}: feature columns have empty/NaN values; fill or drop those rows to synthesize")
    target_idx = np.flatnonzero(sel.is_target)
    X_src = X[sel.base_idx]
    moments = _Moments(X_src, X[target_idx] if like is not None and len(target_idx) else None)
    params = {t: {**TABULAR_TRANSFORMS[t], **user_params.get(t, {})} for t in names}
    calibration = before = after = None
    if like is not None:
        if len(target_idx) < 2:
            raise InputError(f"{name}: only {len(target_idx)} {domain} = {like!r} row(s) outside test; "
                             "need at least 2 to calibrate against")
        fixed = {(t, p) for t, ps in user_params.items() for p in ps}
        params, d0, d1 = calibrate_tabular(X_src, X[target_idx], names, params, fixed, moments, seed)
        calibration = Calibration(like=str(like), n_target=len(target_idx),
                                  params={t: {TABULAR_CALIBRATED[t][0]: params[t][TABULAR_CALIBRATED[t][0]]}
                                          for t in names if (t, TABULAR_CALIBRATED[t][0]) not in fixed},
                                  distance_before=d0, distance_after=d1)
    new = apply_tabular(X[jobs], names, params, moments, rng)
    if like is not None:
        groups = as_text(data.column(sel.group).to_pylist()) if sel.group else None
        grp = (lambda a, b: None) if groups is None else (lambda a, b: np.concatenate([groups[a], groups[b]]))
        before = domain_auc(X[target_idx], X_src, folds=folds, seed=seed, groups=grp(target_idx, sel.base_idx))
        after = domain_auc(X[target_idx], new, folds=folds, seed=seed, groups=grp(target_idx, jobs))
    return new, params, calibration, before, after

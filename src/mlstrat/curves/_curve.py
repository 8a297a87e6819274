"""Learning curves against training-set size with any scikit-learn estimator.

The estimator is cloned and fitted on nested subsets of train (the first ``k`` rows of one
seeded permutation, so each subset contains the smaller ones); train and dev figures are
measured at each size, and a power law fitted to the dev curve says what doubling the data
is likely to buy.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from mlstrat.display._repr import NotebookRepr
from mlstrat._exceptions import ConfigError, InputError

__all__ = ["CurvePoint", "LearningCurve", "learning_curve", "parse_curve_sizes", "model_family_of",
           "resolve_sizes"]


@dataclass(frozen=True)
class CurvePoint:
    """Train and dev figures (with 95% intervals) at one training-set size."""

    size: int
    train: tuple[float, float, float]  # value, ci_low, ci_high
    dev: tuple[float, float, float]

    def to_dict(self) -> dict[str, Any]:
        def est(t: tuple[float, float, float]) -> dict[str, float]:
            return {"value": t[0], "ci_low": t[1], "ci_high": t[2]}

        return {"size": self.size, "train": est(self.train), "dev": est(self.dev)}


@dataclass(frozen=True)
class LearningCurve(NotebookRepr):
    """The curve, its power-law fit and a one-sentence reading of its shape."""

    metric: str
    points: tuple[CurvePoint, ...]
    human_level: float | None
    fit: Any  # PowerLawFit or None (fewer than 3 usable sizes)
    reading: str
    model_family: str = "other"
    warnings: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {"metric": self.metric, "human_level": self.human_level,
                "model_family": self.model_family,
                "points": [p.to_dict() for p in self.points],
                "fit": None if self.fit is None else self.fit.to_dict(),
                "reading": self.reading, "warnings": list(self.warnings)}


def parse_curve_sizes(text: str | Sequence[Any]) -> tuple[float, ...]:
    """``"10%,25%,50%,100%"`` or ``[1000, 5000]``: fractions in (0, 1] or counts (> 1).

    Counts and fractions are returned as given (fractions < 1 or 1.0 for 100%); sorted, unique.
    """
    items = [p.strip() for p in text.split(",")] if isinstance(text, str) else list(text)
    out: list[float] = []
    for item in items:
        raw = str(item).strip()
        if not raw:
            continue
        try:
            value = float(raw[:-1]) / 100 if raw.endswith("%") else float(raw)
        except ValueError:
            raise ConfigError(f"--sizes: {raw!r} is not a size (examples: 10%, 0.25, 5000)") from None
        if not math.isfinite(value) or value <= 0 or (raw.endswith("%") and value > 1):
            raise ConfigError(f"--sizes: {raw!r} must be a share in (0%, 100%] or a positive count")
        if value > 1 and value != int(value):
            raise ConfigError(f"--sizes: {raw!r} is not a whole count; give 5000 or a share like 25%")
        out.append(value)
    if len(out) < 2:
        raise ConfigError("--sizes: give at least two sizes (example: 10%,25%,50%,100%)")
    return tuple(sorted(set(out)))


def resolve_sizes(sizes: Sequence[float], n_train: int) -> list[int]:
    """Fractions (<= 1) and counts -> distinct counts in [1, n_train]."""
    counts = sorted({int(round(s * n_train)) if s <= 1 else int(s) for s in sizes})
    too_big = [c for c in counts if c > n_train]
    if too_big:
        raise ConfigError(f"--sizes: {too_big[0]:,} is more than the {n_train:,} training rows")
    counts = [c for c in counts if c >= 1]
    if len(counts) < 2:
        raise ConfigError(f"--sizes: fewer than two distinct sizes out of {n_train:,} training rows")
    return counts


def model_family_of(estimator: Any) -> str:
    """The recipe's model family of a scikit-learn estimator (the last step of a pipeline)."""
    steps = getattr(estimator, "steps", None)
    if steps:
        estimator = steps[-1][1]
    name = type(estimator).__name__
    if "MLP" in name:
        return "neural_network"
    if any(k in name for k in ("Boost", "XGB", "LGBM", "CatBoost", "Forest", "Tree")):
        return "gradient_boosting"
    if any(k in name for k in ("Linear", "Logistic", "Ridge", "Lasso", "ElasticNet", "SGD",
                               "Perceptron", "Huber", "LinearSVC", "LinearSVR")):
        return "linear"
    return "other"


def _figure(metric: str, y: Any, p: Any) -> tuple[float, float, float]:
    import numpy as np

    from mlstrat.metrics._intervals import wilson_interval
    from mlstrat.metrics._regression import regression_from_arrays

    if metric == "error":
        wrong = int(np.sum(np.asarray(y) != np.asarray(p)))
        low, high = wilson_interval(wrong, len(y))
        return wrong / len(y), low, high
    est = getattr(regression_from_arrays(y, p), metric)
    return est.value, est.ci_low, est.ci_high


def _reading(points: Sequence[CurvePoint], human: float | None, fit: Any, metric: str) -> str:
    def fig(v: float) -> str:
        return f"{100 * v:.2f}%" if metric == "error" else f"{v:.4g}"

    last = points[-1]
    gap = last.dev[0] - last.train[0]
    first_gap = points[0].dev[0] - points[0].train[0]
    bias = None if human is None else last.train[0] - human
    what = "dev" if metric == "error" else f"dev {metric.upper()}"
    if bias is not None and bias > max(gap, 0) and (fit is None or fit.exponent < 0.1):
        return ("Bias: train and dev are both well above human level and flat with more data; "
                "more data will not help much, a bigger model will.")
    if gap > 0 and gap < first_gap:
        text = "Variance: the train-dev gap closes as the training set grows, so more data helps"
        if fit is not None and fit.doubling is not None:
            d = fit.doubling
            text += (f"; doubling to {2 * d.size:,} examples likely takes {what} from "
                     f"{fig(d.now)} to {fig(d.predicted)} (95% interval {fig(d.ci_low)} to "
                     f"{fig(d.ci_high)})")
        return text + "."
    return "Neither shape is clear: the dev curve is flat and close to train; look at the errors."


def _assemble(metric: str, points: tuple[CurvePoint, ...], human: float | None,
              family: str) -> LearningCurve:
    from mlstrat.curves._powerlaw import fit_power_law

    notes: list[str] = []
    try:
        fit = fit_power_law([p.size for p in points], [p.dev[0] for p in points],
                            floor=human or 0.0)
    except InputError as exc:
        fit, notes = None, [str(exc)]
    return LearningCurve(metric, points, human, fit, _reading(points, human, fit, metric),
                         family, tuple(notes))


def learning_curve(estimator: Any, X: Any, y: Any, *, X_dev: Any, y_dev: Any,
                   sizes: str | Sequence[Any] = "10%,25%,50%,100%", metric: str | None = None,
                   human: float | None = None, sample_weight: Any = None, seed: int = 0
                   ) -> LearningCurve:
    """Fit ``estimator`` on nested subsets of train; measure train and dev at each size.

    Parameters
    ----------
    estimator : scikit-learn estimator
        Cloned for every size (never fitted in place).
    X, y : array-like of shape (n_samples, n_features), (n_samples,)
        The training split.
    X_dev, y_dev : array-like
        The dev split.
    sizes : str or sequence, default="10%,25%,50%,100%"
        Shares of train (``"10%"``, ``0.1``) or counts (``5000``).
    metric : {"error", "rmse", "mae"}, default=None
        ``error`` for classifiers, ``rmse`` for regressors.
    human : float, default=None
        Human-level figure in the metric's unit: the curve's floor and the plotted line.
    sample_weight : array-like of shape (n_samples,), default=None
        Passed to ``fit`` (importance weights from ``mlstrat mismatch -o``).
    seed : int, default=0
        Seeds the permutation that makes the subsets nested.

    Returns
    -------
    LearningCurve
        ``points`` (size, train, dev), ``fit`` (power law and doubling), ``reading``.
    """
    import numpy as np
    from sklearn.base import clone, is_regressor

    metric = metric or ("rmse" if is_regressor(estimator) else "error")
    if metric not in ("error", "rmse", "mae"):
        raise ConfigError(f"metric {metric!r}: a learning curve measures error, rmse or mae")
    n = len(y)
    if n < 2:
        raise InputError(f"the training split has {n} row(s); a learning curve needs more")
    counts = resolve_sizes(parse_curve_sizes(sizes), n)
    order = np.random.default_rng(seed).permutation(n)
    y_arr, y_dev_arr = np.asarray(y), np.asarray(y_dev)
    points = []
    for k in counts:
        idx = np.sort(order[:k])
        Xk = X.iloc[idx] if hasattr(X, "iloc") else np.asarray(X)[idx]
        fit_kw = {} if sample_weight is None else {"sample_weight": np.asarray(sample_weight)[idx]}
        model = clone(estimator).fit(Xk, y_arr[idx], **fit_kw)
        points.append(CurvePoint(k, _figure(metric, y_arr[idx], model.predict(Xk)),
                                 _figure(metric, y_dev_arr, model.predict(X_dev))))
    return _assemble(metric, tuple(points), human, model_family_of(estimator))

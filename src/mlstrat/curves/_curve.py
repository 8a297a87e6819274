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

from mlstrat._exceptions import ConfigError, InputError
from mlstrat.display._repr import NotebookRepr
from mlstrat.metrics._intervals import mover_difference

__all__ = ["CurvePoint", "LearningCurve", "learning_curve", "parse_curve_sizes", "model_family_of",
           "resolve_sizes"]


@dataclass(frozen=True)
class CurvePoint:
    """Train, train-dev (when held out) and dev figures (with 95% intervals) at one size."""

    size: int
    train: tuple[float, float, float]  # value, ci_low, ci_high
    dev: tuple[float, float, float]
    train_dev: tuple[float, float, float] | None = None

    def to_dict(self) -> dict[str, Any]:
        def est(t: tuple[float, float, float]) -> dict[str, float]:
            return {"value": t[0], "ci_low": t[1], "ci_high": t[2]}

        out = {"size": self.size, "train": est(self.train), "dev": est(self.dev)}
        if self.train_dev is not None:
            out["train_dev"] = est(self.train_dev)
        return out


@dataclass(frozen=True)
class LearningCurve(NotebookRepr):
    """The curve, its power-law fit, a one-sentence reading of its shape, and one on whether
    more data is likely to help an end-to-end model (docs/method.md §8)."""

    metric: str
    points: tuple[CurvePoint, ...]
    human_level: float | None
    fit: Any  # PowerLawFit or None (fewer than 3 usable sizes)
    reading: str
    model_family: str = "other"
    warnings: tuple[str, ...] = field(default=())
    mismatched: bool | None = None  # train and dev from different distributions (None: unknown)
    end_to_end: str = ""  # "enough data for an end-to-end model?" from the extrapolated fit

    def to_dict(self) -> dict[str, Any]:
        return {"metric": self.metric, "human_level": self.human_level,
                "model_family": self.model_family, "mismatched": self.mismatched,
                "points": [p.to_dict() for p in self.points],
                "fit": None if self.fit is None else self.fit.to_dict(),
                "reading": self.reading, "end_to_end": self.end_to_end, "warnings": list(self.warnings)}


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


def _reading(points: Sequence[CurvePoint], human: float | None, fit: Any, metric: str,
             mismatched: bool | None = None) -> str:
    """One sentence on the curve's shape, attributing the gap as ``diagnose`` does: with a
    train-dev split, train -> train-dev is variance and train-dev -> dev data mismatch; without
    one, a train -> dev gap between different distributions is undetermined."""
    def fig(v: float) -> str:
        return f"{100 * v:.2f}%" if metric == "error" else f"{v:.4g}"

    first, last = points[0], points[-1]
    gap = last.dev[0] - last.train[0]
    bias = None if human is None else last.train[0] - human
    if bias is not None and bias > max(gap, 0) and (fit is None or fit.exponent < 0.1):
        return ("Bias: train and dev are both well above human level and flat with more data; "
                "more data will not help much, a bigger model will.")
    if last.train_dev is not None and first.train_dev is not None:
        variance = last.train_dev[0] - last.train[0]
        mismatch = last.dev[0] - last.train_dev[0]
        # as diagnose ranks them: a gap is named only when its 95% interval excludes 0
        mismatch_low, _ = mover_difference(*last.dev, *last.train_dev)
        variance_low, _ = mover_difference(*last.train_dev, *last.train)
        if mismatch_low > 0 and (variance_low <= 0 or mismatch > variance):
            return (f"Data mismatch: at {last.size:,} examples dev is {fig(mismatch)} above train-dev "
                    f"({fig(last.train_dev[0])} -> {fig(last.dev[0])}), a gap that more data from the "
                    "training distribution does not close; make the training data more like dev "
                    "(mlstrat mismatch).")
        if 0 < variance < first.train_dev[0] - first.train[0]:
            return ("Variance: the gap from train to train-dev closes as the training set grows, so "
                    "more data helps" + _forecast(fit, metric, fig) + ".")
    elif mismatched and gap > 0:
        return (f"Undetermined: train and dev come from different distributions and there is no "
                f"train-dev split, so the gap from train to dev ({fig(gap)}) may be variance or data "
                "mismatch; carve a train-dev split (mlstrat split --train-dev auto) and run the "
                "curve again.")
    elif 0 < gap < first.dev[0] - first.train[0]:
        return ("Variance: the gap from train to dev closes as the training set grows, so more "
                "data helps" + _forecast(fit, metric, fig) + ".")
    return "Neither shape is clear: the dev curve is flat and close to train; look at the errors."


def _forecast(fit: Any, metric: str, fig: Any) -> str:
    """What doubling the data likely buys, or why nothing can be said."""
    if fit is None or fit.doubling is None:
        return ""
    if not fit.reliable:
        lo, hi = fit.exponent_ci
        return (f"; but the dev curve shows no reliable trend: the fitted exponent's 95% interval "
                f"[{lo:.2f}, {hi:.2f}] includes 0, so what more data buys cannot be forecast "
                "from these sizes")
    d = fit.doubling
    what = "dev" if metric == "error" else f"dev {metric.upper()}"
    return (f"; doubling to {2 * d.size:,} examples likely takes {what} from {fig(d.now)} to "
            f"{fig(d.predicted)} (95% interval [{fig(d.ci_low)}, {fig(d.ci_high)}])")


def _end_to_end(points: Sequence[CurvePoint], fit: Any, metric: str) -> str:
    """One sentence on "is there enough data for an end-to-end model?" (more data keeps helping
    one, or the curve has flattened and a pipeline of sub-tasks may do better), hedged by the
    fit: anything past the measured sizes is an extrapolation, stated with its interval."""
    def fig(v: float) -> str:
        return f"{100 * v:.2f}%" if metric == "error" else f"{v:.4g}"

    if fit is None or fit.doubling is None:
        return ("Enough data for an end-to-end model? Cannot be said from this curve: the power-law fit "
                "needs at least 3 sizes whose dev figure is above the floor; give more --sizes.")
    lo, hi = fit.exponent_ci
    exponent = f"fitted exponent {fit.exponent:.2f}, 95% interval [{lo:.2f}, {hi:.2f}]"
    d = fit.doubling
    largest = f"{d.size:,}"
    if hi < 0:
        return (f"The dev curve rises with more data ({exponent}): more data of this kind is unlikely to "
                "help an end-to-end model; look at the errors before gathering more.")
    if not fit.reliable:
        return (f"The dev curve has flattened near {fig(points[-1].dev[0])} ({exponent}, which includes 0): "
                "an end-to-end model is unlikely to gain from more data of this kind; a pipeline of simpler "
                "sub-tasks with plenty of data each, or hand-engineered components, may help more.")
    def guess(reach: str = "") -> str:
        return (f"the fit puts dev at {fig(d.predicted)} (95% interval [{fig(d.ci_low)}, {fig(d.ci_high)}]"
                f"{reach}) at {2 * d.size:,} examples, an extrapolation to twice the largest measured size; "
                "further out it is a guess")

    if d.ci_high < d.now:
        return (f"The dev curve still falls at the largest size ({largest} examples; {exponent}): more data "
                f"is likely to help an end-to-end model; {guess()}.")
    return (f"The dev curve falls across the measured sizes ({exponent}) but doubling may not help: "
            f"{guess(f', which reaches the {fig(d.now)} measured now')}; more data may help an end-to-end "
            "model only slowly, and a pipeline of simpler sub-tasks with plenty of data each may do better.")


def _assemble(metric: str, points: tuple[CurvePoint, ...], human: float | None,
              family: str, *, mismatched: bool | None = None) -> LearningCurve:
    from mlstrat.curves._powerlaw import fit_power_law

    notes: list[str] = []
    try:
        fit = fit_power_law([p.size for p in points], [p.dev[0] for p in points],
                            floor=human or 0.0, ceiling=1.0 if metric == "error" else None)
    except InputError as exc:
        fit, notes = None, [str(exc)]
    return LearningCurve(metric, points, human, fit, _reading(points, human, fit, metric, mismatched),
                         family, tuple(notes), mismatched, _end_to_end(points, fit, metric))


def learning_curve(estimator: Any, X: Any, y: Any, *, X_dev: Any, y_dev: Any,
                   sizes: str | Sequence[Any] = "10%,25%,50%,100%", metric: str | None = None,
                   human: float | None = None, sample_weight: Any = None, seed: int = 0,
                   X_train_dev: Any = None, y_train_dev: Any = None, mismatched: bool | None = None
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
    X_train_dev, y_train_dev : array-like, default=None
        A train-dev split (held out from the training distribution): measured at each size, it
        tells variance (train -> train-dev) from data mismatch (train-dev -> dev).
    mismatched : bool, default=None
        Train and dev come from different distributions. Without a train-dev split the gap
        from train to dev is then undetermined, as in :func:`mlstrat.diagnose`.

    Returns
    -------
    LearningCurve
        ``points`` (size, train, train-dev, dev), ``fit`` (power law and doubling), ``reading``.
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
        train_dev = None if X_train_dev is None else _figure(metric, np.asarray(y_train_dev),
                                                              model.predict(X_train_dev))
        points.append(CurvePoint(k, _figure(metric, y_arr[idx], model.predict(Xk)),
                                 _figure(metric, y_dev_arr, model.predict(X_dev)), train_dev))
    return _assemble(metric, tuple(points), human, model_family_of(estimator), mismatched=mismatched)

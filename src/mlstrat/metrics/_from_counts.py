"""Every classification figure from a confusion matrix of counts (and of weight sums).

The engine produces one small ``(K, K)`` matrix per split; this module never sees rows, so
it costs the same for 1 000 or 1 000 000 000 predictions.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mlstrat._exceptions import ConfigError, InputError, UndefinedMetricWarning
from mlstrat._labels import label_text
from mlstrat.display._repr import NotebookRepr
from mlstrat.metrics._intervals import normal_interval, wilson_interval

__all__ = [
    "Counts",
    "SplitMetrics",
    "MetricsReport",
    "metrics_from_counts",
    "check_zero_division",
    "label_text",
]

#: How many most-confused pairs a split reports.
TOP_CONFUSED = 5


@dataclass(frozen=True)
class Counts:
    """Sufficient statistics of one split.

    Attributes
    ----------
    labels : tuple
        Class labels present in ``y_true`` or ``y_pred``, sorted (as :func:`numpy.unique`).
    matrix : ndarray of shape (K, K), int64
        ``matrix[i, j]`` = rows with true label ``labels[i]`` predicted as ``labels[j]``.
    weight : ndarray of shape (K, K), float64
        Sum of example weights per cell (equal to ``matrix`` without weights).
    weight_sq : ndarray of shape (K, K), float64
        Sum of squared weights per cell (for the weighted-error interval).
    """

    labels: tuple[Any, ...]
    matrix: Any
    weight: Any
    weight_sq: Any


@dataclass(frozen=True)
class SplitMetrics:
    """All figures of one split; see :func:`mlstrat.metrics.compute_metrics`."""

    n: int
    errors: int
    error: float
    error_ci: tuple[float, float]
    accuracy: float
    accuracy_ci: tuple[float, float]
    weight_sum: float
    weighted_error: float
    weighted_error_ci: tuple[float, float]
    precision: float
    recall: float
    f1: float
    f1_ci: tuple[float, float]
    average: str  # "binary" (for pos_label) or "macro"
    pos_label: Any
    averages: dict[str, dict[str, float]]
    per_class: dict[str, dict[str, float]]
    labels: tuple[Any, ...]
    matrix: Any
    most_confused: tuple[dict[str, Any], ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "errors": self.errors,
            "error": self.error,
            "error_ci": list(self.error_ci),
            "accuracy": self.accuracy,
            "accuracy_ci": list(self.accuracy_ci),
            "weighted_error": self.weighted_error,
            "weighted_error_ci": list(self.weighted_error_ci),
            "weight_sum": self.weight_sum,
            "precision": self.precision,
            "recall": self.recall,
            "f1": self.f1,
            "f1_ci": list(self.f1_ci),
            "average": self.average,
            "pos_label": None if self.pos_label is None else label_text(self.pos_label),
            "averages": self.averages,
            "per_class": self.per_class,
            "confusion": {
                "labels": [label_text(x) for x in self.labels],
                "matrix": np.asarray(self.matrix).tolist(),
            },
            "most_confused": list(self.most_confused),
        }


@dataclass(frozen=True)
class MetricsReport(NotebookRepr):
    """Per-split metrics, in the order of :data:`mlstrat.SPLITS`.

    Attributes
    ----------
    splits : dict of str to SplitMetrics
    weight : str or None
        The weight column used for ``weighted_error`` (None: every weight is 1).
    zero_division : str or float
        The policy applied to undefined precision/recall/F1.
    source : str
        Where the predictions came from.
    warnings : tuple of dict
        ``{"code", "message"}`` entries: ``test_sealed`` (a test split present but not
        computed), ``test_split_used`` (with the look count), ``test_set_reused``.
    """

    splits: dict[str, SplitMetrics] = field(default_factory=dict)
    weight: str | None = None
    zero_division: Any = "warn"
    source: str = ""
    warnings: tuple[dict[str, str], ...] = ()

    def __getitem__(self, split: str) -> SplitMetrics:
        return self.splits[split]

    def to_dict(self) -> dict[str, Any]:
        zd = self.zero_division
        return {
            "splits": {name: m.to_dict() for name, m in self.splits.items()},
            "weight": self.weight,
            "zero_division": zd if isinstance(zd, str) or not math.isnan(zd) else "nan",
            "source": self.source,
            "warnings": [dict(w) for w in self.warnings],
        }


def check_zero_division(zero_division: Any) -> Any:
    """Validate the policy: ``"warn"`` (0 and a warning), ``0``, ``1`` or ``nan`` (not averaged)."""
    given = zero_division
    if isinstance(zero_division, str):
        if zero_division == "warn":
            return "warn"
        if zero_division.lower() == "nan":
            return float("nan")
        try:
            zero_division = float(zero_division)
        except ValueError:
            raise ConfigError(f"zero_division: {given!r} is not one of 'warn', 0, 1, nan") from None
    if isinstance(zero_division, (int, float)) and not isinstance(zero_division, bool):
        value = float(zero_division)
        if math.isnan(value) or value in (0.0, 1.0):
            return value
    raise ConfigError(f"zero_division: {given!r} is not one of 'warn', 0, 1, nan")


def _divide(num: Any, den: Any, zero_division: Any, what: str, undefined: list[str]) -> Any:
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    mask = den == 0
    out = num / np.where(mask, 1.0, den)
    if mask.any():
        out[mask] = 0.0 if zero_division == "warn" else zero_division
        undefined.append(what)
    return out


def _nanaverage(values: Any, weights: Any = None) -> float:
    """Mean ignoring NaN (the ``zero_division=nan`` entries), as scikit-learn averages."""
    values = np.asarray(values, dtype=np.float64)
    keep = ~np.isnan(values)
    if not keep.any():
        return float("nan")
    if weights is None:
        return float(np.mean(values[keep]))
    w = np.asarray(weights, dtype=np.float64)[keep]
    if w.sum() == 0:
        return float(np.mean(values[keep]))
    return float(np.average(values[keep], weights=w))


def _f1_sd(matrix: Any, classes: Sequence[int]) -> float:
    """Delta-method standard deviation of the mean F1 over ``classes``.

    The cells of the confusion matrix are multinomial. F1_k = 2 C_kk / (R_k + S_k) (row and
    column sums) is homogeneous of degree 0 in the counts, so with g = dF/dC (per count) the
    variance is ``sum_ij g_ij^2 C_ij`` (the multinomial covariance term vanishes by Euler's
    identity). For binary F1 this is ``4 TP (FP+FN) (TP+FP+FN) / (2TP+FP+FN)^4``.
    """
    c = np.asarray(matrix, dtype=np.float64)
    rows, cols = c.sum(axis=1), c.sum(axis=0)
    grad = np.zeros_like(c)
    used = 0
    for k in classes:
        denom = rows[k] + cols[k]
        if denom == 0:
            continue
        used += 1
        factor = -2.0 * c[k, k] / denom**2
        grad[k, :] += factor
        grad[:, k] += factor
        grad[k, k] += 2.0 / denom
    if used == 0:
        return float("nan")
    grad /= used
    return float(math.sqrt(np.sum(grad**2 * c)))


def _weighted_error_sd(counts: Counts, rate: float) -> float:
    """Delta-method sd of the ratio ``r = sum w e / sum w``: ``sqrt(sum w^2 (e - r)^2) / sum w``."""
    wsq = np.asarray(counts.weight_sq, dtype=np.float64)
    wrong = ~np.eye(len(counts.labels), dtype=bool)
    total_w = float(np.sum(counts.weight))
    if total_w <= 0:
        return float("nan")
    ss = float(wsq[wrong].sum()) * (1.0 - rate) ** 2 + float(wsq[~wrong].sum()) * rate**2
    return math.sqrt(ss) / total_w


def metrics_from_counts(
    counts: Counts, *, pos_label: Any = None, zero_division: Any = "warn", split: str = ""
) -> SplitMetrics:
    """Compute every figure of one split from its :class:`Counts`.

    Matches scikit-learn's ``accuracy_score``, ``confusion_matrix`` and
    ``precision_recall_fscore_support`` (same ``zero_division`` semantics).
    """
    zero_division = check_zero_division(zero_division)
    c = np.asarray(counts.matrix, dtype=np.int64)
    labels = tuple(counts.labels)
    n = int(c.sum())
    if n == 0:
        raise InputError(
            f"split {split or '?'}: has 0 rows; every split needs at least one prediction"
        )
    correct = int(np.trace(c))
    errors = n - correct
    tp, rows, cols = np.diag(c), c.sum(axis=1), c.sum(axis=0)

    undefined: list[str] = []
    precision = _divide(tp, cols, zero_division, "precision", undefined)
    recall = _divide(tp, rows, zero_division, "recall", undefined)
    f1 = _divide(2 * tp, rows + cols, zero_division, "f1", undefined)
    averages = _averages(precision, recall, f1, rows, correct / n)
    per_class = _per_class(labels, precision, recall, f1, rows)
    average, headline, f1_sd = _headline(c, labels, pos_label, zero_division, averages,
                                         (precision, recall, f1), undefined)
    _warn_undefined(undefined, zero_division, split)

    weight_sum, weighted_error, we_ci = _weighted_error(counts)
    f1_value = headline[2]
    f1_ci = (
        normal_interval(f1_value, f1_sd)
        if math.isfinite(f1_sd) and math.isfinite(f1_value)
        else (float("nan"), float("nan"))
    )
    err_ci = wilson_interval(errors, n)
    return SplitMetrics(
        n=n,
        errors=errors,
        error=errors / n,
        error_ci=err_ci,
        accuracy=correct / n,
        accuracy_ci=(1.0 - err_ci[1], 1.0 - err_ci[0]),
        weight_sum=weight_sum,
        weighted_error=weighted_error,
        weighted_error_ci=we_ci,
        precision=float(headline[0]),
        recall=float(headline[1]),
        f1=float(f1_value),
        f1_ci=f1_ci,
        average=average,
        pos_label=pos_label,
        averages=averages,
        per_class=per_class,
        labels=labels,
        matrix=c,
        most_confused=_most_confused(c, labels, errors),
    )


def _averages(precision: Any, recall: Any, f1: Any, rows: Any, accuracy: float) -> dict[str, dict[str, float]]:
    """Macro (unweighted over classes), weighted (by support) and micro averages."""
    return {
        "macro": {
            "precision": _nanaverage(precision),
            "recall": _nanaverage(recall),
            "f1": _nanaverage(f1),
        },
        "weighted": {
            "precision": _nanaverage(precision, rows),
            "recall": _nanaverage(recall, rows),
            "f1": _nanaverage(f1, rows),
        },
        # with every label included, micro P = micro R = micro F1 = accuracy
        "micro": {"precision": accuracy, "recall": accuracy, "f1": accuracy},
    }


def _per_class(labels: Sequence[Any], precision: Any, recall: Any, f1: Any, rows: Any) -> dict[str, dict[str, Any]]:
    return {
        label_text(label): {
            "precision": float(precision[i]),
            "recall": float(recall[i]),
            "f1": float(f1[i]),
            "support": int(rows[i]),
        }
        for i, label in enumerate(labels)
    }


def _headline(c: Any, labels: Sequence[Any], pos_label: Any, zero_division: Any,
              averages: dict[str, dict[str, float]], per_class: tuple[Any, Any, Any],
              undefined: list[str]) -> tuple[str, tuple[float, float, float], float]:
    """The headline precision, recall and F1 (the positive class's with ``pos_label``, else the
    macro average) and the standard deviation of that F1."""
    precision, recall, f1 = per_class
    if pos_label is None:
        macro = averages["macro"]
        f1_sd = _f1_sd(c, [i for i in range(len(labels)) if not math.isnan(f1[i])])
        return "macro", (macro["precision"], macro["recall"], macro["f1"]), f1_sd
    index = _find_label(labels, pos_label)
    if index is None:
        # the positive class is absent from this split: a zero row and column
        value = 0.0 if zero_division == "warn" else float(zero_division)
        undefined.append("binary precision/recall/F1")
        return "binary", (value, value, value), float("nan")
    headline = (float(precision[index]), float(recall[index]), float(f1[index]))
    return "binary", headline, _f1_sd(c, [index])


def _warn_undefined(undefined: list[str], zero_division: Any, split: str) -> None:
    if undefined and zero_division == "warn":
        warnings.warn(
            f"split {split or '?'}: {', '.join(sorted(set(undefined)))} ill-defined for some "
            "labels "
            "(no predicted or no true examples) and set to 0.0; pass zero_division=0, 1 or nan "
            "to choose the value and silence this warning",
            UndefinedMetricWarning,
            stacklevel=4,
        )


def _weighted_error(counts: Counts) -> tuple[float, float, tuple[float, float]]:
    """The weight sum, the weighted error and its interval (NaN without weight)."""
    weight_sum = float(np.sum(counts.weight))
    wrong_w = float(np.sum(counts.weight) - np.trace(counts.weight))
    weighted_error = wrong_w / weight_sum if weight_sum > 0 else float("nan")
    we_sd = _weighted_error_sd(counts, weighted_error) if weight_sum > 0 else float("nan")
    we_ci = (
        normal_interval(weighted_error, we_sd)
        if math.isfinite(we_sd)
        else (float("nan"), float("nan"))
    )
    return weight_sum, weighted_error, we_ci


def _find_label(labels: Sequence[Any], pos_label: Any) -> int | None:
    for i, label in enumerate(labels):
        if label == pos_label or label_text(label) == label_text(pos_label):
            return i
    return None


def _most_confused(c: Any, labels: Sequence[Any], errors: int) -> tuple[dict[str, Any], ...]:
    off = c.copy()
    np.fill_diagonal(off, 0)
    flat = np.argsort(-off, axis=None, kind="stable")[:TOP_CONFUSED]
    pairs = []
    for idx in flat:
        i, j = divmod(int(idx), c.shape[1])
        if off[i, j] == 0:
            break
        pairs.append(
            {
                "true": label_text(labels[i]),
                "pred": label_text(labels[j]),
                "count": int(off[i, j]),
                "share_of_errors": int(off[i, j]) / errors,
            }
        )
    return tuple(pairs)

"""Label issues by confident learning (Northcutt, Jiang & Chuang, JAIR 70, 2021).

Given labels ``s`` and out-of-sample predicted probabilities ``P`` (n, K):

1. per-class thresholds ``t_j = mean(P[s == j, j])`` (the model's average self-confidence);
2. the confident joint ``C[i, j]``: examples labeled ``i`` whose probability of ``j`` reaches
   ``t_j`` (the most probable such ``j`` when several do);
3. calibration: each row of ``C`` rescaled to the number of examples labeled ``i``, the
   whole to ``n``; ``Q = C_cal / n`` estimates the joint of given and true labels;
4. the estimated number of label errors ``m`` is the off-diagonal mass of ``C_cal``
   (rounded per row, preserving the row totals);
5. which rows: with ``method="rank"`` (default), the ``m`` rows with the lowest score among
   the rows whose most probable class is not their given label; with
   ``method="prune_by_noise_rate"`` (the paper's PBNR), for each off-diagonal cell (given
   ``i``, true ``j``) the ``C_cal[i, j]`` rows labeled ``i`` with the largest margin
   ``P[:, j] - P[:, i]``, minus the rows the model predicts as their given label;
6. the score is the self-confidence ``P[x, s_x]`` or the normalized margin
   ``(P[x, s_x] - max_{k != s_x} P[x, k] + 1) / 2``; suspects are ranked by it (lower = more
   suspect).

``rank`` keeps confident learning's estimate of *how many* labels are wrong and lets the
score decide *which*; on the digits benchmark (benchmarks/labels_bench.py) it finds flipped
labels with a clearly higher F1 than PBNR (docs/benchmarks/labels.md).

Probabilities must be out-of-sample (cross-validated or from a held-out split): on the
training split a model that memorized its labels is confident in the wrong ones too.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from mlstrat._exceptions import ConfigError, InputError, MlstratWarning
from mlstrat.errors._common import label_text

__all__ = [
    "LabelIssue",
    "NoiseRate",
    "LabelIssues",
    "find_label_issues",
    "confident_learning",
    "RANKINGS",
    "METHODS",
]

#: how suspects are selected once their number is estimated
METHODS = ("rank", "prune_by_noise_rate")


def _self_confidence(probs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    return probs[np.arange(len(labels)), labels]


def _normalized_margin(probs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    own = _self_confidence(probs, labels)
    others = probs.copy()
    others[np.arange(len(labels)), labels] = -np.inf
    return (own - others.max(axis=1) + 1.0) / 2.0


#: name -> score function (lower score = more likely a label error)
RANKINGS = {"self_confidence": _self_confidence, "normalized_margin": _normalized_margin}


@dataclass(frozen=True)
class LabelIssue:
    """A suspect row: its given label, the label the model suggests, and its score."""

    id: str
    given_label: str
    suggested_label: str
    score: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "given_label": self.given_label,
            "suggested_label": self.suggested_label,
            "score": self.score,
        }


@dataclass(frozen=True)
class NoiseRate:
    """Estimated label noise from true class ``true`` to given label ``given``.

    ``count`` is the calibrated confident-joint estimate of such examples; ``rate`` is
    ``P(given | true)``, the share of examples of class ``true`` labeled ``given``.
    """

    given: str
    true: str
    count: float
    rate: float

    def to_dict(self) -> dict[str, Any]:
        return {"given": self.given, "true": self.true, "count": self.count, "rate": self.rate}


@dataclass(frozen=True)
class LabelIssues:
    """Result of :func:`find_label_issues`.

    Attributes
    ----------
    split : str
    n : int
        Rows examined.
    n_errors : int
        Misclassified rows (``y_pred != y_true``) of the split.
    split_error : float
    rank_by : str
    method : str
    estimated_label_errors : int
        Off-diagonal mass of the calibrated confident joint.
    error_share : float
        Share of the split's misclassified rows that are suspects: how much of the error
        label errors may explain (nan when there is no error).
    thresholds : dict of str to float
        Per-class thresholds ``t_j``.
    noise : tuple of NoiseRate
        Off-diagonal cells of the estimate, largest count first (cells below 0.5 left out).
    issues : tuple of LabelIssue
        Suspects, most suspect first.
    warnings : tuple of dict
    """

    split: str
    n: int
    n_errors: int
    split_error: float
    rank_by: str
    method: str
    estimated_label_errors: int
    error_share: float
    thresholds: dict[str, float]
    noise: tuple[NoiseRate, ...]
    issues: tuple[LabelIssue, ...]
    warnings: tuple[dict[str, str], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "split": self.split,
            "n": self.n,
            "n_errors": self.n_errors,
            "split_error": self.split_error,
            "method": self.method,
            "rank_by": self.rank_by,
            "estimated_label_errors": self.estimated_label_errors,
            "n_issues": len(self.issues),
            "error_share": self.error_share,
            "thresholds": dict(self.thresholds),
            "noise": [r.to_dict() for r in self.noise],
            "issues": [i.to_dict() for i in self.issues],
            "warnings": [dict(w) for w in self.warnings],
        }


def _round_rows(matrix: np.ndarray, totals: np.ndarray) -> np.ndarray:
    """Round each row to integers summing to its total (largest remainder)."""
    floor = np.floor(matrix).astype(np.int64)
    out = floor.copy()
    for i in range(matrix.shape[0]):
        short = int(round(totals[i])) - int(floor[i].sum())
        if short > 0:
            order = np.argsort(-(matrix[i] - floor[i]), kind="stable")
            out[i, order[:short]] += 1
    return out


@dataclass(frozen=True)
class _CL:
    thresholds: np.ndarray  # (K,)
    joint: np.ndarray  # (K, K) calibrated confident joint, rows = given, columns = true
    counts: np.ndarray  # (K, K) integer version of joint, row totals preserved
    mask: np.ndarray  # (n,) suspects


def confident_learning(
    labels: np.ndarray, probs: np.ndarray, *, method: str = "rank", scores: np.ndarray | None = None
) -> _CL:
    """The core of confident learning on integer labels (n,) and probabilities (n, K).

    ``scores`` (n,) order the suspects for ``method="rank"`` (lower = more suspect; the
    self-confidence by default).
    """
    n, k = probs.shape
    given_counts = np.bincount(labels, minlength=k)  # (K,)
    self_conf = _self_confidence(probs, labels)
    sums = np.bincount(labels, weights=self_conf, minlength=k)
    # a class nobody is labeled with gets threshold 1: only certain predictions count for it
    thresholds = np.where(given_counts > 0, sums / np.maximum(given_counts, 1), 1.0)

    above = probs >= thresholds - 1e-6  # (n, K)
    confident = above.any(axis=1)
    guess = np.where(above, probs, -1.0).argmax(
        axis=1
    )  # most probable class among the confident ones
    joint = np.zeros((k, k))
    np.add.at(joint, (labels[confident], guess[confident]), 1.0)
    # every labeled class keeps at least one example on the diagonal (avoids empty rows)
    diag = np.diag_indices(k)
    joint[diag] = np.where(given_counts > 0, np.maximum(joint[diag], 1.0), joint[diag])

    row = joint.sum(axis=1, keepdims=True)
    calibrated = (
        np.divide(joint, row, out=np.zeros_like(joint), where=row > 0) * given_counts[:, None]
    )
    if calibrated.sum() > 0:
        calibrated *= n / calibrated.sum()
    counts = _round_rows(calibrated, given_counts.astype(float))

    mask = np.zeros(n, dtype=bool)
    predicted = probs.argmax(axis=1)
    if method == "rank":
        estimated = int(counts.sum() - np.trace(counts))
        candidates = np.flatnonzero(predicted != labels)
        score = _self_confidence(probs, labels) if scores is None else scores
        mask[candidates[np.argsort(score[candidates], kind="stable")[:estimated]]] = True
        return _CL(thresholds=thresholds, joint=calibrated, counts=counts, mask=mask)
    for i in range(k):
        members = np.flatnonzero(labels == i)
        if members.size == 0:
            continue
        own = probs[members, i]
        for j in range(k):
            c = int(counts[i, j]) if i != j else 0
            if c <= 0:
                continue
            margin = probs[members, j] - own
            top = members[np.argsort(-margin, kind="stable")[: min(c, members.size)]]
            mask[top] = True
    mask &= predicted != labels  # the model itself agrees with the given label: keep it
    return _CL(thresholds=thresholds, joint=calibrated, counts=counts, mask=mask)


def _load(predictions: Any, split: str, con: Any) -> tuple[Any, Any, list[str], int]:
    import pyarrow.compute as pc

    from mlstrat.errors._sheet import _check_split
    from mlstrat.tables import read_predictions

    _check_split(split)
    preds = read_predictions(predictions, con=con, require_id=True)
    if not preds.proba_columns:
        raise InputError(
            f"{preds.source}: no proba_<class> columns; label issues need the predicted "
            "probability of every class (e.g. proba_cat, proba_dog), out-of-sample "
            "(cross-validated or from a held-out split)"
        )
    if split not in preds.sizes:
        raise InputError(
            f"{preds.source}: split {split!r} has no rows "
            f"(splits present: {', '.join(preds.sizes) or 'none'})"
        )
    classes = list(preds.proba_columns)
    table = preds.table
    part = table.filter(table.split.cast("string") == split)
    cols = ["id", "y_true", "y_pred", *preds.proba_columns.values()]
    # (n, 3 + K): the only data that leaves the engine; in id order, so that ties in the
    # stable sorts below break the same way whatever order the engine returns rows in
    arrow = part.select(*cols).order_by("id").to_pyarrow()
    n_errors = int(
        pc.sum(pc.not_equal(arrow.column("y_true"), arrow.column("y_pred"))).as_py() or 0
    )
    return preds, arrow, classes, n_errors


def find_label_issues(
    predictions: Any,
    *,
    split: str = "dev",
    rank_by: str = "self_confidence",
    method: str = "rank",
    con: Any = None,
) -> LabelIssues:
    """Find rows whose given label is probably wrong, by confident learning.

    Parameters
    ----------
    predictions : path-like or table
        A predictions table with ``id``, ``split``, ``y_true`` and one ``proba_<class>``
        column per class holding **out-of-sample** probabilities.
    split : str, default="dev"
        Which split to examine. ``train`` is allowed with a warning: its probabilities come
        from a model that saw those labels, unless they are cross-validated.
    rank_by : {"self_confidence", "normalized_margin"}, default="self_confidence"
        The score that orders suspects (lower first) and, with ``method="rank"``, picks them.
    method : {"rank", "prune_by_noise_rate"}, default="rank"
        How suspects are picked once their number is estimated (see the module docstring).
    con : ibis DuckDB backend, default=None

    Returns
    -------
    LabelIssues

    Raises
    ------
    InputError
        No ``proba_*`` columns, an empty split, a label without a probability column,
        negative or missing probabilities.
    """
    if rank_by not in RANKINGS:
        raise ConfigError(f"rank_by: unknown ranking {rank_by!r}; allowed: {', '.join(RANKINGS)}")
    if method not in METHODS:
        raise ConfigError(f"method: unknown method {method!r}; allowed: {', '.join(METHODS)}")
    notes: list[dict[str, str]] = []
    if split == "train":
        msg = (
            "split 'train': confident learning needs out-of-sample probabilities; unless these are "
            "cross-validated (out-of-fold), a model that fit its training labels is confident in "
            "the wrong ones too and few issues are found"
        )
        notes.append({"code": "in_sample", "message": msg})
        warnings.warn(msg, MlstratWarning, stacklevel=2)
    preds, arrow, classes, n_errors = _load(predictions, split, con)
    index = {c: i for i, c in enumerate(classes)}
    ids = [label_text(v) for v in arrow.column("id").to_pylist()]
    y_true = [label_text(v) for v in arrow.column("y_true").to_pylist()]
    unknown = sorted(set(y_true) - set(index))
    if unknown:
        shown = ", ".join(repr(u) for u in unknown[:5])
        raise InputError(
            f"{preds.source}: label(s) {shown} in y_true have no probability column; "
            f"expected proba_<label> for every class (found: "
            f"{', '.join(preds.proba_columns.values())})"
        )
    labels = np.fromiter((index[y] for y in y_true), dtype=np.int64, count=len(y_true))
    probs = np.column_stack(
        [
            arrow.column(c).to_numpy(zero_copy_only=False).astype(np.float64)
            for c in preds.proba_columns.values()
        ]
    )  # (n, K)
    if not np.isfinite(probs).all():
        raise InputError(
            f"{preds.source}: proba_* columns have empty/NaN values in split {split!r}; "
            "every row needs a probability per class"
        )
    if (probs < 0).any():
        raise InputError(
            f"{preds.source}: proba_* columns have negative values; probabilities are in [0, 1]"
        )
    sums = probs.sum(axis=1)
    if (sums <= 0).any():
        raise InputError(
            f"{preds.source}: some rows have all probabilities 0; every row needs a "
            "probability distribution"
        )
    off = np.abs(sums - 1.0) > 1e-3
    if off.any():
        msg = (
            f"{int(off.sum())} row(s) have probabilities that do not sum to 1 (e.g. "
            f"{sums[off][0]:.3g}); they were normalized"
        )
        notes.append({"code": "not_normalized", "message": msg})
        warnings.warn(msg, MlstratWarning, stacklevel=2)
    probs = probs / sums[:, None]

    scores = RANKINGS[rank_by](probs, labels)
    result = confident_learning(labels, probs, method=method, scores=scores)
    suspects = np.flatnonzero(result.mask)
    suspects = suspects[np.lexsort((suspects, scores[suspects]))]
    suggested = probs.argmax(axis=1)
    issues = tuple(
        LabelIssue(ids[i], y_true[i], classes[suggested[i]], float(scores[i])) for i in suspects
    )

    k = len(classes)
    col_tot = result.joint.sum(axis=0)
    noise = []
    for i in range(k):
        for j in range(k):
            if i != j and result.joint[i, j] >= 0.5:
                rate = result.joint[i, j] / col_tot[j] if col_tot[j] > 0 else math.nan
                noise.append(
                    NoiseRate(classes[i], classes[j], float(result.joint[i, j]), float(rate))
                )
    noise.sort(key=lambda r: (-r.count, r.given, r.true))

    y_pred = [label_text(v) for v in arrow.column("y_pred").to_pylist()]
    wrong_suspects = sum(1 for i in suspects if y_pred[i] != y_true[i])
    n = len(labels)
    estimated = int(result.counts.sum() - np.trace(result.counts))
    return LabelIssues(
        split=split,
        n=n,
        n_errors=n_errors,
        split_error=n_errors / n if n else math.nan,
        rank_by=rank_by,
        method=method,
        estimated_label_errors=estimated,
        error_share=wrong_suspects / n_errors if n_errors else math.nan,
        thresholds={c: float(t) for c, t in zip(classes, result.thresholds)},
        noise=tuple(noise),
        issues=issues,
        warnings=tuple(notes),
    )

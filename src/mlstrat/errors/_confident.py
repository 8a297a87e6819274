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

from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

__all__ = ["METHODS", "RANKINGS", "confident_learning", "resolve_method"]


#: how suspects are selected once their number is estimated
METHODS = ("auto", "rank", "prune_by_noise_rate")


def _self_confidence(probs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    return probs[np.arange(len(labels)), labels]


def _normalized_margin(probs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    own = _self_confidence(probs, labels)
    others = probs.copy()
    others[np.arange(len(labels)), labels] = -np.inf
    return (own - others.max(axis=1) + 1.0) / 2.0


#: name -> score function (lower score = more likely a label error)
RANKINGS = {"self_confidence": _self_confidence, "normalized_margin": _normalized_margin}


def _round_rows(matrix: np.ndarray, totals: np.ndarray) -> np.ndarray:
    """Round each row to integers summing to its total (largest remainder).

    Equal remainders go to the diagonal first: a tie is no evidence of a label error.
    """
    floor = np.floor(matrix).astype(np.int64)
    out = floor.copy()
    columns = np.arange(matrix.shape[1])
    for i in range(matrix.shape[0]):
        short = int(round(totals[i])) - int(floor[i].sum())
        if short > 0:
            remainder = np.round(matrix[i] - floor[i], 12)  # ties survive float noise
            order = np.lexsort((columns, columns != i, -remainder))
            out[i, order[:short]] += 1
    return out


@dataclass(frozen=True)
class _CL:
    thresholds: np.ndarray  # (K,)
    joint: np.ndarray  # (K, K) calibrated confident joint, rows = given, columns = true
    counts: np.ndarray  # (K, K) integer version of joint, row totals preserved
    mask: np.ndarray  # (n,) suspects


def thresholds_from(given_counts: np.ndarray, confidence_sums: np.ndarray) -> np.ndarray:
    """Per-class thresholds ``t_j``: mean self-confidence of the rows labeled ``j``."""
    # a class nobody is labeled with gets threshold 1: only certain predictions count for it
    return np.where(given_counts > 0, confidence_sums / np.maximum(given_counts, 1), 1.0)


def add_to_joint(joint: np.ndarray, labels: np.ndarray, probs: np.ndarray, thresholds: np.ndarray) -> None:
    """Count rows (given ``i``, most probable confident class ``j``) into ``joint`` (K, K), in place."""
    above = probs >= thresholds - 1e-6  # (n, K)
    confident = above.any(axis=1)
    guess = np.where(above, probs, -1.0).argmax(axis=1)  # most probable class among the confident ones
    np.add.at(joint, (labels[confident], guess[confident]), 1.0)


def calibrate(joint: np.ndarray, given_counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Calibrated joint (rows rescaled to the given counts, total ``n``) and its row-wise rounding."""
    joint = joint.copy()
    n = given_counts.sum()
    # every labeled class keeps at least one example on the diagonal (avoids empty rows)
    diag = np.diag_indices(len(joint))
    joint[diag] = np.where(given_counts > 0, np.maximum(joint[diag], 1.0), joint[diag])
    row = joint.sum(axis=1, keepdims=True)
    calibrated = np.divide(joint, row, out=np.zeros_like(joint), where=row > 0) * given_counts[:, None]
    if calibrated.sum() > 0:
        calibrated *= n / calibrated.sum()
    return calibrated, _round_rows(calibrated, given_counts.astype(float))


class _TopK:
    """The ``k`` smallest keys seen so far over a stream of batches; ties go to the smaller ``tie``.

    ``tie`` is the row's id (or its position for arrays), so the result does not depend on the
    order in which the engine delivers batches. ``keep`` marks rows that take a slot but are
    not reported (PBNR's rows that the model predicts as their given label).
    """

    def __init__(self, k: int) -> None:
        self.k = k
        self.key = np.empty(0)
        self.tie: np.ndarray = np.empty(0)
        self.keep = np.empty(0, dtype=bool)
        self.info = np.empty((0, 4))

    def add(self, key: np.ndarray, tie: np.ndarray, keep: np.ndarray | None = None,
            info: np.ndarray | None = None) -> None:
        """Offer rows: sort keys (n,), ties (n,), whether reported (n,), payload (n, 4)."""
        if self.k <= 0 or not len(key):
            return
        keep = np.ones(len(key), dtype=bool) if keep is None else keep
        info = np.zeros((len(key), 4)) if info is None else info
        key = np.concatenate([self.key, key])
        tie = np.concatenate([self.tie, tie]) if len(self.tie) else tie
        keep = np.concatenate([self.keep, keep])
        info = np.concatenate([self.info, info])
        if len(key) > self.k:
            # exact order only among the rows that can still make the cut
            cut = np.partition(key, self.k - 1)[self.k - 1]
            near = np.flatnonzero(key <= cut)
            order = near[np.lexsort((tie[near], key[near]))][: self.k]
            key, tie, keep, info = key[order], tie[order], keep[order], info[order]
        self.key, self.tie, self.keep, self.info = key, tie, keep, info

    def chosen(self) -> list[Any]:
        return self.tie[self.keep].tolist()


Selectors = list[tuple[Optional[tuple[int, int]], _TopK]]


def selectors(method: str, counts: np.ndarray) -> Selectors:
    """Empty selectors for a method, sized by the rounded calibrated joint ``counts``.

    ``rank``: one selector of ``m`` rows (the estimated number of label errors);
    ``prune_by_noise_rate``: one per off-diagonal cell (given ``i``, true ``j``) of
    ``counts[i, j]`` rows.
    """
    if method == "rank":
        return [(None, _TopK(int(counts.sum() - np.trace(counts))))]
    k = len(counts)
    return [((i, j), _TopK(int(counts[i, j]))) for i in range(k) for j in range(k)
            if i != j and counts[i, j] > 0]


def feed(chosen: Selectors, *, labels: np.ndarray, probs: np.ndarray, scores: np.ndarray,
         tie: np.ndarray, info: np.ndarray | None = None) -> None:
    """Offer one batch's rows to the selectors of :func:`selectors`.

    ``rank``: the rows the model does not predict as their label, lowest score first.
    ``prune_by_noise_rate``: in cell (``i``, ``j``), the rows labeled ``i`` with the largest
    margin ``P[:, j] - P[:, i]``; the rows the model predicts as ``i`` take their slot but are
    not reported (the paper's order: prune, then drop what the model agrees with).
    """
    predicted = probs.argmax(axis=1)
    for cell, top in chosen:
        if cell is None:
            wrong = np.flatnonzero(predicted != labels)
            top.add(scores[wrong], tie[wrong], None, None if info is None else info[wrong])
            continue
        i, j = cell
        rows = np.flatnonzero(labels == i)
        top.add(probs[rows, i] - probs[rows, j], tie[rows], predicted[rows] != i,
                None if info is None else info[rows])


def selected(chosen: Selectors) -> set[Any]:
    """The ties (ids or positions) of the rows picked by the selectors."""
    out: set[Any] = set()
    for _cell, top in chosen:
        out.update(top.chosen())
    return out


def confident_learning(
    labels: np.ndarray, probs: np.ndarray, *, method: str = "auto", scores: np.ndarray | None = None
) -> _CL:
    """The core of confident learning on integer labels (n,) and probabilities (n, K).

    ``scores`` (n,) order the suspects for ``method="rank"`` (lower = more suspect; the
    self-confidence by default). The same functions run batch by batch in
    :func:`find_label_issues`; here the whole arrays are one batch and ties go by position.
    """
    n, k = probs.shape
    given_counts = np.bincount(labels, minlength=k)  # (K,)
    thresholds = thresholds_from(given_counts, np.bincount(labels, weights=_self_confidence(probs, labels),
                                                           minlength=k))
    joint = np.zeros((k, k))
    add_to_joint(joint, labels, probs, thresholds)
    calibrated, counts = calibrate(joint, given_counts)
    chosen = selectors(resolve_method(method, counts), counts)
    score = _self_confidence(probs, labels) if scores is None else scores
    feed(chosen, labels=labels, probs=probs, scores=score, tie=np.arange(n))
    mask = np.zeros(n, dtype=bool)
    mask[sorted(selected(chosen))] = True
    return _CL(thresholds=thresholds, joint=calibrated, counts=counts, mask=mask)


#: below this share of the off-diagonal mass in its largest cell, the noise is "spread thin"
SPREAD = 0.15


def resolve_method(method: str, counts: np.ndarray) -> str:
    """``auto``: ``rank`` when the estimated noise is spread thin over many cells, else PBNR.

    The per-cell counts of the calibrated joint are estimates rounded to integers. With noise
    concentrated in a few cells (binary tasks, one class flipped into another) they are
    reliable and the paper's per-cell pruning wins; spread over many cells of one or two rows
    each (uniform noise on many classes), rounding dominates and pooling the count (``rank``)
    finds clearly more (benchmarks/labels_bench.py).
    """
    if method != "auto":
        return method
    off = counts.astype(float).copy()
    np.fill_diagonal(off, 0.0)
    total = off.sum()
    return "rank" if total > 0 and off.max() / total < SPREAD else "prune_by_noise_rate"

"""ROC AUC with a DeLong confidence interval."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from mlstrat._exceptions import InputError

__all__ = ["Auc", "delong_auc"]


@dataclass(frozen=True)
class Auc:
    """An ROC AUC with its interval (0.5 = the classifier cannot tell the two sets apart)."""

    value: float
    ci_low: float
    ci_high: float
    se: float
    n_positive: int
    n_negative: int
    level: float = 0.95
    method: str = "delong"

    def to_dict(self) -> dict[str, object]:
        return {
            "value": self.value,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "se": self.se,
            "n_positive": self.n_positive,
            "n_negative": self.n_negative,
            "level": self.level,
            "method": self.method,
        }


def delong_auc(y: np.ndarray, score: np.ndarray, *, level: float = 0.95) -> Auc:
    """ROC AUC of ``score`` for the binary labels ``y`` with DeLong's standard error.

    DeLong, DeLong & Clarke-Pearson (1988), computed with midranks (Sun & Xu 2014) in
    O(n log n). With m positives and n negatives, ``V10_i`` is the share of negatives scored
    below positive i (ties count 1/2), ``V01_j`` the share of positives scored above negative
    j; AUC = mean(V10) and ``Var(AUC) = var(V10)/m + var(V01)/n``. The interval is
    AUC +- z se, clipped to [0, 1].

    Parameters
    ----------
    y : ndarray of shape (n_samples,)
        1 for positives (the target domain), 0 for negatives.
    score : ndarray of shape (n_samples,)
        Higher = more likely positive.
    level : float, default=0.95
        Confidence level of the interval.
    """
    from scipy.stats import norm, rankdata

    y = np.asarray(y).astype(bool)
    score = np.asarray(score, dtype=np.float64)
    pos, neg = score[y], score[~y]
    m, n = len(pos), len(neg)
    if m < 2 or n < 2:
        raise InputError(f"an AUC interval needs at least 2 rows on each side; got {m} and {n}")
    rank_all = rankdata(np.concatenate([pos, neg]))
    rank_pos, rank_neg = rankdata(pos), rankdata(neg)
    v10 = (rank_all[:m] - rank_pos) / n  # (m,) share of negatives below each positive
    v01 = 1.0 - (rank_all[m:] - rank_neg) / m  # (n,) share of positives above each negative
    auc = float(v10.mean())
    se = math.sqrt(v10.var(ddof=1) / m + v01.var(ddof=1) / n)
    z = float(norm.ppf(0.5 + level / 2))
    return Auc(
        value=auc,
        ci_low=max(0.0, auc - z * se),
        ci_high=min(1.0, auc + z * se),
        se=se,
        n_positive=m,
        n_negative=n,
        level=level,
    )

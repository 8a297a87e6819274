"""Convergence verdicts: is a training run still improving, plateaued, diverging or oscillating?

The verdict reads the per-epoch train cost (the objective the optimizer minimizes) with a trend
test, not a comparison of two epochs: on the last window of epochs, the Mann-Kendall test (the
sign of every later-minus-earlier pair; Kendall's tau against the epoch number) says whether
the cost moves at all, the Theil-Sen slope (the median of the pairwise slopes) says by how much
per epoch, and the count of sign changes of successive differences with their size says
whether it bounces. A non-finite cost is diverging at once. Pure Python: no torch, no NumPy.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["ConvergenceVerdict", "VERDICTS", "convergence_verdict", "history_verdict",
           "mann_kendall", "theil_sen_slope", "sign_changes"]

#: verdict code -> what the user reads (the advice after the dash)
VERDICTS: dict[str, str] = {
    "improving": "still improving — train longer",
    "plateaued": "plateaued",
    "diverging": "diverging — lower the learning rate",
    "oscillating": "oscillating — lower the learning rate or raise the batch size",
    "too_short": "too few epochs to judge — train longer",
}

#: the fewest epochs a window may hold: with 5 values, only a monotone run reaches p < 0.05
MIN_EPOCHS = 5
#: the most epochs the window holds: the recent behaviour, not the first steep descent
MAX_WINDOW = 20
#: significance level of the Mann-Kendall test
ALPHA = 0.05
#: a significant trend must move the cost by at least this share of the first epoch's cost per epoch
RELATIVE_SLOPE = 0.002
#: oscillating: epoch-to-epoch moves of at least this share of the first epoch's cost ...
RELATIVE_SWING = 0.05
#: ... whose direction changes in at least this share of the chances (iid noise: 2/3)
CHANGE_SHARE = 1 / 3


@dataclass(frozen=True)
class ConvergenceVerdict:
    """The verdict on one cost curve and the figures it rests on.

    Attributes
    ----------
    code : str
        ``improving``, ``plateaued``, ``diverging``, ``oscillating`` or ``too_short``.
    verdict : str
        The sentence shown (``VERDICTS[code]``).
    reason : str
        The figures behind it, in words.
    window : int
        Epochs tested (the last ``window`` finite epochs).
    tau, p_value, slope, relative_slope, swing, changes : float or int or None
        Kendall's tau and the two-sided Mann-Kendall p-value of the cost against the epoch, the
        Theil-Sen slope (cost per epoch) and that slope over the first epoch's cost, the median
        epoch-to-epoch move over that cost, and the sign changes of successive differences
        (``None`` where the window is too short or the cost was not finite).
    """

    code: str
    verdict: str
    reason: str
    window: int = 0
    tau: float | None = None
    p_value: float | None = None
    slope: float | None = None
    relative_slope: float | None = None
    swing: float | None = None
    changes: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "verdict": self.verdict, "reason": self.reason, "window": self.window,
                "tau": self.tau, "p_value": self.p_value, "slope": self.slope,
                "relative_slope": self.relative_slope, "swing": self.swing, "changes": self.changes}


def mann_kendall(values: Sequence[float]) -> tuple[float, float]:
    """(Kendall's tau-b of ``values`` against their index, two-sided p-value).

    Exact (the permutation distribution of the inversion count) without ties, as
    ``scipy.stats.kendalltau(range(n), values, method="exact")``; with ties, the normal
    approximation with the tie-corrected variance (``method="asymptotic"``).
    """
    values = [float(v) for v in values]
    n = len(values)
    if n < 2:
        raise ValueError(f"the trend test needs at least 2 values, got {n}")
    s = 0
    for i in range(n):
        for j in range(i + 1, n):
            s += (values[j] > values[i]) - (values[j] < values[i])
    pairs = n * (n - 1) // 2
    ties = _tie_groups(values)
    tied_pairs = sum(t * (t - 1) // 2 for t in ties)
    tau = s / math.sqrt(pairs * (pairs - tied_pairs)) if pairs > tied_pairs else 0.0
    if not tied_pairs:
        return tau, _exact_p(n, (pairs - s) // 2)
    var = (n * (n - 1) * (2 * n + 5) - sum(t * (t - 1) * (2 * t + 5) for t in ties)) / 18
    return tau, (math.erfc(abs(s) / math.sqrt(2 * var)) if var > 0 else 1.0)


def _tie_groups(values: Sequence[float]) -> list[int]:
    counts: dict[float, int] = {}
    for v in values:
        counts[v] = counts.get(v, 0) + 1
    return [c for c in counts.values() if c > 1]


def _exact_p(n: int, discordant: int) -> float:
    """Two-sided p of ``discordant`` inversions among n distinct values: 2 P(D <= min(d, N - d))
    under the uniform permutation distribution (Mahonian numbers)."""
    pairs = n * (n - 1) // 2
    low = min(discordant, pairs - discordant)
    counts = [1]  # counts[k]: permutations of the first m items with k inversions
    for m in range(2, n + 1):
        grown = [0] * (len(counts) + m - 1)
        for k, c in enumerate(counts):
            for extra in range(m):  # the new item placed with 0 .. m-1 larger items after it
                grown[k + extra] += c
        counts = grown
    return min(1.0, 2 * sum(counts[:low + 1]) / math.factorial(n))


def theil_sen_slope(values: Sequence[float]) -> float:
    """The median of the pairwise slopes ``(values[j] - values[i]) / (j - i)``, as
    ``scipy.stats.theilslopes(values)[0]``."""
    values = [float(v) for v in values]
    slopes = [(values[j] - values[i]) / (j - i) for i in range(len(values)) for j in range(i + 1, len(values))]
    return statistics.median(slopes)


def sign_changes(values: Sequence[float]) -> int:
    """How often the direction of successive differences flips (equal neighbours skipped)."""
    values = [float(v) for v in values]
    signs = [d > 0 for d in (b - a for a, b in zip(values, values[1:])) if d != 0]
    return sum(a != b for a, b in zip(signs, signs[1:]))


def convergence_verdict(costs: Sequence[float], *, window: int | None = None) -> ConvergenceVerdict:
    """The convergence verdict on a per-epoch cost curve.

    Parameters
    ----------
    costs : sequence of float
        The cost after each epoch, first epoch first.
    window : int, default=None
        Epochs to test, counted from the end; by default half the run, between 5 and 20.

    Returns
    -------
    ConvergenceVerdict
        ``diverging`` at the first non-finite cost; ``too_short`` under 5 epochs; otherwise,
        on the window: a significant trend (Mann-Kendall p < 0.05) moving the cost by at least
        0.2% of the first epoch's cost per epoch (Theil-Sen) is ``diverging`` upwards and
        ``improving`` downwards; without one, moves of 5% of that cost or more whose direction flips at
        least every third move are ``oscillating``; anything else is ``plateaued``.
    """
    for epoch, cost in enumerate(costs, start=1):
        if not math.isfinite(cost):
            return _verdict("diverging", f"the cost became {cost} at epoch {epoch}")
    n = len(costs)
    if n < MIN_EPOCHS:
        return _verdict("too_short", f"{n} epoch(s); the trend test needs at least {MIN_EPOCHS}", window=n)
    size = min(n, max(MIN_EPOCHS, window if window is not None else min(MAX_WINDOW, n // 2)))
    recent = [float(c) for c in costs[-size:]]
    # the scale is the first epoch's cost: once the cost is a small share of where it started,
    # what is left to gain is small too, however fast it still falls in relative terms
    scale = abs(float(costs[0])) or abs(statistics.median(recent)) or 1.0
    tau, p = mann_kendall(recent)
    slope = theil_sen_slope(recent)
    swing = statistics.median(abs(b - a) for a, b in zip(recent, recent[1:])) / scale
    changes = sign_changes(recent)
    figures = dict(window=size, tau=tau, p_value=p, slope=slope, relative_slope=slope / scale, swing=swing,
                   changes=changes)
    trend = (f"over the last {size} epochs the cost changes by {100 * slope / scale:+.2g}% of epoch 1's cost "
             f"per epoch (Theil-Sen), Mann-Kendall p = {p:.2g}")
    if p < ALPHA and abs(slope) / scale >= RELATIVE_SLOPE:
        return _verdict("diverging" if slope > 0 else "improving", trend, **figures)
    if swing >= RELATIVE_SWING and changes >= CHANGE_SHARE * (size - 2):
        return _verdict("oscillating", f"{trend}; it swings by {100 * swing:.2g}% of epoch 1's cost from "
                                       f"epoch to epoch and changes direction {changes} times in {size - 1} moves",
                        **figures)
    return _verdict("plateaued", trend, **figures)


def _verdict(code: str, reason: str, **figures: Any) -> ConvergenceVerdict:
    return ConvergenceVerdict(code=code, verdict=VERDICTS[code], reason=reason, **figures)


def history_verdict(history: Mapping[str, Any]) -> ConvergenceVerdict:
    """The verdict on a training history's per-epoch train cost (``history.json``'s ``epochs``);
    a history that stopped on a non-finite train or dev cost (``diverged``) is diverging."""
    diverged = history.get("diverged")
    if isinstance(diverged, Mapping):
        return _verdict("diverging", f"the cost became {diverged.get('cost')} at epoch {diverged.get('epoch')}")
    costs = [float(e["train_cost"]) for e in history.get("epochs") or []]
    return convergence_verdict(costs)

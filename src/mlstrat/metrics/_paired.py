"""Comparing two models on the same dev rows (docs/method.md §9): the difference and its interval.

Two models evaluated on the **same** rows are compared *paired*: each row is scored by both,
so what the rows have in common (easy rows, hard rows) cancels out of the difference and its
interval is much tighter than two independent intervals put side by side.

- error rates: Newcombe's (1998) hybrid score interval for paired proportions, "method 10"
  (a Wilson interval on each rate, combined with the estimated correlation phi of the paired
  outcomes), and McNemar's exact test on the discordant rows;
- a mean of per-row losses (MAE, ``mean:COL``): the CLT interval of the mean per-row difference;
- RMSE: the delta method on the paired mean squared errors;
- a ratio of sums (``ratio:NUM/DEN``, weighted error): the delta method on the paired sums
  (the linearized per-row contributions of both ratios, differenced row by row).

Rows that differ between the runs cannot be paired: :func:`unpaired_difference` combines the
two runs' own intervals by MOVER (Zou & Donner 2008), which for two Wilson intervals is
Newcombe's unpaired method 10. A change is "better" or "worse" only when the 95% interval
excludes 0, else "tied within noise".
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from mlstrat._exceptions import InputError
from mlstrat.metrics._intervals import Z95, mover_difference, rmse_interval, wilson_interval

__all__ = [
    "BETTER",
    "WORSE",
    "TIED",
    "KINDS",
    "Difference",
    "mcnemar_exact",
    "paired_rate_interval",
    "paired_difference",
    "unpaired_difference",
    "verdict",
]

BETTER = "better"
WORSE = "worse"
TIED = "tied within noise"

#: Per-row quantities a metric stores, by kind: a 0/1 mistake (``rate``), a per-row loss whose
#: mean is the metric (``mean``), a squared error (``rmse``), a numerator and denominator (``ratio``).
KINDS: tuple[str, ...] = ("rate", "mean", "rmse", "ratio")


@dataclass(frozen=True)
class Difference:
    """Run B minus run A on one metric, with its 95% interval and the verdict for B.

    Attributes
    ----------
    before, after : float
        The metric of A and of B.
    value : float
        ``after - before``.
    ci_low, ci_high : float
        95% interval of ``value``.
    verdict : str
        ``"better"`` or ``"worse"`` (B against A, in the metric's direction) when the interval
        excludes 0, else ``"tied within noise"``.
    paired : bool
        True when computed on the same rows (paired); False: two independent samples.
    n : int
        Rows compared (paired), or the smaller of the two sizes (unpaired).
    method : str
        How the interval was computed.
    p_value : float or None
        McNemar's exact two-sided p-value (paired error rates only).
    discordant : tuple of int or None
        ``(A right and B wrong, A wrong and B right)`` (paired error rates only).
    """

    before: float
    after: float
    value: float
    ci_low: float
    ci_high: float
    verdict: str
    paired: bool
    n: int
    method: str
    p_value: float | None = None
    discordant: tuple[int, int] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "before": self.before, "after": self.after, "change": self.value,
            "ci_low": self.ci_low, "ci_high": self.ci_high, "verdict": self.verdict,
            "paired": self.paired, "n": self.n, "method": self.method, "p_value": self.p_value,
            "discordant": None if self.discordant is None else list(self.discordant),
        }


def verdict(ci_low: float, ci_high: float, *, higher_is_better: bool = False) -> str:
    """``"better"``/``"worse"`` for B when the interval of B - A excludes 0, else tied."""
    if not (math.isfinite(ci_low) and math.isfinite(ci_high)):
        return TIED
    if ci_high < 0:
        return WORSE if higher_is_better else BETTER
    if ci_low > 0:
        return BETTER if higher_is_better else WORSE
    return TIED


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value from the discordant counts ``b`` and ``c``.

    Under "no difference", each discordant row goes either way with probability 1/2:
    ``p = min(1, 2 * P(Binomial(b + c, 1/2) <= min(b, c)))`` (statsmodels'
    ``mcnemar(table, exact=True)``).
    """
    from scipy.stats import binom

    n = int(b) + int(c)
    if n == 0:
        return 1.0
    return float(min(1.0, 2.0 * binom.cdf(min(int(b), int(c)), n, 0.5)))


def _phi(both: float, only_a: float, only_b: float, neither: float) -> float:
    """Newcombe's correlation estimate of the paired outcomes, with his continuity adjustment:
    a positive ``ad - bc`` is reduced by ``n / 2`` (to 0 at most); a negative one is kept."""
    n = both + only_a + only_b + neither
    margins = (both + only_a) * (only_b + neither) * (both + only_b) * (only_a + neither)
    if margins <= 0:
        return 0.0
    cross = both * neither - only_a * only_b
    if cross > n / 2:
        cross -= n / 2
    elif cross >= 0:
        cross = 0.0
    return cross / math.sqrt(margins)


def paired_rate_interval(both: int, only_a: int, only_b: int, neither: int, *,
                         z: float = Z95) -> tuple[float, float, float]:
    """``(d, low, high)`` for ``d = p_a - p_b`` from a paired 2x2 table (Newcombe 1998, method 10).

    Parameters
    ----------
    both, only_a, only_b, neither : int
        Rows where the event (a mistake) happened to both A and B, to A only, to B only, to
        neither (``a, b, c, d`` in Newcombe's notation, with ``p_a = (a + b) / n``).

    Notes
    -----
    With Wilson intervals ``(l1, u1)`` of ``p_a`` and ``(l2, u2)`` of ``p_b`` and the
    correlation ``phi`` (:func:`_phi`)::

        low  = d - sqrt((p_a - l1)^2 - 2 phi (p_a - l1)(u2 - p_b) + (u2 - p_b)^2)
        high = d + sqrt((p_b - l2)^2 - 2 phi (p_b - l2)(u1 - p_a) + (u1 - p_a)^2)
    """
    n = both + only_a + only_b + neither
    if n <= 0:
        raise InputError("a paired comparison needs at least one row")
    p_a, p_b = (both + only_a) / n, (both + only_b) / n
    l1, u1 = wilson_interval(both + only_a, n, z=z)
    l2, u2 = wilson_interval(both + only_b, n, z=z)
    phi = _phi(both, only_a, only_b, neither)
    d = p_a - p_b
    low = d - math.sqrt(max((p_a - l1) ** 2 - 2 * phi * (p_a - l1) * (u2 - p_b) + (u2 - p_b) ** 2, 0.0))
    high = d + math.sqrt(max((p_b - l2) ** 2 - 2 * phi * (p_b - l2) * (u1 - p_a) + (u1 - p_a) ** 2, 0.0))
    return d, max(low, -1.0), min(high, 1.0)


def _rate(a: Any, b: Any, z: float) -> tuple[float, float, float, float, float, dict[str, Any]]:
    wrong_a, wrong_b = np.asarray(a, dtype=bool), np.asarray(b, dtype=bool)
    both = int(np.sum(wrong_a & wrong_b))
    only_a = int(np.sum(wrong_a & ~wrong_b))
    only_b = int(np.sum(~wrong_a & wrong_b))
    neither = len(wrong_a) - both - only_a - only_b
    # B - A: the interval of p_b - p_a is the mirror image of that of p_a - p_b
    d, low, high = paired_rate_interval(both, only_a, only_b, neither, z=z)
    extra = {"p_value": mcnemar_exact(only_a, only_b), "discordant": (only_b, only_a),
             "method": "Newcombe paired score interval (method 10); McNemar exact test"}
    return float(wrong_a.mean()), float(wrong_b.mean()), -d, -high, -low, extra


def _mean(a: Any, b: Any, z: float) -> tuple[float, float, float, float, float, dict[str, Any]]:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    diff = b - a
    n = len(diff)
    half = z * float(np.std(diff, ddof=1)) / math.sqrt(n) if n > 1 else 0.0
    d = float(diff.mean())
    method = {"method": "paired CLT on per-row differences"}
    return float(a.mean()), float(b.mean()), d, d - half, d + half, method


def _rmse(a: Any, b: Any, z: float) -> tuple[float, float, float, float, float, dict[str, Any]]:
    se_a, se_b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    n = len(se_a)
    m_a, m_b = float(se_a.mean()), float(se_b.mean())
    r_a, r_b = math.sqrt(m_a), math.sqrt(m_b)
    method = {"method": "delta method on paired mean squared errors"}
    if m_a == 0 or m_b == 0:
        # one model is exact on every row: the difference is the other one's RMSE, up to sign
        other, sign = (se_b, 1.0) if m_a == 0 else (se_a, -1.0)
        _, lo, hi = rmse_interval(n, float(other.sum()), float((other * other).sum()), z=z)
        lo, hi = sorted((sign * lo, sign * hi))
        return r_a, r_b, r_b - r_a, lo, hi, method
    # d = sqrt(M_b) - sqrt(M_a): gradient (1 / 2 r_b, -1 / 2 r_a) on the paired means of e^2
    contribution = se_b / (2 * r_b) - se_a / (2 * r_a)
    half = z * float(np.std(contribution, ddof=1)) / math.sqrt(n) if n > 1 else 0.0
    d = r_b - r_a
    return r_a, r_b, d, d - half, d + half, method


def _ratio(a: Any, b: Any, z: float) -> tuple[float, float, float, float, float, dict[str, Any]]:
    (x_a, y_a), (x_b, y_b) = [(np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64))
                              for x, y in (a, b)]
    n = len(x_a)
    if y_a.sum() <= 0 or y_b.sum() <= 0:
        raise InputError("a ratio's denominator sums to 0 on the compared rows; the ratio is undefined")
    r_a, r_b = x_a.sum() / y_a.sum(), x_b.sum() / y_b.sum()
    # each row's linearized contribution to each ratio, differenced row by row
    contribution = (x_b - r_b * y_b) / y_b.mean() - (x_a - r_a * y_a) / y_a.mean()
    half = z * float(np.std(contribution, ddof=1)) / math.sqrt(n) if n > 1 else 0.0
    d = float(r_b - r_a)
    return float(r_a), float(r_b), d, d - half, d + half, {"method": "delta method on paired sums"}


_PAIRED = {"rate": _rate, "mean": _mean, "rmse": _rmse, "ratio": _ratio}


def paired_difference(kind: str, a: Any, b: Any, *, higher_is_better: bool = False,
                      z: float = Z95) -> Difference:
    """B minus A on the same rows, row ``i`` of ``a`` and of ``b`` being the same example.

    Parameters
    ----------
    kind : {"rate", "mean", "rmse", "ratio"}
        ``rate``: ``a``, ``b`` are 0/1 mistakes per row; ``mean``: per-row losses (absolute
        errors, a ``mean:COL`` column); ``rmse``: per-row squared errors; ``ratio``: ``a`` and
        ``b`` are ``(numerators, denominators)`` pairs of per-row arrays.
    a, b : array-like
        Run A's and run B's per-row values, aligned on the same rows.
    higher_is_better : bool, default=False
        The metric's direction (for the verdict).

    Returns
    -------
    Difference

    Examples
    --------
    >>> d = paired_difference("rate", [1, 1, 0, 0, 1] * 20, [0, 1, 0, 0, 1] * 20)
    >>> round(d.value, 2), d.verdict
    (-0.2, 'better')
    """
    if kind not in _PAIRED:
        raise InputError(f"kind {kind!r} is not one of {', '.join(KINDS)}")
    sizes = {len(x) for x in (a, b)} if kind != "ratio" else {len(a[0]), len(a[1]), len(b[0]), len(b[1])}
    if len(sizes) != 1 or 0 in sizes:
        raise InputError(f"a paired comparison needs the same non-zero number of rows on both sides "
                         f"(got {sorted(sizes)})")
    before, after, d, low, high, extra = _PAIRED[kind](a, b, z)
    return Difference(before=before, after=after, value=d, ci_low=low, ci_high=high,
                      verdict=verdict(low, high, higher_is_better=higher_is_better), paired=True,
                      n=sizes.pop(), method=extra.pop("method"), **extra)


def unpaired_difference(before: tuple[float, float, float], after: tuple[float, float, float], *,
                        n: int = 0, higher_is_better: bool = False) -> Difference:
    """B minus A from each run's own figure and 95% interval, the runs' rows being different.

    ``before`` and ``after`` are ``(value, ci_low, ci_high)``. MOVER (Zou & Donner 2008)
    combines them as two independent estimates; with Wilson intervals this is Newcombe's
    hybrid score interval for independent proportions.
    """
    (a, a_low, a_high), (b, b_low, b_high) = before, after
    low, high = mover_difference(b, b_low, b_high, a, a_low, a_high)
    return Difference(before=a, after=b, value=b - a, ci_low=low, ci_high=high,
                      verdict=verdict(low, high, higher_is_better=higher_is_better), paired=False,
                      n=int(n), method="independent intervals combined (MOVER)")

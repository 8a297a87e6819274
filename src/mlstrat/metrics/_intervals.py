"""Confidence intervals, in pure Python so that ``mlstrat diagnose --errors`` stays light.

- a proportion (error, accuracy): Wilson score interval;
- a difference of two independently estimated rates (the diagnosis components): MOVER
  (Zou & Donner 2008), which with Wilson intervals on both sides is exactly Newcombe's (1998)
  hybrid score interval, "method 10";
- a smooth function of counts (F1, weighted error): delta method, a normal interval clipped
  to [0, 1] (see :mod:`mlstrat.metrics._from_counts`);
- a mean of per-example values (MAE, a mean log loss, a mean IoU): the CLT interval
  ``mean +- z s / sqrt(n)`` with the sample standard deviation ``s``;
- RMSE: the CLT interval of the mean squared error, square-rooted at both ends (a monotone
  transform keeps the coverage and, unlike the delta method on the root, never goes below 0);
- a ratio of sums (word error rate ``sum(errors) / sum(words)``) and R^2 (one minus a ratio of
  means): the delta method (linearization), as for cluster-sampled ratios.

Every function here takes the sums one engine pass produces (``n``, ``sum x``,
``sum x^2``, ...), never rows, so the intervals cost the same at 100 rows or 100M.
"""

from __future__ import annotations

import math

__all__ = [
    "Z95",
    "wilson_interval",
    "mover_difference",
    "normal_interval",
    "needed_size",
    "settling_size",
    "mean_interval",
    "rmse_interval",
    "ratio_interval",
    "r2_interval",
    "needed_size_sd",
]

#: The two-sided 95% normal quantile, ``scipy.stats.norm.ppf(0.975)``.
Z95: float = 1.959963984540054


def wilson_interval(errors: float, n: float, *, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for a proportion ``errors / n``.

    Parameters
    ----------
    errors : float
        Number of "successes" (here: mistakes); may be fractional (e.g. ``rate * n``).
    n : float
        Number of trials; must be positive.
    z : float, default=Z95
        Normal quantile (1.96 for 95%).

    Returns
    -------
    (low, high) : tuple of float
        Bounds in [0, 1].
    """
    if n <= 0:
        raise ValueError(f"wilson_interval: n must be positive (got {n})")
    p = errors / n
    z2 = z * z
    denom = 1.0 + z2 / n
    centre = (p + z2 / (2.0 * n)) / denom
    half = z / denom * math.sqrt(max(p * (1.0 - p), 0.0) / n + z2 / (4.0 * n * n))
    # exact ends: floating point leaves ~1e-17 where the interval must touch 0 or 1
    low = 0.0 if errors <= 0 else max(0.0, centre - half)
    high = 1.0 if errors >= n else min(1.0, centre + half)
    return low, high


def mover_difference(
    a: float, a_low: float, a_high: float, b: float, b_low: float, b_high: float
) -> tuple[float, float]:
    """Interval for ``a - b`` from separate intervals on two independent estimates.

    ``low = d - sqrt((a - a_low)^2 + (b_high - b)^2)`` and
    ``high = d + sqrt((a_high - a)^2 + (b - b_low)^2)``. With Wilson intervals on both
    rates this is Newcombe's hybrid score interval; a figure known exactly (a human level
    given as a number) has ``low = high = value`` and contributes no width.
    """
    d = a - b
    low = d - math.sqrt((a - a_low) ** 2 + (b_high - b) ** 2)
    high = d + math.sqrt((a_high - a) ** 2 + (b - b_low) ** 2)
    return low, high


def normal_interval(value: float, sd: float, *, z: float = Z95) -> tuple[float, float]:
    """``value +- z * sd`` clipped to [0, 1] (delta-method intervals of rates)."""
    return max(0.0, value - z * sd), min(1.0, value + z * sd)


def needed_size(p1: float, p2: float, delta: float, *, z: float = Z95) -> int:
    """Examples per split for a 95% interval of ``p2 - p1`` to have half-width ``delta``.

    ``n = z^2 (p1 (1 - p1) + p2 (1 - p2)) / delta^2`` (normal approximation, equal sizes).
    """
    if delta <= 0:
        return 0
    return int(math.ceil(z * z * (p1 * (1 - p1) + p2 * (1 - p2)) / (delta * delta)))


def _gap_low(later: float, earlier: float, n: int, earlier_sampled: bool, z: float) -> float:
    """Lower end of the 95% interval of ``later - earlier`` with ``n`` examples per sample."""
    l_low, l_high = wilson_interval(later * n, n, z=z)
    if not earlier_sampled:  # an exact figure (a human level given as a number)
        return mover_difference(later, l_low, l_high, earlier, earlier, earlier)[0]
    e_low, e_high = wilson_interval(earlier * n, n, z=z)
    return mover_difference(later, l_low, l_high, earlier, e_low, e_high)[0]


def settling_size(
    later: float, earlier: float, *, earlier_sampled: bool = True, z: float = Z95
) -> int | None:
    """The smallest ``n`` at which the gap ``later - earlier`` would be told apart from 0.

    With ``n`` examples in each sampled split and the rates unchanged, the same intervals
    the diagnosis uses (Wilson on each rate, MOVER/Newcombe on the difference; an exact
    ``earlier`` figure adds no width) have a lower end above 0 at ``n`` and not at ``n - 1``.
    ``None`` when ``later <= earlier`` (no size makes a gap that is not there).
    """
    if later <= earlier:
        return None
    start = max(1, needed_size(earlier, later, later - earlier, z=z) // 4)
    low, high = 1, start
    while _gap_low(later, earlier, high, earlier_sampled, z) <= 0:
        low, high = high, high * 2
    # the lower end grows with n at fixed rates: bisect for the first n above 0
    while low < high:
        mid = (low + high) // 2
        if _gap_low(later, earlier, mid, earlier_sampled, z) > 0:
            high = mid
        else:
            low = mid + 1
    return high
def _sample_var(n: float, s1: float, s2: float) -> float:
    """Unbiased variance from ``n``, ``sum x`` and ``sum x^2`` (0 for a single value)."""
    if n <= 1:
        return 0.0
    return max(s2 - s1 * s1 / n, 0.0) / (n - 1)


def mean_interval(n: float, s1: float, s2: float, *, z: float = Z95) -> tuple[float, float, float]:
    """``(mean, low, high)``: CLT interval of a mean from ``n``, ``sum x``, ``sum x^2``.

    No clipping: the caller knows the metric's range (a mean absolute error clips at 0).
    """
    if n <= 0:
        raise ValueError(f"mean_interval: n must be positive (got {n})")
    mean = s1 / n
    half = z * math.sqrt(_sample_var(n, s1, s2) / n)
    return mean, mean - half, mean + half


def rmse_interval(n: float, se2: float, se4: float, *, z: float = Z95) -> tuple[float, float, float]:
    """``(rmse, low, high)`` from ``n``, ``sum e^2`` and ``sum e^4``.

    The CLT interval of the mean squared error, clipped at 0, then square-rooted.
    """
    mse, low, high = mean_interval(n, se2, se4, z=z)
    return math.sqrt(mse), math.sqrt(max(low, 0.0)), math.sqrt(max(high, 0.0))


def ratio_interval(n: float, sx: float, sy: float, sxx: float, syy: float, sxy: float, *,
                   z: float = Z95) -> tuple[float, float, float]:
    """``(r, low, high)`` for ``r = sum x / sum y`` (delta method).

    ``var(r) = n / (n - 1) * sum (x_i - r y_i)^2 / (sum y)^2``, with
    ``sum (x - r y)^2 = sum x^2 - 2 r sum xy + r^2 sum y^2``: the linearization variance of a
    ratio estimator, the standard interval of a word error rate over utterances.
    """
    if sy <= 0:
        raise ValueError(f"ratio_interval: the denominator sum must be positive (got {sy})")
    r = sx / sy
    ss = max(sxx - 2.0 * r * sxy + r * r * syy, 0.0)
    var = ss / (sy * sy) * (n / (n - 1) if n > 1 else 1.0)
    half = z * math.sqrt(var)
    return r, r - half, r + half


def r2_interval(n: float, sums: dict[str, float], *, z: float = Z95) -> tuple[float, float, float]:
    """``(r2, low, high)``: ``R^2 = 1 - SSE / SST`` with a delta-method interval.

    ``sums`` holds ``y, y2, y3, y4`` (powers of ``y_true``), ``e2, e4`` (squared and fourth
    power residuals) and ``e2y, e2y2``. With ``a = e^2`` and ``b = (y - ybar)^2``, R^2 is
    ``1 - mean(a) / mean(b)`` and the ratio's linearization variance is
    ``(var a - 2 q cov(a, b) + q^2 var b) / (n mean(b)^2)``, ``q = mean(a) / mean(b)``
    (the O(1/n) effect of estimating ``ybar`` is ignored). ``nan`` when ``y_true`` is constant.
    """
    nan = float("nan")
    if n < 2:
        return nan, nan, nan
    m = sums["y"] / n
    sst = max(sums["y2"] - n * m * m, 0.0)
    if sst <= 0:
        return nan, nan, nan
    a_bar, b_bar = sums["e2"] / n, sst / n
    sb2 = sums["y4"] - 4 * m * sums["y3"] + 6 * m * m * sums["y2"] - 4 * m**3 * sums["y"] + n * m**4
    sab = sums["e2y2"] - 2 * m * sums["e2y"] + m * m * sums["e2"]
    var_a = max(sums["e4"] / n - a_bar * a_bar, 0.0)
    var_b = max(sb2 / n - b_bar * b_bar, 0.0)
    cov = sab / n - a_bar * b_bar
    q = a_bar / b_bar
    denom = n * b_bar * b_bar
    if denom <= 0:  # y_true varies by less than float precision can square
        return 1.0 - q, nan, nan
    var = max(var_a - 2 * q * cov + q * q * var_b, 0.0) / denom
    half = z * math.sqrt(var)
    r2 = 1.0 - q
    return r2, r2 - half, r2 + half


def needed_size_sd(sd1: float, sd2: float, delta: float, *, z: float = Z95) -> int:
    """Examples per split for a 95% interval of a difference of means to have half-width ``delta``.

    ``n = z^2 (sd1^2 + sd2^2) / delta^2`` with per-example standard deviations ``sd1, sd2``.
    """
    if delta <= 0:
        return 0
    return int(math.ceil(z * z * (sd1 * sd1 + sd2 * sd2) / (delta * delta)))

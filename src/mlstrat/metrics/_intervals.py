"""Confidence intervals, in pure Python so that ``mlstrat diagnose --errors`` stays light.

- a proportion (error, accuracy): Wilson score interval;
- a difference of two independently estimated rates (the diagnosis components): MOVER
  (Zou & Donner 2008), which with Wilson intervals on both sides is exactly Newcombe's (1998)
  hybrid score interval, "method 10";
- a smooth function of counts (F1, weighted error): delta method, a normal interval clipped
  to [0, 1] (see :mod:`mlstrat.metrics._compute`).
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

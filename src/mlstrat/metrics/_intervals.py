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

__all__ = ["Z95", "wilson_interval", "mover_difference", "normal_interval", "needed_size"]

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

"""A power law fitted to a dev-error curve, and what doubling the training set likely buys.

Model: ``dev(m) = floor + b * m^(-c)`` with ``floor`` the human level (the Bayes proxy; 0
without one). Taking logs, ``log(dev - floor) = log b - c log m`` is a straight line fitted by
ordinary least squares; the exponent's 95% interval and the prediction interval at ``2 M``
use Student's t with ``k - 2`` degrees of freedom (k sizes). With 4 sizes that is 2 degrees
of freedom: the intervals are wide, honestly so. They are clipped to the metric's range (an
error rate cannot pass 100%). When the exponent's interval includes 0 the data show no
reliable trend (the curve may be flat), and no forecast is made from it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mlstrat._exceptions import InputError

__all__ = ["PowerLawFit", "Doubling", "fit_power_law"]


@dataclass(frozen=True)
class Doubling:
    """Predicted dev figure when the training set doubles from ``size`` to ``2 * size``."""

    size: int
    now: float  # the dev figure measured at ``size``
    predicted: float  # the fitted curve at ``2 * size``
    ci_low: float
    ci_high: float

    @property
    def gain(self) -> float:
        """How much the dev figure is likely to drop (positive = better)."""
        return self.now - self.predicted

    def to_dict(self) -> dict[str, Any]:
        return {"from": self.size, "to": 2 * self.size, "dev_now": self.now,
                "dev_predicted": self.predicted, "ci_low": self.ci_low, "ci_high": self.ci_high,
                "gain": self.gain}


@dataclass(frozen=True)
class PowerLawFit:
    """``dev(m) = floor + scale * m^(-exponent)`` with the exponent's 95% interval."""

    exponent: float
    exponent_ci: tuple[float, float]
    scale: float
    floor: float
    points: int
    doubling: Doubling | None

    def predict(self, m: float) -> float:
        return self.floor + self.scale * m ** (-self.exponent)

    @property
    def reliable(self) -> bool:
        """Whether the exponent's 95% interval lies above 0: the dev figure is shown to fall
        with more data, so the doubling forecast means something."""
        return bool(self.exponent_ci[0] > 0)

    def to_dict(self) -> dict[str, Any]:
        return {"exponent": self.exponent, "exponent_ci": list(self.exponent_ci),
                "scale": self.scale, "floor": self.floor, "points": self.points, "reliable": self.reliable,
                "doubling": None if self.doubling is None else self.doubling.to_dict()}


def fit_power_law(sizes: Sequence[float], dev: Sequence[float], *, floor: float = 0.0,
                  ceiling: float | None = None) -> PowerLawFit:
    """Fit ``dev(m) = floor + b m^-c`` by least squares on logs; predict the dev figure at 2 M.

    Parameters
    ----------
    sizes : sequence of float
        Training-set sizes (at least 3 distinct ones).
    dev : sequence of float
        The dev figure (lower is better) at each size.
    floor : float, default=0
        The level the curve tends to (human level); points at or below it are left out.
    ceiling : float, default=None
        The metric's largest value (1 for an error rate): the prediction and its interval are
        clipped to it. ``None``: unbounded above (RMSE, MAE).

    Examples
    --------
    >>> fit = fit_power_law([100, 200, 400, 800], [0.1 + 2 * m ** -0.5 for m in (100, 200, 400, 800)],
    ...                     floor=0.1)
    >>> round(fit.exponent, 6)
    0.5
    """
    import numpy as np
    from scipy.stats import t as student

    m = np.asarray(sizes, dtype=np.float64)
    e = np.asarray(dev, dtype=np.float64)
    keep = (e - floor > 0) & (m > 0)
    if len(np.unique(m[keep])) < 3:
        raise InputError(
            "the power-law fit needs at least 3 sizes whose dev figure is above the floor "
            f"({floor:g}); give more --sizes (e.g. 10%,25%,50%,100%)"
        )
    x, y = np.log(m[keep]), np.log(e[keep] - floor)
    k = len(x)
    x_bar = x.mean()
    sxx = float(((x - x_bar) ** 2).sum())
    slope = float(((x - x_bar) * (y - y.mean())).sum() / sxx)
    intercept = float(y.mean() - slope * x_bar)
    resid = y - (intercept + slope * x)
    s = math.sqrt(float((resid**2).sum()) / (k - 2)) if k > 2 else 0.0
    q = float(student.ppf(0.975, k - 2))
    se_slope = s / math.sqrt(sxx)
    c = -slope
    biggest = float(m[keep].max())
    x0 = math.log(2 * biggest)
    se_pred = s * math.sqrt(1.0 / k + (x0 - x_bar) ** 2 / sxx)
    log_pred = intercept + slope * x0
    now = float(e[m == m.max()][0])
    top = math.inf if ceiling is None else ceiling

    def clipped(log_value: float) -> float:  # exp() of a wide interval's end can pass the metric's range
        return min(floor + math.exp(log_value), top)

    doubling = Doubling(int(round(float(m.max()))), now, clipped(log_pred), clipped(log_pred - q * se_pred),
                        clipped(log_pred + q * se_pred))
    return PowerLawFit(c, (c - q * se_slope, c + q * se_slope), math.exp(intercept), floor, k,
                       doubling)

"""Size policy: how many rows go to dev, test and train-dev (docs/method.md §1, rule 3)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from mlstrat._exceptions import ConfigError, InputError
from mlstrat._numbers import Size, parse_rate, parse_size
from mlstrat.metrics._intervals import Z95

__all__ = [
    "AUTO_FRACTION", "AUTO_CAP", "Z_95", "auto_size", "resolve_size", "resolvable_difference",
    "SizeRequest", "parse_request",
]

AUTO_FRACTION = 0.20  # auto dev/test share of eligible rows: 60/20/20 at 10k rows ...
AUTO_CAP = 10_000     # ... capped, which gives 98/1/1 at 1M and 99.5/0.25/0.25 at 4M
Z_95 = Z95  # two-sided 95% normal quantile


def auto_size(eligible: int) -> int:
    """``min(20% of eligible, 10 000)`` rows, rounded half up."""
    return min(int(math.floor(AUTO_FRACTION * eligible + 0.5)), AUTO_CAP)


def resolve_size(delta: float, error: float) -> int:
    """Rows needed so that a 95% interval on an error near ``error`` has half-width ``delta``.

    ``n = z^2 p (1 - p) / delta^2`` with ``z = 1.96``, rounded up.
    """
    if not 0 < delta < 1:
        raise ConfigError(f"resolve: {delta!r} must be a difference strictly between 0 and 1 (e.g. 0.01 or 1%)")
    return max(1, math.ceil(Z_95**2 * error * (1 - error) / delta**2))


def resolvable_difference(n: int, error: float) -> float | None:
    """Smallest error difference a split of ``n`` rows resolves at 95%: ``z sqrt(p (1-p) / n)``."""
    if n <= 0:
        return None
    return Z_95 * math.sqrt(error * (1 - error) / n)


@dataclass(frozen=True)
class SizeRequest:
    """A parsed size option together with the name it came from (for messages)."""

    name: str
    size: Size

    def rows(self, eligible: int, *, auto: int) -> int:
        kind = self.size.kind
        if kind == "auto":
            return auto
        if kind == "none":
            return 0
        if kind == "fraction":
            n = int(math.floor(self.size.value * eligible + 0.5))
            if n == 0:
                raise InputError(f"{self.name}={self.size}: {self.size.value:g} of {eligible} eligible rows "
                                 "is 0 rows; give a larger fraction or a count")
            return n
        return int(self.size.value)

    def describe(self) -> str:
        return str(self.size)


def parse_request(value: object, *, name: str, allow_none: bool = False) -> SizeRequest:
    """Parse ``auto`` | ``none`` | count | fraction | percentage; booleans and junk are rejected."""
    if isinstance(value, bool):
        raise ConfigError(f"{name}: {value!r} is not a size; give auto, a count like 500 or a fraction like 0.1")
    if isinstance(value, float) and value.is_integer() and value >= 1:
        value = int(value)
    return SizeRequest(name, parse_size(value, name=name, allow_none=allow_none))


def parse_error_rate(value: object, *, name: str) -> float:
    rate = parse_rate(value, name=name)  # type: ignore[arg-type]
    if not 0 < rate < 1:
        raise ConfigError(f"{name}: {value!r} must be strictly between 0 and 1 (e.g. 0.1 or 10%)")
    return rate

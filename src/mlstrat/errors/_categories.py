"""Category names and the marks that tag a sheet row with one, and the interval of a category's share."""

from __future__ import annotations

import math
from typing import Any

from mlstrat._exceptions import ConfigError
from mlstrat.metrics._intervals import Z95
from mlstrat.metrics._intervals import wilson_interval as _wilson

__all__ = [
    "wilson_interval",
    "parse_categories",
    "Z95",
    "TAGGED_MARKS",
    "UNTAGGED_MARKS",
]


#: marks that count as "tagged" (compared case-insensitively after stripping spaces)
TAGGED_MARKS: frozenset[str] = frozenset({"1", "x", "yes", "true", "✓", "✔"})
#: marks that count as "not tagged"
UNTAGGED_MARKS: frozenset[str] = frozenset({"", "0", "no", "false"})


def wilson_interval(k: int, n: int, *, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for a proportion ``k / n`` (``(nan, nan)`` when ``n == 0``)."""
    if n <= 0:
        return (math.nan, math.nan)
    return _wilson(k, n, z=z)


def parse_categories(categories: str | Any, *, reserved: tuple[str, ...] = ()) -> tuple[str, ...]:
    """Category names from ``"dog,great cat"`` or a sequence; duplicates are an error.

    Names are stripped; empty names are skipped. Two names equal up to case are duplicates
    (they would be two spreadsheet columns nobody can tell apart).
    """
    items = categories.split(",") if isinstance(categories, str) else list(categories)
    out: list[str] = []
    seen: dict[str, str] = {}
    reserved_lower = {r.lower(): r for r in reserved}
    for raw in items:
        name = str(raw).strip()
        if not name:
            continue
        key = name.lower()
        if key in seen:
            raise ConfigError(
                f"categories: {name!r} is given twice (as {seen[key]!r} and {name!r}); "
                "give each category once"
            )
        if key in reserved_lower:
            raise ConfigError(
                f"categories: {name!r} is the name of a sheet column "
                f"({reserved_lower[key]!r}); choose another category name"
            )
        seen[key] = name
        out.append(name)
    return tuple(out)

"""The number grammar shared by every command.

Rates (errors, human level, tolerances): ``"0.5%"`` is a percentage, a bare number is a
fraction in [0, 1); a bare number of 1 or more is rejected with a hint to add ``%`` (a bare
``1`` could mean 100% or 1%: write ``100%`` or ``1%``). On the command line a rate always
carries its ``%`` sign (:func:`require_percent`): ``--human 0.5`` could be 0.5% or 50%, and a
wrong guess changes the verdict. The Python API keeps fractions.

Sizes (dev/test/train-dev): ``"auto"``, an integer count (``"500"``), a fraction in (0, 1)
(``"0.1"``) or a percentage (``"10%"``).
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable
from dataclasses import dataclass

from mlstrat._exceptions import ConfigError

__all__ = ["require_percent", "parse_rate", "parse_size", "Size", "parse_assignments", "did_you_mean",
           "finite_or_none", "finite_number", "parse_numbers"]


def _float(text: str, name: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(f"{name}: {text!r} is not a number (examples: 0.05, 5%)") from None
    if not math.isfinite(value):
        raise ConfigError(f"{name}: {text!r} is not a finite number")
    return value


def parse_rate(text: str | float, *, name: str = "value") -> float:
    """Parse a rate: ``"0.5%"`` -> 0.005, ``"0.005"`` -> 0.005; must end in [0, 1].

    A bare ``1`` is refused like ``15``: it reads as 100% or as 1% (write ``100%`` or ``1%``).
    """
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        value, raw = float(text), repr(text)
        percent = False
    else:
        raw = str(text).strip()
        percent = raw.endswith("%")
        value = _float(raw[:-1].strip() if percent else raw, name)
    if percent:
        value /= 100.0
    elif value > 1:
        raise ConfigError(
            f"{name}: {raw} is above 1; rates are fractions in [0, 1]. "
            f"Did you mean {raw}% (= {value / 100:g})?"
        )
    elif value == 1:
        raise ConfigError(
            f"{name}: {raw} is ambiguous (100% or 1%?); rates are fractions in [0, 1]. "
            f"Did you mean {raw}% (= {value / 100:g})? Write 100% for all of them."
        )
    if not 0.0 <= value <= 1.0:
        raise ConfigError(f"{name}: {raw} is outside [0, 1]; give a fraction like 0.05 or 5%")
    return value


def require_percent(text: str, *, name: str, assignments: bool = False) -> None:
    """Refuse a bare number where the command line takes a rate: ``"0.5"`` -> ConfigError
    suggesting ``0.5%``. ``assignments``: ``"train=1%,dev=10%"``, each value checked; a
    ``name=value`` item (``"expert=0.5%"``) is checked on its value. ``0`` is the same in
    every unit and passes; text that is not a number is left to the parser's own message."""
    parts = str(text).split(",") if assignments else [str(text)]
    for part in parts:
        key, _, value = part.rpartition("=")
        value = value.strip()
        if not value or value.endswith("%"):
            continue
        try:
            number = float(value)
        except ValueError:
            continue
        if number == 0 or not math.isfinite(number):
            continue
        where = f"{name} {key.strip()}" if key.strip() else name
        fraction = f" (or {100 * number:g}% for the fraction {value})" if 0 < number < 1 else ""
        raise ConfigError(
            f"{where}: {value} has no unit; on the command line a rate carries a % sign: write "
            f"{value}%{fraction}"
        )


@dataclass(frozen=True)
class Size:
    """A requested split size: ``kind`` is ``"auto"``, ``"none"``, ``"count"`` or ``"fraction"``."""

    kind: str
    value: float = 0.0

    def resolve(self, eligible: int) -> int:
        """Number of rows this size asks for out of ``eligible`` rows (``auto``/``none`` -> 0)."""
        if self.kind == "count":
            return int(self.value)
        if self.kind == "fraction":
            return int(round(self.value * eligible))
        return 0

    def __str__(self) -> str:
        if self.kind == "count":
            return str(int(self.value))
        if self.kind == "fraction":
            return f"{self.value:g}"
        return self.kind


def parse_size(text: str | int | float, *, name: str = "size", allow_none: bool = False) -> Size:
    """Parse ``auto`` | ``none`` | a count | a fraction in (0, 1) | a percentage."""
    raw = str(text).strip().lower()
    if raw == "auto":
        return Size("auto")
    if raw == "none":
        if allow_none:
            return Size("none")
        raise ConfigError(f"{name}: 'none' is not allowed here; give auto, a count or a fraction")
    if raw.endswith("%"):
        value = _float(raw[:-1], name) / 100.0
        if not 0.0 < value < 1.0:
            raise ConfigError(f"{name}: {text!r} must be a percentage strictly between 0% and 100%")
        return Size("fraction", value)
    value = _float(raw, name)
    if value <= 0:
        raise ConfigError(f"{name}: {text!r} must be positive (a count like 500 or a fraction like 0.1)")
    if value < 1:
        return Size("fraction", value)
    if value != int(value):
        raise ConfigError(f"{name}: {text!r} is not a whole count; give 500 or a fraction like 0.1")
    return Size("count", float(int(value)))


def parse_assignments(text: str, *, name: str, allowed: Iterable[str] | None = None) -> dict[str, str]:
    """Parse ``"a=1%,b=2%"`` into ``{"a": "1%", "b": "2%"}`` (values stay text)."""
    allowed = list(allowed) if allowed is not None else None
    out: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = part.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key or not value:
            raise ConfigError(f"{name}: {part!r} is not of the form key=value (example: dev=10%)")
        if allowed is not None and key not in allowed:
            raise ConfigError(f"{name}: unknown key {key!r}{did_you_mean(key, allowed)}; allowed: {', '.join(allowed)}")
        if key in out:
            raise ConfigError(f"{name}: {key!r} is given twice")
        out[key] = value
    if not out:
        raise ConfigError(f"{name}: nothing given (example: train=1%,dev=10%)")
    return out


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """``" (did you mean 'x'?)"`` when a close match exists, else ``""``."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def finite_or_none(value: object) -> float | None:
    """``float(value)`` when it is a finite number (not a bool), else ``None``."""
    if value is None or isinstance(value, bool):
        return None
    try:
        out = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


def finite_number(value: object) -> float | None:
    """``float(value)`` when it is already a finite int or float (not a bool, not text), else ``None``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


# --- lists of numbers (--image-shape 1,8,8, --value-range 0,16, --snr 0,20) ---


def parse_numbers(
    text: str | None, *, name: str, count: int | None = None, integer: bool = False
) -> tuple | None:
    """``"1,8,8"`` (or ``"1x8x8"``) -> (1, 8, 8); ``None`` stays ``None``.

    Raises
    ------
    ConfigError
        A part is not a number (a whole number when ``integer``), or there are not ``count``
        parts; the message names the option ``name``.
    """
    if text is None:
        return None
    parts = [p.strip() for p in text.replace("x", ",").split(",") if p.strip()]
    try:
        values = tuple(int(p) if integer else float(p) for p in parts)
    except ValueError:
        kind = "whole numbers" if integer else "numbers"
        raise ConfigError(
            f"{name}: {text!r} must be comma-separated {kind} (example: "
            f"{'1,8,8' if integer else '0,16'})"
        ) from None
    if count is not None and len(values) != count:
        raise ConfigError(
            f"{name}: {text!r} must have {count} comma-separated values; got {len(values)}"
        )
    return values

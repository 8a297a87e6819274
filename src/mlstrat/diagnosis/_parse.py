"""The figures a diagnosis reads from the command line or a caller: errors and sizes per split
(``train=1%,dev=10%``), values in a metric's unit, and the problem names of ``--fail-on``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from mlstrat._constants import SPLITS
from mlstrat._exceptions import ConfigError, InputError
from mlstrat._numbers import did_you_mean, parse_assignments, parse_rate
from mlstrat.diagnosis._results import (
    COMPONENTS,
)
from mlstrat.metrics._spec import CLASSIFICATION, REGRESSION, MetricSpec, parse_metric

__all__ = ["METRICS", "parse_errors", "parse_problems", "parse_sizes", "parse_value"]


#: Named metrics the diagnosis can decompose (``f1`` is decomposed as ``1 - F1``); besides
#: these, ``mean:COL`` and ``ratio:NUM/DEN`` (see :func:`mlstrat.metrics.parse_metric`).
METRICS: tuple[str, ...] = CLASSIFICATION + REGRESSION


_ALIASES = {"train-dev": "train_dev", "traindev": "train_dev"}


def _split_keys(mapping: Mapping[str, Any], option: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in mapping.items():
        name = _ALIASES.get(str(key).strip(), str(key).strip())
        if name not in SPLITS:
            raise ConfigError(
                f"{option}: unknown split {key!r}{did_you_mean(name, SPLITS)}; "
                f"allowed: {', '.join(SPLITS)}"
            )
        out[name] = value
    return out


def _as_mapping(value: str | Mapping[str, Any], option: str) -> dict[str, Any]:
    if isinstance(value, str):
        normalized = ",".join(
            _ALIASES.get(k.strip(), k.strip()) + sep + v
            for k, sep, v in (p.partition("=") for p in value.split(","))
        )
        return parse_assignments(normalized, name=option, allowed=SPLITS)
    return _split_keys(value, option)


def parse_value(text: str | float, *, name: str = "value") -> float:
    """A figure in a metric's unit: ``"3.2"`` -> 3.2, ``"5%"`` -> 0.05 (a word error rate)."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        value = float(text)
    else:
        raw = str(text).strip()
        percent = raw.endswith("%")
        try:
            value = float(raw[:-1] if percent else raw)
        except ValueError:
            raise ConfigError(f"{name}: {text!r} is not a number (examples: 3.2, 5%)") from None
        value = value / 100.0 if percent else value
    if not math.isfinite(value):
        raise ConfigError(f"{name}: {text!r} is not a finite number")
    return value


def _parser(spec: MetricSpec) -> Callable[..., float]:
    return parse_rate if spec.is_rate else parse_value


def parse_errors(errors: str | Mapping[str, Any], *, metric: str | MetricSpec = "error"
                 ) -> dict[str, float]:
    """``"train=1%,dev=10%"`` or ``{"train": 0.01, "dev": "10%"}`` -> figures in SPLITS order.

    Rates for classification metrics; plain numbers in the metric's unit for the others.
    """
    parse = _parser(parse_metric(metric))
    raw = _as_mapping(errors, "--errors")
    return {s: parse(raw[s], name=f"--errors {s}") for s in SPLITS if s in raw}


def parse_sizes(sizes: str | Mapping[str, Any]) -> dict[str, int]:
    """``"train=50000,dev=2000"`` -> counts; a split with 0 rows is an error."""
    raw = _as_mapping(sizes, "--sizes")
    out: dict[str, int] = {}
    for split in SPLITS:
        if split not in raw:
            continue
        text = str(raw[split]).strip().replace("_", "")
        try:
            value = float(text)
        except ValueError:
            raise ConfigError(
                f"--sizes {split}: {raw[split]!r} is not a count (example: dev=2000)"
            ) from None
        if not math.isfinite(value) or value != int(value) or value < 0:
            raise ConfigError(
                f"--sizes {split}: {raw[split]!r} is not a whole count (example: dev=2000)"
            )
        if value == 0:
            raise InputError(
                f"--sizes {split}: the split has 0 rows; an error rate needs at least one example"
            )
        out[split] = int(value)
    return out


def parse_problems(text: str | Iterable[str]) -> tuple[str, ...]:
    """``"variance,data_mismatch"`` -> validated component names (for ``--fail-on``)."""
    items = [p.strip() for p in (text.split(",") if isinstance(text, str) else text)]
    items = [p for p in items if p]
    if not items:
        raise ConfigError(f"--fail-on: nothing given; choose from {', '.join(COMPONENTS)}")
    for item in items:
        if item not in COMPONENTS:
            raise ConfigError(
                f"--fail-on: unknown problem {item!r}{did_you_mean(item, COMPONENTS)}; "
                f"choose from {', '.join(COMPONENTS)}"
            )
    return tuple(dict.fromkeys(items))

"""Readers of the diagnosis and metrics JSON documents: the per-split errors, the components
and the human level, whichever version of mlstrat wrote them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mlstrat._constants import COMPONENTS, SPLITS
from mlstrat._numbers import finite_or_none

__all__ = ["split_errors", "components_of", "bayes_proxy", "convergence_line"]


def split_errors(diagnosis: Mapping[str, Any] | None,
                 metrics: Mapping[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    """Per-split errors in the order of :data:`mlstrat.SPLITS`.

    Taken from ``diagnosis["errors"]`` when present (it carries the diagnosed metric), else
    from ``metrics["splits"][split]["error"]`` with ``error_ci``.
    """
    out: dict[str, dict[str, Any]] = {}
    diag_errors = (diagnosis or {}).get("errors") or {}
    metric_splits = (metrics or {}).get("splits") or {}
    for split in SPLITS:
        entry = diag_errors.get(split)
        if isinstance(entry, Mapping) and finite_or_none(entry.get("value")) is not None:
            out[split] = {"value": finite_or_none(entry.get("value")), "ci_low": finite_or_none(entry.get("ci_low")),
                          "ci_high": finite_or_none(entry.get("ci_high")), "n": entry.get("n")}
            continue
        entry = metric_splits.get(split)
        if isinstance(entry, Mapping) and finite_or_none(entry.get("error")) is not None:
            ci = entry.get("error_ci") or [None, None]
            out[split] = {"value": finite_or_none(entry.get("error")), "ci_low": finite_or_none(ci[0]),
                          "ci_high": finite_or_none(ci[1]), "n": entry.get("n")}
    return out


def components_of(diagnosis: Mapping[str, Any] | None) -> dict[str, dict[str, Any]]:
    """``name -> {"value", "ci_low", "ci_high", "significant", "status", "from", "to"}`` in staircase
    order (``status`` ``"computed"`` for runs recorded before it existed)."""
    comps = (diagnosis or {}).get("components") or {}
    out: dict[str, dict[str, Any]] = {}
    for name in COMPONENTS:
        entry = comps.get(name)
        if isinstance(entry, Mapping):
            out[name] = {"value": finite_or_none(entry.get("value")), "ci_low": finite_or_none(entry.get("ci_low")),
                         "ci_high": finite_or_none(entry.get("ci_high")),
                         "significant": bool(entry.get("significant")),
                         "status": entry.get("status") or "computed",
                         "from": entry.get("from"), "to": entry.get("to")}
    return out


def bayes_proxy(diagnosis: Mapping[str, Any] | None) -> tuple[str | None, float | None]:
    """``(name, value)`` of the human-level figure used as the Bayes proxy."""
    human = (diagnosis or {}).get("human_level") or {}
    proxy = human.get("bayes_proxy") or {}
    return proxy.get("name"), finite_or_none(proxy.get("value"))


def convergence_line(convergence: Mapping[str, Any] | None) -> str | None:
    """One line for a training run's recorded convergence verdict (``history["convergence"]`` or
    a train run's ``metrics["convergence"]``): ``"convergence: plateaued (over the last ...)"``;
    ``None`` without one."""
    if not isinstance(convergence, Mapping) or not convergence.get("verdict"):
        return None
    reason = f" ({convergence['reason']})" if convergence.get("reason") else ""
    return f"convergence: {convergence['verdict']}{reason}"

"""The change of each error and component from one run to another, with its 95% interval.

An error's change on dev is paired on the same dev rows when both runs kept them
(:func:`~mlstrat.runs._compare.error_change`); other splits, whose rows are not kept, combine
the two runs' own intervals (MOVER). A component is itself a gap between two splits of one
run, so its change also combines the two runs' component intervals as independent estimates
(MOVER, Zou & Donner 2008): exact in coverage when the runs' rows differ, conservative (wider)
when they share rows, since what two models have in common then cancels. A component that a
run could not attribute (``undetermined``: no train-dev split for mismatched data) has no
change: an undetermined gap minus a number is not a change of that component.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mlstrat._constants import COMPONENTS
from mlstrat.metrics._paired import TIED, Difference, unpaired_difference
from mlstrat.runs._rows import DevRows
from mlstrat.runs._run import Run

__all__ = ["Change", "component_change", "error_changes", "component_changes", "UNDETERMINED",
           "COMPONENTS_UNPAIRED", "attributed", "figure_pair"]

#: Why a component's change has no value: a run could not attribute the gap.
UNDETERMINED = "undetermined"
#: How a component's change interval is computed.
COMPONENTS_UNPAIRED = "compared unpaired: the runs' component intervals combined"
_NO_INTERVAL = "a run recorded no interval for it"


@dataclass(frozen=True)
class Change:
    """One figure from run A to run B: its difference with interval, or why there is none.

    Attributes
    ----------
    before, after : float or None
        The figure in A and in B.
    difference : Difference or None
        B - A with its 95% interval and verdict; None when no interval can be computed.
    pairing : str or None
        ``paired``, or ``compared unpaired: <why>``.
    no_interval : str or None
        Why there is no interval (``undetermined``, ``different metrics``, ...), else None.
    """

    before: float | None
    after: float | None
    difference: Difference | None = None
    pairing: str | None = None
    no_interval: str | None = None

    def to_dict(self) -> dict[str, Any]:
        d = self.difference
        return {"ci_low": None if d is None else d.ci_low, "ci_high": None if d is None else d.ci_high,
                "verdict": None if d is None else d.verdict, "paired": None if d is None else d.paired,
                "pairing": self.pairing, "no_interval": self.no_interval}


def _pairing(reason: str | None) -> str | None:
    if reason is None or reason == "paired":
        return reason
    return f"compared unpaired: {reason}"


def error_changes(a: Run, b: Run, error_change: Callable[..., tuple[Difference | None, str | None]], *,
                  rows: Callable[[Run], DevRows | None] | None = None) -> dict[str, Change]:
    """Per split both runs measured: B - A with its interval (dev paired when it can be), from
    ``error_change(a, b, split, rows=rows)`` (:func:`mlstrat.runs._compare.error_change`)."""
    ea, eb = a.errors(), b.errors()
    out: dict[str, Change] = {}
    for split in (s for s in ea if s in eb):
        before, after = ea[split]["value"], eb[split]["value"]
        if before is None or after is None:
            continue
        difference, reason = error_change(a, b, split, rows=rows)
        if difference is None:
            out[split] = Change(before, after, no_interval=reason or _NO_INTERVAL)
        else:
            out[split] = Change(before, after, difference, _pairing(reason))
    return out


def component_change(before: dict[str, Any] | None, after: dict[str, Any] | None) -> Change | None:
    """A component from one run to the next (entries of :meth:`Run.components`); None when a
    run lacks it."""
    if not before or not after:
        return None
    a, b = before.get("value"), after.get("value")
    if UNDETERMINED in (before.get("status"), after.get("status")):
        return Change(a, b, no_interval=UNDETERMINED)
    if a is None or b is None:
        return None
    bounds = (before.get("ci_low"), before.get("ci_high"), after.get("ci_low"), after.get("ci_high"))
    if any(v is None for v in bounds):
        return Change(a, b, no_interval=_NO_INTERVAL)
    # a component is a gap: lower is better whatever the metric's direction (it is decomposed as a loss)
    difference = unpaired_difference((a, bounds[0], bounds[1]), (b, bounds[2], bounds[3]))
    return Change(a, b, difference, COMPONENTS_UNPAIRED)


def component_changes(a: Run, b: Run) -> dict[str, Change]:
    """Per component both runs have: B - A with its interval, or why there is none."""
    ca, cb = a.components(), b.components()
    out = {name: component_change(ca.get(name), cb.get(name)) for name in COMPONENTS}
    return {name: change for name, change in out.items() if change is not None}


def noise_note(a: Run, b: Run, name: str) -> str:
    """`` (within noise)`` when component ``name``'s change from A to B has a 95% interval that
    holds 0: a step's summary must not read a move the interval does not support as one."""
    change = component_change(a.components().get(name), b.components().get(name))
    tied = change is not None and change.difference is not None and change.difference.verdict == TIED
    return " (within noise)" if tied else ""


def attributed(a: Run, b: Run, components: dict[str, Any]) -> dict[str, Any]:
    """The components that both runs attributed: a gap one of them calls undetermined (the
    train -> dev gap without a train-dev split) is not reported as that component moving."""
    ca, cb = a.components(), b.components()
    return {name: pair for name, pair in components.items()
            if UNDETERMINED not in (ca.get(name, {}).get("status"), cb.get(name, {}).get("status"))}


def figure_pair(before: float, after: float, diagnosis: dict[str, Any] | None, *,
                signed: bool = False) -> tuple[str, str]:
    """Two figures of one quantity at one precision (``+3.20 pts -> -0.40 pts``, not
    ``+3.2 pts -> -0.40 pts``)."""
    from mlstrat.display._numbers import column_digits, format_figure, is_rate_metric

    digits = column_digits([before, after]) if is_rate_metric(diagnosis) else None
    return (format_figure(before, diagnosis, signed=signed, digits=digits),
            format_figure(after, diagnosis, signed=signed, digits=digits))

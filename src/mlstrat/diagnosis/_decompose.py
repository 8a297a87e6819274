"""The decomposition (METHOD.md §3) and the decision rule that turns components into problems.

Decision rule
-------------
1. A component is **significant** when its value is at least the practical ``tolerance``
   AND, when its interval is known, the interval excludes 0 (``ci_low > 0``). Without
   sizes, only the tolerance applies (and the diagnosis warns ``no_intervals``).
2. The **principal problem** is the significant component with the largest value (ties:
   the earlier one on the ladder human -> train -> train-dev -> dev -> test).
3. Another significant component is **listed** in ``problems`` when it is comparable to the
   principal one: its value is at least ``COMPARABLE`` (one half) of the principal's value,
   or its interval reaches the principal's interval (the two cannot be told apart).
   ``problems`` is ordered largest first.
"""

from __future__ import annotations

from collections.abc import Mapping

from mlstrat.diagnosis._model import COMPONENTS, Component, ErrorEstimate
from mlstrat.metrics._intervals import mover_difference

__all__ = ["COMPARABLE", "decompose", "is_significant", "rank_problems"]

#: A significant component at least this fraction of the principal one is also a problem.
COMPARABLE = 0.5

# Float noise in differences such as 0.16 - 0.15 must not flip a tolerance decision.
_EPS = 1e-12


def is_significant(value: float | None, ci_low: float | None, tolerance: float) -> bool:
    """Rule 1: ``value >= tolerance`` and, when the interval is known, ``ci_low > 0``."""
    if value is None or value < tolerance - _EPS:
        return False
    return ci_low is None or ci_low > 0


def _component(
    name: str,
    later: ErrorEstimate | None,
    earlier: ErrorEstimate | None,
    from_: str,
    to: str,
    tolerance: float,
    *,
    earlier_exact: bool = False,
) -> Component:
    if later is None or earlier is None:
        return Component(name, None, None, None, False, from_, to)
    value = later.value - earlier.value
    if later.ci_low is not None and (earlier.ci_low is not None or earlier_exact):
        low, high = mover_difference(later.value, *later.interval, earlier.value, *earlier.interval)
    else:
        low = high = None
    return Component(name, value, low, high, is_significant(value, low, tolerance), from_, to)


def decompose(
    errors: Mapping[str, ErrorEstimate], human: ErrorEstimate, *, tolerance: float = 0.01
) -> dict[str, Component]:
    """The four components from per-split errors and the human-level (Bayes proxy) error.

    ``variance`` is train-dev minus train, or dev minus train when there is no train-dev
    split; a component whose splits are missing has ``value`` None. An interval is given
    when both sides have one, or when the earlier side is an exact figure (a human level
    given as a number): then it is the later side's interval shifted.
    """
    train, train_dev = errors.get("train"), errors.get("train_dev")
    dev, test = errors.get("dev"), errors.get("test")
    after_train = ("train_dev", train_dev) if train_dev is not None else ("dev", dev)
    parts = {
        "avoidable_bias": _component(
            "avoidable_bias",
            train,
            human,
            "human_level",
            "train",
            tolerance,
            earlier_exact=human.ci_low is None,
        ),
        "variance": _component(
            "variance", after_train[1], train, "train", after_train[0], tolerance
        ),
        "data_mismatch": _component("data_mismatch", dev, train_dev, "train_dev", "dev", tolerance),
        "dev_overfitting": _component("dev_overfitting", test, dev, "dev", "test", tolerance),
    }
    return {name: parts[name] for name in COMPONENTS}


def rank_problems(components: Mapping[str, Component]) -> tuple[tuple[str, ...], str | None]:
    """Rules 2 and 3: ``(problems, principal_problem)`` from the significant components."""
    significant = [c for c in components.values() if c.significant and c.value is not None]
    if not significant:
        return (), None
    order = {name: i for i, name in enumerate(COMPONENTS)}
    significant.sort(key=lambda c: (-c.value, order[c.name]))  # type: ignore[operator]
    principal = significant[0]
    listed = [principal.name]
    for c in significant[1:]:
        overlaps = (
            c.ci_high is not None and principal.ci_low is not None and c.ci_high >= principal.ci_low
        )
        if c.value >= COMPARABLE * principal.value - _EPS or overlaps:  # type: ignore[operator]
            listed.append(c.name)
    return tuple(listed), principal.name

"""The decomposition (docs/method.md §3) and the decision rule that turns components into problems.

Decision rule
-------------
1. A component is **significant** when its value is at least the practical ``tolerance``
   AND, when its interval is known, the interval excludes 0 (``ci_low > 0``). Without
   sizes, only the tolerance applies (and the diagnosis warns ``no_intervals``).
   Without a human level, avoidable bias is ``undetermined``: never a problem. When train
   and dev come from different distributions and no train-dev split separates them, the
   dev - train gap mixes variance and data mismatch (docs/method.md §3): both are
   ``undetermined``, never a problem, the gap kept as information.
2. The **principal problem** is the significant component with the largest value (ties:
   the earlier one on the ladder human -> train -> train-dev -> dev -> test).

Values and comparisons use exact decimal arithmetic on the figures as written (the shortest
decimal text of each float): 20% - 10% is exactly 0.1, so it ties with 30% - 20% and the
tie goes to the earlier step, as rule 2 says (binary floats would make one of them
0.10000000000000003).
3. Another significant component is **listed** in ``problems`` when it is comparable to the
   principal one: its value is at least ``COMPARABLE`` (one half) of the principal's value,
   or its interval reaches the principal's interval (the two cannot be told apart).
   ``problems`` is ordered largest first.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from mlstrat.diagnosis._results import COMPONENTS, Component, ErrorEstimate
from mlstrat.metrics._intervals import mover_difference

__all__ = ["COMPARABLE", "CONFOUNDED_REASON", "decompose", "dev_test_differ", "is_significant", "rank_problems"]

#: A significant component at least this fraction of the principal one is also a problem.
COMPARABLE = 0.5


def exact(value: float) -> Decimal:
    """The decimal a float was written as (its shortest round-tripping text): 0.1 -> 0.1."""
    return Decimal(repr(float(value)))


def difference(later: float, earlier: float) -> float:
    """``later - earlier`` in decimal, rounded once: 0.3 - 0.2 -> 0.1 (not 0.09999999999999998)."""
    return float(exact(later) - exact(earlier))


def at_least(value: float, bound: float) -> bool:
    """``value >= bound`` compared exactly as decimals."""
    return exact(value) >= exact(bound)


def is_significant(value: float | None, ci_low: float | None, tolerance: float) -> bool:
    """Rule 1: ``value >= tolerance`` and, when the interval is known, ``ci_low > 0``."""
    if value is None or not at_least(value, tolerance):
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
        return Component(name, None, None, None, False, from_, to, "missing")
    value = difference(later.value, earlier.value)
    if later.ci_low is not None and (earlier.ci_low is not None or earlier_exact):
        low, high = mover_difference(later.value, *later.interval, earlier.value, *earlier.interval)
    else:
        low = high = None
    return Component(name, value, low, high, is_significant(value, low, tolerance), from_, to)


def _avoidable_bias(
    train: ErrorEstimate | None, human: ErrorEstimate | None, tolerance: float
) -> Component:
    if human is None:
        status = "missing" if train is None else "undetermined"
        significant = False if train is None else None
        reason = None if train is None else (
            "no human level: the training error alone cannot tell Bayes error from avoidable bias"
        )
        return Component(
            "avoidable_bias", None, None, None, significant, "human_level", "train", status, reason
        )
    return _component(
        "avoidable_bias",
        train,
        human,
        "human_level",
        "train",
        tolerance,
        earlier_exact=human.ci_low is None,
    )


#: Why variance and data mismatch are undetermined (mismatched domains, no train-dev split).
CONFOUNDED_REASON = (
    "train and dev come from different distributions and there is no train-dev split: the "
    "dev - train gap cannot be split into variance and data mismatch"
)


def _confounded(variance: Component) -> dict[str, Component]:
    """Variance and data mismatch when the dev - train gap mixes both: undetermined, the gap
    (and its interval) kept as information, neither significant."""
    kept = Component("variance", variance.value, variance.ci_low, variance.ci_high, None,
                     "train", "dev", "undetermined", CONFOUNDED_REASON)
    mismatch = Component("data_mismatch", None, None, None, None, "train_dev", "dev",
                         "undetermined", CONFOUNDED_REASON)
    return {"variance": kept, "data_mismatch": mismatch}


def dev_test_differ(component: Component, reason: str) -> Component:
    """Dev overfitting when dev and test come from different distributions: the test - dev gap
    is a difference of distributions, not tuning on dev; undetermined, the gap kept."""
    return Component("dev_overfitting", component.value, component.ci_low, component.ci_high,
                     None, "dev", "test", "undetermined", f"dev and test differ: {reason}")


def decompose(
    errors: Mapping[str, ErrorEstimate],
    human: ErrorEstimate | None,
    *,
    tolerance: float = 0.01,
    mismatched: bool | None = None,
) -> dict[str, Component]:
    """The four components from per-split errors and the human-level (Bayes proxy) error.

    ``variance`` is train-dev minus train, or dev minus train when there is no train-dev
    split; a component whose splits are missing has ``value`` None (status ``missing``).
    Without a human level (``human`` None) avoidable bias is ``undetermined``. With
    ``mismatched`` true (train and dev from different distributions) and no train-dev split,
    variance and data mismatch are ``undetermined``: the dev - train gap is either. An interval
    is given when both sides have one, or when the earlier side is an exact figure (a human
    level given as a number): then it is the later side's interval shifted.
    """
    train, train_dev = errors.get("train"), errors.get("train_dev")
    dev, test = errors.get("dev"), errors.get("test")
    after_train = ("train_dev", train_dev) if train_dev is not None else ("dev", dev)
    parts = {
        "avoidable_bias": _avoidable_bias(train, human, tolerance),
        "variance": _component(
            "variance", after_train[1], train, "train", after_train[0], tolerance
        ),
        "data_mismatch": _component("data_mismatch", dev, train_dev, "train_dev", "dev", tolerance),
        "dev_overfitting": _component("dev_overfitting", test, dev, "dev", "test", tolerance),
    }
    if mismatched and train_dev is None and train is not None and dev is not None:
        parts.update(_confounded(parts["variance"]))
    return {name: parts[name] for name in COMPONENTS}


def rank_problems(components: Mapping[str, Component]) -> tuple[tuple[str, ...], str | None]:
    """Rules 2 and 3: ``(problems, principal_problem)`` from the significant components."""
    significant = [c for c in components.values() if c.significant and c.value is not None]
    if not significant:
        return (), None
    order = {name: i for i, name in enumerate(COMPONENTS)}
    significant.sort(key=lambda c: (-exact(c.value), order[c.name]))  # type: ignore[arg-type]
    principal = significant[0]
    half = Decimal(repr(COMPARABLE)) * exact(principal.value)  # type: ignore[arg-type]
    listed = [principal.name]
    for c in significant[1:]:
        overlaps = (
            c.ci_high is not None and principal.ci_low is not None and c.ci_high >= principal.ci_low
        )
        if exact(c.value) >= half or overlaps:  # type: ignore[arg-type]
            listed.append(c.name)
    return tuple(listed), principal.name

"""The sentences of a diagnosis: its warnings and its verdict. Figures are written in the unit
of the metric diagnosed, passed explicitly: percentages and percentage points for rates, plain
numbers in the metric's unit for RMSE, WER, log loss, ...
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from mlstrat._constants import COMPONENT_DISPLAY, SPLIT_DISPLAY
from mlstrat.diagnosis._decompose import at_least
from mlstrat.diagnosis._results import (
    Component,
    DiagnosisWarning,
    ErrorEstimate,
    HumanReference,
)
from mlstrat.display._numbers import format_interval, format_rate
from mlstrat.metrics._intervals import Z95, needed_size_sd, settling_size
from mlstrat.metrics._spec import MetricSpec

__all__ = ["PROBLEM_LABELS"]


#: How each component is named in sentences (the package-wide display names).
PROBLEM_LABELS: dict[str, str] = COMPONENT_DISPLAY


def _pts(value: float, spec: MetricSpec) -> str:
    """A gap in sentences: percentage points for rates, the metric's unit otherwise."""
    if spec.is_rate:
        return f"{100 * value:.1f} pts"
    return f"{value:.4g}"


def _interval(c: Component, spec: MetricSpec) -> str:
    """A component's interval in sentences, as every interval reads: ``[-1.2, +14.1] pts``."""
    return format_interval(c.ci_low or 0.0, c.ci_high or 0.0, rate=spec.is_rate, signed=True,
                           digits=1 if spec.is_rate else None)


def _fig(value: float, spec: MetricSpec) -> str:
    """A figure in sentences: a percentage for rates, the number itself otherwise."""
    return format_rate(value) if spec.is_rate else f"{value:.4g}"


def _warnings(
    spec: MetricSpec,
    estimates: Mapping[str, ErrorEstimate],
    proxy: HumanReference | None,
    components: Mapping[str, Component],
    mismatched: bool | None,
    tolerance: float,
) -> list[DiagnosisWarning]:
    out: list[DiagnosisWarning] = []
    train = estimates.get("train")
    if train is not None and proxy is not None and train.value < proxy.value:
        out.append(
            DiagnosisWarning(
                "surpassed_human_level",
                f"Train {spec.label} {_fig(train.value, spec)} is below the human level "
                f"{_fig(proxy.value, spec)} ({proxy.name}): the human figure no longer bounds "
                "Bayes error, so the avoidable-bias estimate has lost its anchor. Give a stronger "
                "human reference (e.g. a team of experts) with --human.",
            )
        )
    if mismatched and "train_dev" not in estimates and {"train", "dev"} <= set(estimates):
        out.append(
            DiagnosisWarning(
                "mismatched_without_train_dev",
                "Train and dev come from different distributions and there is no train-dev "
                "split: the dev-train gap is undetermined between variance and data mismatch. "
                "Hold out a train-dev split (mlstrat split --train-dev auto) and diagnose again.",
            )
        )
    for name, c in components.items():
        if (c.status != "computed" or c.value is None or c.ci_low is None or c.significant
                or not at_least(c.value, tolerance)):
            continue
        out.append(DiagnosisWarning("split_too_small", _too_small(spec, name, c, estimates, proxy)))
    if any(e.ci_low is None for e in estimates.values()):
        out.append(
            DiagnosisWarning(
                "no_intervals",
                "Some errors have no sample size, so their components are judged by the "
                "tolerance alone, not by noise. Give --sizes (e.g. train=50000,dev=2000) or a "
                "predictions table.",
            )
        )
    return out


def _too_small(
    spec: MetricSpec,
    name: str,
    c: Component,
    estimates: Mapping[str, ErrorEstimate],
    proxy: HumanReference | None,
) -> str:
    """Message for a practically large component whose interval still includes 0.

    For rates the size quoted is one at which the same intervals would exclude 0 if the
    rates held (:func:`mlstrat.metrics._intervals.settling_size`), not a normal-approximation
    guess.
    """
    later = estimates[c.to]
    earlier = proxy if c.from_ == "human_level" else estimates[c.from_]
    if earlier is None:  # unreachable: a computed component has both ends
        raise ValueError(f"{name}: no earlier figure")
    gap = c.value or 0.0
    sampled = earlier.ci_low is not None
    if not spec.is_rate:
        n = _needed_size_values(earlier, later, gap)
    else:
        n = settling_size(later.value, earlier.value, earlier_sampled=sampled) or 0
    if not sampled:  # an exact human figure: only the later split is sampled
        where, each = f"the {_place(c.to)} split is", ""
    else:
        where, each = f"the {_place(c.from_)} and {_place(c.to)} samples are", " each"
    return (
        f"{PROBLEM_LABELS[name].capitalize()} of {_pts(gap, spec)} is within noise (95% CI "
        f"{_interval(c, spec)}): {where} too small to decide; "
        f"about {n:,} examples{each} would."
    )


def _per_example_sd(e: ErrorEstimate) -> float:
    """The per-example standard deviation behind an interval: half-width * sqrt(n) / z."""
    if e.ci_low is None or e.ci_high is None or not e.n:
        return 0.0
    return (e.ci_high - e.ci_low) / (2 * Z95) * math.sqrt(e.n)


def _needed_size_values(earlier: ErrorEstimate, later: ErrorEstimate, gap: float) -> int:
    sd_later = _per_example_sd(later)
    if earlier.ci_low is None:  # an exact human figure: only the later split is sampled
        return needed_size_sd(sd_later, 0.0, gap)
    return needed_size_sd(_per_example_sd(earlier), sd_later, gap)


def _verdict(
    spec: MetricSpec,
    components: Mapping[str, Component],
    problems: Sequence[str],
    estimates: Mapping[str, ErrorEstimate],
    tolerance: float,
) -> str:
    extra = [s for s in (_confounded_sentence(spec, components), _dev_test_sentence(spec, components))
             if s]
    return " ".join([_verdict_core(spec, components, problems, estimates, tolerance), *extra])


def _dev_test_sentence(spec: MetricSpec, components: Mapping[str, Component]) -> str:
    """Dev overfitting undetermined because dev and test differ: say so, and what to do."""
    c = components["dev_overfitting"]
    if c.status != "undetermined":
        return ""
    gap = "" if c.value is None else f" ({_pts(c.value, spec)})"
    return (f"Dev and test differ: the test - dev gap{gap} is not dev overfitting; "
            f"{(c.reason or '').removeprefix('dev and test differ: ')}. Rebuild dev and test from "
            "one distribution (mlstrat split --target).")


def _confounded_sentence(spec: MetricSpec, components: Mapping[str, Component]) -> str:
    """Variance undetermined (mismatched domains, no train-dev split): the gap, and what settles it."""
    variance = components["variance"]
    if variance.status != "undetermined":
        return ""
    gap = "" if variance.value is None else f" ({_pts(variance.value, spec)})"
    return (
        f"The train to dev gap{gap} is undetermined between variance and data mismatch: train "
        "and dev come from different distributions and there is no train-dev split; carve one "
        "(mlstrat split --train-dev) to settle which it is."
    )


def _verdict_core(
    spec: MetricSpec,
    components: Mapping[str, Component],
    problems: Sequence[str],
    estimates: Mapping[str, ErrorEstimate],
    tolerance: float,
) -> str:
    if all(c.value is None for c in components.values()) and "train" not in estimates:
        return (
            "Nothing to compare: give at least the train error and a human level, "
            "or train and dev errors."
        )
    bias = components["avoidable_bias"]
    if bias.status == "undetermined":
        settle = (
            f"Avoidable bias is undetermined: the training {spec.label} "
            f"({_fig(estimates['train'].value, spec)}) cannot be split into Bayes error and "
            "avoidable bias without a human level; give it (--human \"expert="
            f"{'0.5%' if spec.is_rate else '...'}\""
            f"{', or --human-labels' if spec.is_rate else ''}) to settle whether bias "
            "is a problem."
        )
        if all(c.value is None for c in components.values()):
            return settle
        return _problems_sentence(spec, components, problems, tolerance, human=False) + " " + settle
    return _problems_sentence(spec, components, problems, tolerance, human=True)


def _and(items: Sequence[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


_ALL = {2: "both", 3: "all three", 4: "all four"}


def _problems_sentence(
    spec: MetricSpec,
    components: Mapping[str, Component],
    problems: Sequence[str],
    tolerance: float,
    *,
    human: bool,
) -> str:
    if not problems:
        undecided = [
            PROBLEM_LABELS[c.name]
            for c in components.values()
            if c.status == "computed" and c.value is not None and c.ci_low is not None
            and at_least(c.value, tolerance)
        ]
        if undecided:
            verbs = ("exceeds", "is") if len(undecided) == 1 else ("exceed", "are")
            return (
                f"No problem can be established: {_and(undecided)} {verbs[0]} the "
                f"{_pts(tolerance, spec)} tolerance but {verbs[1]} within the noise of these split "
                "sizes; collect bigger splits to decide."
            )
        if not human or components["variance"].status == "undetermined":
            return f"No other component is above noise and the {_pts(tolerance, spec)} tolerance."
        return (
            f"No component is above noise and the {_pts(tolerance, spec)} tolerance: the model is as "
            "good as this data and the human reference can tell; look at the remaining mistakes."
        )
    principal = components[problems[0]]
    label = PROBLEM_LABELS[principal.name]
    what = (
        f"{label.capitalize()} is the principal problem ({_pts(principal.value or 0.0, spec)}, "
        f"{_place(principal.from_)} to {_place(principal.to)})"
    )
    if len(problems) > 1:
        others = _and(
            [f"{PROBLEM_LABELS[p]} ({_pts(components[p].value or 0.0, spec)})" for p in problems[1:]]
        )
        verb = "is" if len(problems) == 2 else "are"
        what += f", and {others} {verb} comparable: work on {_ALL[len(problems)]}"
    secondary = [c for c in components.values() if c.significant and c.name not in problems]
    if secondary:
        what += "; " + _and([f"{PROBLEM_LABELS[c.name]} ({_pts(c.value or 0.0, spec)})" for c in secondary])
        what += " is real but secondary" if len(secondary) == 1 else " are real but secondary"
    return what + "."


def _place(name: str) -> str:
    return "human level" if name == "human_level" else SPLIT_DISPLAY.get(name, name)

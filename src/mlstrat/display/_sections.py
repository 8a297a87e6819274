"""The sections of a diagnosis as rows to show: the error table, the staircase's levels and
the components. Pure functions of the JSON documents, shared by the HTML report and the
notebook views."""

from __future__ import annotations

from typing import Any

from mlstrat._constants import COMPONENT_DISPLAY, COMPONENTS, SPLIT_DISPLAY, SPLITS
from mlstrat.display._documents import bayes_proxy, components_of, split_errors
from mlstrat.display._numbers import column_digits, format_figure, format_interval, is_rate_metric

__all__ = ["step_note", "ci_text", "diagnosis_digits", "n_text", "errors_section", "staircase_levels", "components_section"]


def ci_text(lo: float | None, hi: float | None, diagnosis: dict[str, Any] | None = None, *,
            digits: int | None = None, signed: bool = False) -> str:
    """An interval as ``[low, high]`` in the diagnosis's unit (``-`` when not computed)."""
    rate = is_rate_metric(diagnosis)
    if not rate and digits is None:
        digits = column_digits([lo, hi], rate=False)
    return format_interval(lo, hi, rate=rate, digits=digits, signed=signed)


def diagnosis_digits(diagnosis: dict[str, Any] | None, values: list[float | None]) -> int | None:
    """One precision for a table of a diagnosis's figures (rates only; a metric's own unit keeps
    its significant digits)."""
    return column_digits(values) if is_rate_metric(diagnosis) else None


def n_text(n: Any) -> str:
    """A count as every count reads (the terminal, the slices table): ``2,565``; '–' when unknown."""
    return f"{int(n):,}" if isinstance(n, (int, float)) and not isinstance(n, bool) else "–"


def errors_section(diagnosis: dict[str, Any] | None, metrics: dict[str, Any] | None) -> dict[str, Any] | None:
    errors = split_errors(diagnosis, metrics)
    name, human = bayes_proxy(diagnosis)
    if not errors and human is None:
        return None
    rows = []
    if human is not None:
        rows.append({"key": "human", "label": "human level", "sub": name or "", "value": human,
                     "ci_low": None, "ci_high": None, "n": None})
    for split, entry in errors.items():
        rows.append({"key": split, "label": SPLIT_DISPLAY[split], "sub": "", **entry})
    scale = max([(r["ci_high"] if r["ci_high"] is not None else r["value"]) for r in rows] + [1e-9]) * 1.1
    digits = diagnosis_digits(diagnosis, [r["value"] for r in rows])
    for r in rows:
        r["value_text"] = format_figure(r["value"], diagnosis, digits=digits)
        r["ci_text"] = ci_text(r["ci_low"], r["ci_high"], diagnosis, digits=digits)
        r["n_text"] = n_text(r["n"])
        # positions on the interval strip, in percent of its width
        r["dot"] = 100 * r["value"] / scale
        if r["ci_low"] is not None and r["ci_high"] is not None:
            r["bar_left"] = 100 * r["ci_low"] / scale
            r["bar_width"] = max(100 * (r["ci_high"] - r["ci_low"]) / scale, 0.6)
    return {"rows": rows, "scale_text": format_figure(scale, diagnosis)}


def step_note(key: str, component: dict[str, Any]) -> str | None:
    """Why a step of the staircase is not a problem, or None when it is one (or has no value).

    ``"undetermined"``: the gap cannot be attributed to this component alone (train and dev
    differ with no train-dev split; dev and test differ); ``"within noise"``: its interval
    includes 0; ``"below human level"``: a negative avoidable bias (train better than the human
    level); ``"below tolerance"``: its interval excludes 0 but the component is under the
    diagnosis's tolerance.
    """
    value = component.get("value")
    if value is None or component.get("significant"):
        return None
    if component.get("status") == "undetermined":
        return "undetermined"
    lo, hi = component.get("ci_low"), component.get("ci_high")
    if lo is not None and hi is not None and lo <= 0 <= hi:
        return "within noise"
    if key == "avoidable_bias" and value < 0:
        return "below human level"
    return "below tolerance"


def staircase_levels(diagnosis: dict[str, Any]) -> list[dict[str, Any]]:
    """The staircase's levels: the human level, then each split with the component that leads
    to it. A step's whisker (``whisker_low``/``whisker_high``) is the *component's* interval
    placed on the level before it, not the split's own interval."""
    errors = split_errors(diagnosis)
    comps = components_of(diagnosis)
    name, human = bayes_proxy(diagnosis)
    assumed = bool((diagnosis.get("human_level") or {}).get("assumed"))
    levels: list[dict[str, Any]] = []
    if human is not None:
        label = "human" + (" (assumed)" if assumed else "")
        levels.append({"name": "human", "label": label, "value": human, "ci_low": None,
                       "ci_high": None, "component": None})
    for split in SPLITS:
        if split not in errors:
            continue
        entry = errors[split]
        level = {"name": split, "label": SPLIT_DISPLAY[split], **entry, "component": None,
                 "component_label": None, "significant": True, "note": None,
                 "whisker_low": None, "whisker_high": None}
        key, comp, label = _step_component(comps, split)
        if comp is not None and levels:
            level.update(component=key, component_label=label,
                         significant=bool(comp.get("significant")), note=step_note(key or "", comp))
            prev = levels[-1]["value"]
            if comp.get("ci_low") is not None and comp.get("ci_high") is not None:
                level.update(whisker_low=prev + comp["ci_low"], whisker_high=prev + comp["ci_high"])
        levels.append(level)
    return levels


def _step_component(comps: dict[str, Any], split: str) -> tuple[str | None, dict[str, Any] | None, str]:
    """The component whose gap ends at ``split``, and the step's label.

    Variance and data mismatch both end at dev when there is no train-dev split; the one that
    carries the train -> dev gap is undetermined between them. Such a step is drawn as a plain
    gap (no component key, so no component's colour) named after every component it may be.
    """
    ending = [(key, c) for key, c in comps.items() if c.get("to") == split]
    if not ending:
        return None, None, ""
    key, comp = next(((k, c) for k, c in ending if c.get("value") is not None), ending[0])
    if comp.get("status") == "undetermined":
        return None, comp, " or ".join(COMPONENT_DISPLAY[k] for k, _ in ending)
    return key, comp, COMPONENT_DISPLAY[key]


#: Why a component without a value is undetermined (the diagnosis JSON's ``reason`` in short).
_UNDETERMINED = {"avoidable_bias": "undetermined (no human level)",
                 "data_mismatch": "undetermined (no train-dev split)"}


def components_section(diagnosis: dict[str, Any] | None) -> list[dict[str, Any]]:
    comps = components_of(diagnosis)
    principal = (diagnosis or {}).get("principal_problem")
    problems = set((diagnosis or {}).get("problems") or [])
    rows = []
    digits = diagnosis_digits(diagnosis, [c.get("value") for c in comps.values()])
    for key in COMPONENTS:
        c = comps.get(key)
        if c is None:
            continue
        ends = [SPLIT_DISPLAY.get(c.get("from"), "human level" if c.get("from") == "human_level" else c.get("from")),
                SPLIT_DISPLAY.get(c.get("to"), c.get("to"))]
        rows.append({"key": key, "label": COMPONENT_DISPLAY[key], "value": c["value"],
                     "value_text": format_figure(c["value"], diagnosis, signed=True, digits=digits)
                     if c["value"] is not None else (
                         _UNDETERMINED.get(key, "undetermined") if c.get("status") == "undetermined"
                         else "not computable"),
                     "ci_text": ci_text(c["ci_low"], c["ci_high"], diagnosis, digits=digits, signed=True),
                     "span": " → ".join(str(e) for e in ends if e),
                     "significant": c["significant"], "principal": key == principal,
                     "note": step_note(key, c),
                     "problem": key in problems})
    return rows

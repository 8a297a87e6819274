"""Terminal rendering of a diagnosis (Rich renderables; the CLI prints them)."""

from __future__ import annotations

from typing import Any

from mlstrat._constants import SPLIT_DISPLAY, SPLITS
from mlstrat.diagnosis._results import COMPONENTS, Diagnosis
from mlstrat.diagnosis._sentences import PROBLEM_LABELS
from mlstrat.display._numbers import column_digits, format_change, format_interval, format_pct, format_pts
from mlstrat.display._palette import rich_style

__all__ = ["render_diagnosis", "component_bar"]

# the palette's colours: the same as the report's charts and chips
_COLORS = {name: rich_style(name) for name in ("human", *COMPONENTS)}
BAR_WIDTH = 48


def _digits(diag: Diagnosis, *, gaps: bool = False) -> int:
    """One precision per table: the errors (with the human level), or the components
    (``gaps``)."""
    if gaps:
        return column_digits([c.value for c in diag.components.values()], rate=diag.metric.is_rate)
    values: list[float | None] = [e.value for e in diag.errors.values()]
    values += [r.value for r in diag.human_level.references]
    return column_digits(values, rate=diag.metric.is_rate)


def _fmt(diag: Diagnosis, value: float | None) -> str:
    """A figure: a percentage for rates, the number in the metric's unit otherwise."""
    if diag.metric.is_rate or value is None:
        return format_pct(value, digits=_digits(diag))
    return f"{value:.4g}"


def _ci(diag: Diagnosis, low: float | None, high: float | None) -> str:
    digits = _digits(diag) if diag.metric.is_rate else None
    return format_interval(low, high, rate=diag.metric.is_rate, digits=digits)


def _gap(diag: Diagnosis, value: float) -> str:
    """A signed gap: percentage points for rates, the metric's unit otherwise."""
    digits = _digits(diag, gaps=True) if diag.metric.is_rate else None
    return format_pts(value, digits=digits, rate=diag.metric.is_rate)


def _signed(diag: Diagnosis, value: float | None) -> str:
    return "-" if value is None else _gap(diag, value)


def component_bar(diag: Diagnosis) -> Any:
    """The ladder human -> train -> train-dev -> dev -> test with each gap, and a bar of the gaps.

    Segment lengths are proportional to each component; solid segments are problems
    (significant), shaded ones are within noise or under the tolerance. On a narrow terminal
    the ladder breaks between steps and the legend between items, never inside one.
    """
    from rich.console import Group
    from rich.text import Text

    from mlstrat.display._flow import Flow

    proxy = diag.human_level.bayes_proxy
    key = [Text("(█ significant, ", style="grey50"), Text("░ noise or under tolerance" + (
        ", " if proxy is None else ")"), style="grey50")]
    if proxy is None:
        key.append(Text("▒ human level + avoidable bias, undivided)", style="grey50"))
    return Group(Flow(_ladder(diag)), _gap_bar(diag), Flow([*_bar_legend(), *key]))


def _ladder(diag: Diagnosis) -> list[Any]:
    """The levels human -> train -> ... -> test, one piece per step (a step is labelled with
    its gap and never broken across lines)."""
    from rich.text import Text

    proxy = diag.human_level.bayes_proxy
    digits = max(_digits(diag), _digits(diag, gaps=True))
    # each step of the ladder is the difference of the two levels as shown (rates, lower is better)
    as_shown = diag.metric.is_rate and not diag.metric.higher_is_better
    level = (lambda v: format_pct(v, digits=digits)) if as_shown else (lambda v: _fmt(diag, v))
    steps = [Text(f"human {level(proxy.value) if proxy else '?'} ", style=_COLORS["human"])]
    reached = "human_level"
    for name in COMPONENTS:
        c = diag.components[name]
        if c.status == "undetermined":
            if c.to == reached:  # variance and data mismatch both undetermined: one step to dev
                continue
            reached = c.to
            steps.append(Text.assemble(("─?→ ", _COLORS[name]),
                                       f"{SPLIT_DISPLAY[c.to]} {level(diag.errors[c.to].value)} "))
            continue
        if c.value is None:
            continue
        reached = c.to
        start = proxy.value if c.from_ == "human_level" and proxy else (
            diag.errors[c.from_].value if c.from_ in diag.errors else None)
        gap = (format_change(start, diag.errors[c.to].value, digits=digits)[2]
               if as_shown and start is not None else _gap(diag, c.value))
        steps.append(Text.assemble((f"─{gap}→ ", _COLORS[name] + (" bold" if c.significant else "")),
                                   f"{SPLIT_DISPLAY.get(c.to, c.to)} {level(diag.errors[c.to].value)} "))
    return steps


def _gap_bar(diag: Diagnosis) -> Any:
    """One bar whose segments are proportional to the human level and each component."""
    from rich.text import Text

    proxy = diag.human_level.bayes_proxy
    train = diag.errors.get("train")
    if proxy is None:  # human level and avoidable bias together: the train error, undivided
        parts = [("human", max(train.value, 0.0) if train else 0.0)]
    else:
        # a higher-is-better score has no zero to stack the human level on: gaps only
        parts = [("human", 0.0 if diag.metric.higher_is_better else max(proxy.value, 0.0))]
    parts += [(name, max(diag.components[name].value or 0.0, 0.0)) for name in COMPONENTS]
    total = sum(v for _, v in parts) or 1.0
    bar = Text()
    for name, value in parts:
        width = int(round(BAR_WIDTH * value / total))
        if width:
            solid = name == "human" or diag.components[name].significant
            mark = "▒" if name == "human" and proxy is None else ("█" if solid else "░")
            bar.append(mark * width, style=_COLORS[name])
    return bar


def _bar_legend() -> list[Any]:
    """One piece per item of the bar's legend (the legend wraps between items)."""
    from rich.text import Text

    return [Text("■ " + PROBLEM_LABELS.get(name, "human level") + " ", style=_COLORS[name])
            for name in ("human",) + COMPONENTS]


def render_diagnosis(diag: Diagnosis) -> list[Any]:
    """Renderables in reading order: errors, components + bar, verdict, actions, warnings."""
    from rich.text import Text

    from mlstrat.display._flow import FirstThatFits, Flow, keep_together

    out: list[Any] = [
        _errors_table(diag),
        FirstThatFits(_components_table(diag), _components_table(diag, narrow=True)),
        component_bar(diag),
        Text(""),
        Flow(keep_together(diag.verdict), indent=0, style="bold"),
    ]
    if diag.actions:
        out.append(_actions_table(diag))
    for w in diag.warnings:
        out.append(Flow(keep_together(f"warning [{w.code}]: {w.message}"), style="yellow"))
    return out


def _errors_table(diag: Diagnosis) -> Any:
    """The human references and the error per split, with intervals and sizes."""
    from rich.table import Table
    from rich.text import Text

    metric = diag.metric.label
    better = ", higher is better" if diag.metric.higher_is_better else ""
    name = metric.capitalize() if diag.metric.is_rate else metric
    title = f"{name} per split (95% CI{better})"
    # Text, not markup strings: the metric's label can name a user's column
    errors = Table(title=Text(title), title_justify="left")
    errors.add_column("")
    # figures never wrap or get cut: the label column folds instead
    errors.add_column(Text(metric), justify="right", no_wrap=True)
    errors.add_column("95% CI", justify="right", no_wrap=True)
    errors.add_column("n", justify="right", no_wrap=True)
    proxy = diag.human_level.bayes_proxy
    if proxy is None:
        errors.add_row(Text("human level: not given", style="grey50"), "?", "-", "-")
    for ref in diag.human_level.references:
        star = " (Bayes proxy)" if proxy is not None and ref.name == proxy.name else ""
        name = "human level" if ref.name == "human" else f"human: {ref.name}"
        label = f"{name}{star}"
        errors.add_row(
            Text(label, style="grey50"),
            _fmt(diag, ref.value),
            _ci(diag, ref.ci_low, ref.ci_high),
            "-" if ref.n is None else f"{ref.n:,}",
        )
    for split in SPLITS:
        e = diag.errors.get(split)
        if e is not None:
            errors.add_row(
                Text(SPLIT_DISPLAY[split], style=rich_style(split)),  # the report's split colour
                _fmt(diag, e.value),
                _ci(diag, e.ci_low, e.ci_high),
                "-" if e.n is None else f"{e.n:,}",
            )
    return errors


def _components_table(diag: Diagnosis, *, narrow: bool = False) -> Any:
    """One row per component: the gap it spans, its value and interval, whether it is a problem.

    ``narrow``: the gap is written under the component's name instead of in a column of its own,
    so that the table fits 80 columns without cutting a split's name or a figure.
    """
    from rich.table import Table
    from rich.text import Text

    comps = Table(title="Components", title_justify="left")
    columns = [("component", "left"), ("gap", "left"), ("value", "right"), ("95% CI", "right"),
               ("problem", "left")]
    for col, justify in columns:
        if narrow and col == "gap":
            continue
        comps.add_column("component (gap)" if narrow and col == "component" else col,
                         justify=justify,  # type: ignore[arg-type]
                         no_wrap=col != "component")
    for name in COMPONENTS:
        c = diag.components[name]
        gap = f"{SPLIT_DISPLAY.get(c.from_, 'human')} → {SPLIT_DISPLAY.get(c.to, c.to)}"
        label = Text(PROBLEM_LABELS[name], style=_COLORS[name])
        cells = [Text.assemble(label, "\n", (gap, "grey50"))] if narrow else [label, gap]
        comps.add_row(*cells, _signed(diag, c.value), _component_ci(diag, c),
                      Text(_problem_flag(diag, name), style=_problem_style(diag, name)))
    return comps


def _component_ci(diag: Diagnosis, c: Any) -> str:
    return format_interval(c.ci_low, c.ci_high, rate=diag.metric.is_rate, signed=True,
                           digits=_digits(diag, gaps=True) if diag.metric.is_rate else None)


def _problem_flag(diag: Diagnosis, name: str) -> str:
    """yes, secondary, no; undetermined (a gap that cannot be attributed); n/a (not measured)."""
    c = diag.components[name]
    if c.status == "undetermined":
        return "undetermined"
    if c.value is None:
        return "n/a"
    return "yes" if name in diag.problems else ("secondary" if c.significant else "no")


def _problem_style(diag: Diagnosis, name: str) -> str:
    if name == diag.principal_problem:
        return "bold red"
    return "red" if name in diag.problems else ""


def _actions_table(diag: Diagnosis) -> Any:
    """The recipe's next actions, in order, with the problems each addresses."""
    from rich.table import Table
    from rich.text import Text

    actions = Table(title="Next actions", title_justify="left", show_header=True)
    actions.add_column("#", justify="right")
    actions.add_column("id")
    actions.add_column("action")
    actions.add_column("addresses")
    for i, a in enumerate(diag.actions, 1):
        actions.add_row(
            # Text, not markup: a title quotes the user's domain values ("--target [/phone]")
            str(i), a.id, Text(a.title), ", ".join(PROBLEM_LABELS[p] for p in a.addresses) or "-"
        )
    return actions

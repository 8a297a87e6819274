"""`mlstrat runs compare` in the terminal: each change next to its 95% interval, or why none.

A comparison a user acts on carries its interval (docs/method.md §9): the Errors and Components
tables give, for the first run -> the last one, the change, its interval and (by colour) its
verdict; a change without an interval says so in its cell, and a note under the table says
how the intervals were computed and why some are missing.
"""

from __future__ import annotations

from typing import Any, Optional

__all__ = ["print_comparison"]

# a change is better or worse only when its interval excludes 0; otherwise tied within noise
_VERDICT_STYLE = {"better": "green", "worse": "red", "tied within noise": "yellow"}


def _cells(change: Any, diagnosis: Any, digits: Optional[int]) -> tuple[Any, Any]:
    """The change and its interval, at the table's precision (the change reads as the
    difference of the values shown)."""
    from rich.text import Text

    from mlstrat.display._numbers import format_change, format_interval, is_rate_metric

    if change is None:
        return Text("-"), Text("-")
    if change.no_interval == "undetermined":
        return Text("undetermined", style="yellow"), Text("-")
    rate = is_rate_metric(diagnosis)
    text = (format_change(change.before, change.after, digits=digits)[2] if rate
            else f"{change.after - change.before:+.3g}")
    d = change.difference
    if d is None:
        return Text(text), Text("no interval", style="yellow")
    interval = format_interval(d.ci_low, d.ci_high, rate=rate, signed=True, digits=digits)
    return Text(text, style=_VERDICT_STYLE.get(d.verdict, "")), Text(interval)


def _notes(changes: dict[str, Any], names: dict[str, str]) -> list[str]:
    """One line per way the intervals were computed, and per reason an interval is missing."""
    ways: dict[str, list[str]] = {}
    for key, change in changes.items():
        why = (f"no interval ({change.no_interval})" if change.difference is None
               else "paired on the same dev rows" if change.pairing == "paired"
               else str(change.pairing).replace(": ", " (", 1) + ")")
        if change.no_interval == "undetermined":
            why = ("undetermined (a run cannot attribute this gap: mismatched train and dev, no "
                   "train-dev split), so no change is measured")
        ways.setdefault(why, []).append(names.get(key, key))
    return [f"{', '.join(keys)}: {why}" for why, keys in ways.items()]


def _side_by_side(out: Any, comparison: Any, title: str, kind: str, names: dict[str, str],
                  points: bool = False) -> None:
    from rich.text import Text

    from mlstrat.cli._common import safe
    from mlstrat.display._flow import FirstThatFits, Flow, keep_together
    from mlstrat.display._numbers import column_digits, format_figure, is_rate_metric
    from mlstrat.runs._changes import UNDETERMINED

    rows = getattr(comparison, kind)
    if not rows:
        return
    diagnosis = comparison.runs[-1].diagnosis
    changes = comparison.changes.get(kind, {})
    # one precision for the table: the change reads as the difference of the values shown
    digits = column_digits([v for vals in rows.values() for v in vals]) if is_rate_metric(diagnosis) else None
    status = [r.components() for r in comparison.runs] if kind == "components" else None
    body = []
    for key, values in rows.items():
        shown = [format_figure(v, diagnosis, digits=digits, signed=points) for v in values]
        if status is not None:  # a gap a run could not attribute is said to be undetermined
            shown = [UNDETERMINED if s.get(key, {}).get("status") == UNDETERMINED else t
                     for s, t in zip(status, shown)]
        body.append((safe(names.get(key, key)), shown, *_cells(changes.get(key), diagnosis, digits)))
    heads = [f"#{r.seq} {r.short_id}" for r in comparison.runs]
    # boxed with a column per fact where it fits; else lighter rules; else the interval under
    # the change: a figure is never cut or folded
    out.print(FirstThatFits(*[_table(title, heads, body, layout) for layout in ("boxed", "compact", "stacked")]))
    for note in _notes(changes, names):
        out.print(Flow(keep_together(Text(note, style="dim")), indent=4))


def _table(title: str, heads: list[str], body: list[tuple[Any, ...]], layout: str) -> Any:
    """The runs' figures side by side, the change and its interval (``layout``: boxed,
    compact — no side borders, or stacked — the interval under the change)."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    light = {} if layout == "boxed" else {"box": box.SIMPLE_HEAD, "pad_edge": False, "show_edge": False,
                                          "collapse_padding": True}
    table = Table(title=title, title_justify="left", header_style="bold", **light)
    table.add_column("")
    for i, head in enumerate(heads):
        widest = max(len(row[1][i]) for row in body)  # a figure never wraps; the head may
        table.add_column(head, justify="right", min_width=widest)
    table.add_column("change" if layout != "stacked" else "change, 95% interval", justify="right",
                     no_wrap=layout != "stacked", min_width=max(len(row[2].plain) for row in body))
    if layout != "stacked":
        table.add_column("95% interval", justify="right", no_wrap=True)
    for name, shown, change, interval in body:
        cells = [change, interval] if layout != "stacked" else [
            Text.assemble(change, "\n", interval) if interval.plain != "-" else change]
        table.add_row(name, *shown, *cells)
    return table


def print_comparison(out: Any, comparison: Any) -> None:
    """Errors and components side by side with each change's interval, the config keys that
    differ, one line per step (its dev change and verdict), the warnings."""
    from rich.text import Text

    from mlstrat._constants import SPLIT_DISPLAY
    from mlstrat.display._flow import Flow, keep_together
    from mlstrat.runs import COMPONENT_DISPLAY

    heads = [f"#{r.seq} {r.short_id}" for r in comparison.runs]
    if len(comparison.runs) > 2:
        out.print(Text(f"change: #{comparison.runs[0].seq} -> #{comparison.runs[-1].seq}", style="dim"))
    _side_by_side(out, comparison, "Errors", "errors", SPLIT_DISPLAY)
    _side_by_side(out, comparison, "Components", "components", COMPONENT_DISPLAY, points=True)
    if comparison.config:
        out.print(_config_diff_table(comparison.config, heads))
    by_id = {r.id: f"#{r.seq}" for r in comparison.runs}
    for step in comparison.steps:
        head = Text.assemble((f"{by_id[step.before]} -> {by_id[step.after]}: ", "bold"), step.summary)
        out.print(Flow(keep_together(head)))
        if step.dev is not None:
            line = Text("  " + step.dev_line)
            line.highlight_words([step.dev.verdict], style=_VERDICT_STYLE.get(step.dev.verdict, ""))
            out.print(Flow(keep_together(line), indent=4))
    for warning in comparison.warnings:
        out.print(Flow(keep_together(Text.assemble(("Warning:", "yellow"), " ", warning["message"]))))


def _config_diff_table(config: dict[str, list[Any]], heads: list[str]) -> Any:
    """The config keys that differ, one column per run. No side borders, so that two paths
    side by side fit 80 columns; a longer key or value folds onto the next line, never cut."""
    from rich import box
    from rich.table import Table

    from mlstrat.cli._common import safe

    table = Table(title="Config keys that differ", title_justify="left", header_style="bold",
                  box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, collapse_padding=True)
    table.add_column("key", overflow="fold")
    for head in heads:
        table.add_column(head, overflow="fold")
    for key, values in config.items():
        table.add_row(safe(key), *["-" if v is None else safe(v) for v in values])
    return table

"""Rendering of the slice views: ``metrics --by``, ``diagnose --by`` and ``errors slices``."""

from __future__ import annotations

import math
from typing import Any

from mlstrat.cli._common import console, echo_json, safe


def whole_number(text: str, flag: str) -> int:
    """``--bins``/``--top`` of the table commands: read as text (no Pydantic coercion at
    start-up) and turned into a number here."""
    from mlstrat._exceptions import ConfigError

    try:
        return int(text)
    except ValueError:
        raise ConfigError(f"{flag} {text!r}: give a whole number, e.g. 10") from None


def _value(value: float, rate: bool) -> str:
    if value is None or not math.isfinite(value):
        return "-"
    return f"{100 * value:.2f}%" if rate else f"{value:.4g}"


def _points(value: float, rate: bool) -> str:
    if value is None or not math.isfinite(value):
        return "-"
    return f"{100 * value:+.2f} pts" if rate else f"{value:+.4g}"


def _bins_note(keys: Any) -> str:
    binned = [f"{k.column} ({len(k.edges) + 1} quantile bins)" for k in keys if k.kind == "bins"]
    return f"binned: {', '.join(binned)}" if binned else ""


def _slice_table(columns: tuple[str, ...], *, title: str | None = None) -> Any:
    """A table of slices that fits a narrow terminal without cutting anything: the figures
    never wrap, the slice description folds (a long column name or value is shown whole, over
    several lines, rather than cut with an ellipsis), and no side borders take its room."""
    from rich import box
    from rich.table import Table

    table = Table(title=title, title_justify="left", header_style="bold", box=box.SIMPLE_HEAD,
                  pad_edge=False, show_edge=False, collapse_padding=True)
    table.add_column(safe(columns[0]), overflow="fold")
    for col in columns[1:]:
        table.add_column(safe(col), justify="right", no_wrap=True)
    return table


def render_slice_metrics(result: Any) -> None:
    """A Rich table of :class:`mlstrat.errors.SliceMetrics`."""
    rate = result.metric.is_rate
    name = result.metric.name
    share = "share of mistakes" if rate else "share of loss"
    table = _slice_table(("slice", "n", name, "95% CI", share, "ceiling"),
                         title=f"{safe(name)} by {safe(', '.join(result.by))} on {result.split} "
                               f"({result.split} {_value(result.value, rate)} on {result.n:,} rows; 95% CI)")
    for s in result.slices:
        table.add_row(safe(s.slice), f"{s.n:,}", _value(s.value, rate),
                      f"{_value(s.ci_low, rate)} – {_value(s.ci_high, rate)}",
                      f"{100 * s.share:.1f}%", _points(s.ceiling, rate))
    out = console()
    out.print(table)
    notes = [f"ceiling: how much {result.split} {name} would fall if the slice did as well as "
             "the split on average", f"interval: {result.interval}"]
    if result.groups > result.top:
        notes.append(f"{result.groups:,} slices; the {result.top} with the most "
                     f"{'mistakes' if rate else 'loss'} listed, the rest pooled as (other) (--top)")
    if _bins_note(result.keys):
        notes.append(_bins_note(result.keys) + " (--bins)")
    for note in notes:
        out.print(f"[grey50]{safe(note)}[/]", soft_wrap=True)


def print_slice_metrics(result: Any, *, json_out: bool) -> None:
    if json_out:
        echo_json(result)
    else:
        render_slice_metrics(result)


def render_slice_report(report: Any) -> None:
    """A Rich table of :class:`mlstrat.errors.SliceReport`."""
    rate = report.metric.kind == "error"
    out = console()
    out.soft_wrap = True
    out.print(f"{report.split} {safe(report.metric.name)} {_value(report.error, rate)} on "
              f"{report.n:,} rows; {report.tested:,} slices tested (up to {report.max_depth} "
              f"predicates, at least {report.min_support} rows each); {report.significant} err "
              f"more than the rest at FDR {report.fdr:g} (Benjamini–Hochberg)")
    if not report.slices:
        out.print("No slice errs significantly more than the rest of the split.")
    else:
        table = _slice_table(("slice", "n", "error", "95% CI", "lift", "ceiling", "score", "q"))
        for s in report.slices:
            table.add_row(safe(s.slice), f"{s.n:,}", _value(s.error, rate),
                          f"{_value(s.ci_low, rate)} – {_value(s.ci_high, rate)}",
                          f"{s.lift:.2f}x", _points(s.ceiling, rate), f"{s.score:.3f}",
                          f"{s.q_value:.2g}")
        out.print(table, soft_wrap=False)
    notes = [f"score: SliceLine's, alpha = {report.alpha:g}; ceiling: how much {report.split} "
             "error would fall if the slice erred at the split's average",
             f"test: {report.test}"]
    if _bins_note(report.keys):
        notes.append(_bins_note(report.keys) + " (--bins)")
    for note in notes:
        out.print(f"[grey50]{safe(note)}[/]")

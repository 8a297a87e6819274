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


def render_slice_metrics(result: Any) -> None:
    """A Rich table of :class:`mlstrat.errors.SliceMetrics`."""
    from rich.table import Table

    rate = result.metric.is_rate
    name = result.metric.name
    share = "share of mistakes" if rate else "share of loss"
    table = Table(title=f"{safe(name)} by {safe(', '.join(result.by))} on {result.split} "
                        f"({result.split} {_value(result.value, rate)} on {result.n:,} rows; 95% CI)",
                  title_justify="left", header_style="bold")
    for col in ("slice", "n", name, "95% CI", share, "ceiling"):
        table.add_column(safe(col), justify="left" if col == "slice" else "right")
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
    from rich.table import Table

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
        table = Table(header_style="bold")
        for col in ("slice", "n", "error", "95% CI", "lift", "ceiling", "score", "q"):
            table.add_column(col, justify="left" if col == "slice" else "right")
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

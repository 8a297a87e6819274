"""`mlstrat demo`: the method's loop on a bundled scenario (what `make demo` runs)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from mlstrat.cli._app import app

__all__ = ["demo_command"]

_COMPONENT_NAMES = {"avoidable_bias": "avoidable bias", "variance": "variance",
                    "data_mismatch": "data mismatch", "dev_overfitting": "dev overfitting"}
_SPLIT_NAMES = {"train": "train", "train_dev": "train-dev", "dev": "dev", "test": "test"}


@app.command("demo")
def demo_command(
    scenario: str = typer.Option("mismatch", "--scenario", "-s",
                                 help="mismatch (default: web -> app) | bias | variance | label-noise | clean | "
                                 "tabular-shift (regression on a table, RMSE)"),
    out: Path = typer.Option(Path("mlstrat-demo"), "-o", "--out",
                             help="Folder for the demo's files (re-running replaces them)."),
    quick: bool = typer.Option(False, "--quick", help="Fewer folds in the mismatch analysis (same training and diagnoses)."),
    json: bool = typer.Option(False, "--json", help="Print each iteration's diagnosis as JSON."),
) -> None:
    """Run the loop on the bundled digits scenario: split, train, diagnose, act, retrain, report."""
    from mlstrat.scenarios import run_demo

    if not json:
        from mlstrat.cli._common import console
        from mlstrat.scenarios import SCENARIOS

        spec = SCENARIOS.get(scenario)
        if spec is not None:
            console().print(f"[bold]mlstrat demo[/] · scenario [cyan]{scenario}[/]: {spec.description}")
    result = run_demo(scenario, out=out, quick=quick)
    if json:
        from mlstrat.cli._common import echo_json

        echo_json(result)
        return
    render_demo(result)


def render_demo(result: Any) -> None:
    """Print the loop: each iteration's diagnosis, the steps between, the change, the report."""
    from mlstrat.display._numbers import format_rate
    from mlstrat.cli._common import console, safe

    out = console()
    steps = result.steps
    sizes = steps.get("split", {}).get("sizes", {})
    out.print("\n[bold]1. Split[/] " + ", ".join(f"{_SPLIT_NAMES[s]} {n:,}" for s, n in sizes.items())
              + f"  → {steps.get('split', {}).get('output', '')}")
    for number, iteration in enumerate(result.iterations, start=2):
        out.print(f"\n[bold]{number}. {iteration.name}[/]  (run {iteration.run_id})")
        out.print(_errors_table(iteration.diagnosis))
        d = iteration.diagnosis
        out.print(f"[bold]Verdict:[/] {d['verdict']}")
        for action in d["actions"][:3]:
            out.print(f"  → [cyan]{action['id']}[/]: {action['title']}")
        if number == 2:
            _print_steps(out, steps, format_rate)
    if result.changes:
        _print_changes(out, result)
    planted = result.planted or "no significant problem"
    found = result.found or "no significant problem"
    mark = "[green]✓[/]" if planted == found else "[red]✗[/]"
    out.print(f"\n{mark} planted: [bold]{planted}[/] · diagnosed: [bold]{found}[/] · {result.seconds:.1f} s")
    out.print(f"Report: [bold]{safe(result.report)}[/]  (open it in a browser)")


def _print_changes(out: Any, result: Any) -> None:
    """The "What changed" table: components in pts, split errors in %, one precision for the
    whole table, each change the difference of the values shown, intervals as [low, high]."""
    from rich.table import Table

    from mlstrat.display._numbers import is_rate_metric

    first = result.iterations[0].diagnosis
    rate = is_rate_metric(first)
    digits = _table_digits(result.changes, rate=rate)
    table = Table(title="What changed, first → last iteration", title_justify="left")
    # figures never wrap (a narrow terminal wraps the names and verdicts instead)
    for col in ("", "before", "after", "change", "95% interval"):
        table.add_column(col, justify="right" if col else "left", no_wrap=bool(col))
    table.add_column("verdict")
    for row in result.changes:
        name = _COMPONENT_NAMES.get(row["component"]) or \
            _SPLIT_NAMES[row["component"].removesuffix("_error")] + " error"
        table.add_row(name, *_change_cells(row, rate, digits))
    out.print()
    out.print(table)
    if any(row.get("ci_low") is not None for row in result.changes):
        out.print("[dim]dev: paired on the same dev rows (Newcombe interval, McNemar test); "
                  "†: unpaired, the two runs' intervals combined as independent samples[/]")


def _table_digits(changes: list[dict[str, Any]], *, rate: bool) -> int:
    """One precision for the table: the rates' own, or in a metric's unit enough decimals that
    each change and its interval read right beside the values (not "26 -> 29: +3" over
    [+2.2, +2.9])."""
    from mlstrat.display._numbers import column_digits

    figures = [v for row in changes for v in (row["before"], row["after"])]
    if not rate:
        figures += [v for row in changes for v in (row.get("ci_low"), row.get("ci_high"))]
        figures += [row["after"] - row["before"] for row in changes
                    if row["before"] is not None and row["after"] is not None]
    return column_digits(figures, rate=rate)


def _change_cells(row: dict[str, Any], rate: bool, digits: int | None) -> tuple[str, ...]:
    """before, after, change, its 95% interval and the verdict of one row of the table."""
    from mlstrat.display._numbers import format_change, format_interval, format_pts

    before, after, change = format_change(row["before"], row["after"], rate=rate, digits=digits)
    if row["component"] in _COMPONENT_NAMES:  # a component is a gap: signed, in pts
        before = format_pts(row["before"], digits=digits, rate=rate)
        after = format_pts(row["after"], digits=digits, rate=rate)
    if row.get("ci_low") is None:
        return before, after, change, "-", ""
    interval = format_interval(row["ci_low"], row["ci_high"], rate=rate, signed=True, digits=digits)
    interval = interval.removesuffix(" pts")  # the change beside it names the unit
    return before, after, change, interval, row["verdict"] + ("" if row.get("paired") else " †")


def _errors_table(diagnosis: dict[str, Any]) -> Any:
    """The errors per split in one row, and the components under it."""
    from rich.console import Group
    from rich.table import Table

    from mlstrat.display._numbers import column_digits, format_figure, format_interval, is_rate_metric

    rate = is_rate_metric(diagnosis)
    digits = column_digits([e["value"] for e in diagnosis["errors"].values()]
                           + [c["value"] for c in diagnosis["components"].values()], rate=rate) if rate else None

    def fig(v: float) -> str:
        return format_figure(v, diagnosis, digits=digits)

    table = Table(box=None, pad_edge=False, show_header=True, header_style="grey50")
    table.add_column("human", justify="right")
    for split in diagnosis["errors"]:
        table.add_column(_SPLIT_NAMES[split], justify="right")
    row = [fig(diagnosis["human_level"]["bayes_proxy"]["value"])]
    row += [f"{fig(e['value'])} {format_interval(e['ci_low'], e['ci_high'], rate=rate, digits=digits)}"
            if e.get("ci_low") is not None else fig(e["value"])
            for e in diagnosis["errors"].values()]
    table.add_row(*row)
    gaps = []
    for name, c in diagnosis["components"].items():
        if c["value"] is not None:
            style = "bold red" if name == diagnosis["principal_problem"] else \
                ("red" if name in diagnosis["problems"] else "grey50")
            value = format_figure(c["value"], diagnosis, signed=True, digits=digits)
            gaps.append(f"[{style}]{_COMPONENT_NAMES[name]} {value}[/]")
    return Group(table, "  " + " · ".join(gaps))


def _print_steps(out: Any, steps: dict[str, Any], format_rate: Any) -> None:
    """The work between iterations: error sheet, mismatch analysis, synthesis, label issues."""
    if "error_sheet" in steps:
        s = steps["error_sheet"]
        out.print(f"\n[bold]Error analysis:[/] {s['sample_size']} of {s['n_errors']} dev mistakes sampled to "
                  f"{s['sheet']}; tag them with [cyan]{s['next']}[/]")
    if "mismatch" in steps:
        m = steps["mismatch"]
        top = ", ".join(f["feature"] for f in m["top_features"][:3])
        sides = m.get("sides", "app from web")
        out.print(f"[bold]Mismatch:[/] a classifier tells {sides} with AUC {m['auc']['value']:.3f} "
                  f"({m['strength']}); top differences: {top}")
    if "synth" in steps:
        s = steps["synth"]
        cal = s.get("calibration") or {}
        params = ", ".join(f"{k} {v}" for t in (cal.get("params") or {}).values() for k, v in t.items()) \
            if isinstance(cal.get("params"), dict) else ""
        before, after = s.get("auc_before") or {}, s.get("auc_after") or {}
        out.print(f"[bold]Synthesis:[/] {s['n_synthesized']:,} app-like rows from web rows "
                  f"({', '.join(s['transforms'])}{'; ' + params if params else ''}); "
                  f"AUC train vs app {before.get('value', float('nan')):.3f} → {after.get('value', float('nan')):.3f}")
    if "labels" in steps:
        s = steps["labels"]
        out.print(f"[bold]Label issues:[/] {s['suspects']} suspects, {s['hits']} of the {s['planted']} flipped "
                  f"labels found (precision {format_rate(s['precision'], 0)}, recall {format_rate(s['recall'], 0)})")
    if "few_training_rows" in steps:
        out.print(f"[bold]Data:[/] training on {steps['few_training_rows']} rows only")

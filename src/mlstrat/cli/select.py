"""`mlstrat select`: optimize one metric subject to thresholds on the others."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from mlstrat.cli._app import app


def _versus(sel: Any, name: str) -> str:
    """``"tied within noise (+1.0 [-2.1, +4.0])"``: a candidate's difference from the winner."""
    d = sel.versus_winner.get(name)
    if d is None:
        return "-"
    how = "" if d["paired"] else ", unpaired"
    return f"{d['verdict']} ({d['change']:+.3g} [{d['ci_low']:+.3g}, {d['ci_high']:+.3g}]{how})"


def _print(sel: Any) -> None:
    from mlstrat.cli._common import console

    out = console()
    for item in _render(sel):
        out.print(item)


def _render(sel: Any) -> list[Any]:
    from rich.table import Table
    from rich.text import Text

    from mlstrat.cli._common import safe, strip_control

    arrow = "↑" if sel.direction == "maximize" else "↓"
    table = Table(
        title=f"Candidates ({sel.direction} {safe(sel.metric)}"
        + (f"; require {safe(', '.join(c.text for c in sel.constraints))})" if sel.constraints else ")"),
        title_justify="left",
    )
    table.add_column("rank", justify="right")
    table.add_column("name")
    table.add_column(f"{safe(sel.metric)} {arrow}", justify="right")
    columns = list(dict.fromkeys(c.column for c in sel.constraints if c.column != sel.metric))
    for col in columns:
        table.add_column(safe(col), justify="right")
    versus = bool(sel.versus_winner)
    if versus:
        table.add_column("vs winner (95% interval)")
    table.add_column("excluded by")
    for cand in sel.candidates:
        style = "bold green" if cand.name == sel.winner else ("" if cand.eligible else "grey50")
        extra = [_versus(sel, cand.name)] if versus else []
        table.add_row(
            str(cand.rank or "-"),
            Text(strip_control(cand.name), style=style),
            f"{cand.score:g}",
            *(f"{cand.values[c]:g}" for c in columns),
            *extra,
            safe(", ".join(cand.excluded_by)) or "-",
        )
    out: list[Any] = [table]
    if sel.winner is not None:
        out.append(Text(f"Winner: {strip_control(sel.winner)}", style="bold green"))
        if sel.tied:
            out.append(Text(f"Tied with the winner within noise: {strip_control(', '.join(sel.tied))} "
                            "(the 95% interval of the difference includes 0)", style="yellow"))
        elif versus:
            out.append(Text("No other candidate is tied with the winner within noise."))
        for note in sel.notes:
            out.append(Text(f"Note: {strip_control(note)}", style="yellow"))
    else:
        out.append(
            Text(
                f"No candidate meets every constraint; closest: {strip_control(', '.join(sel.closest))}",
                style="bold red",
            )
        )
    return out


@app.command("select")
def select_command(
    candidates: Path | None = typer.Argument(
        None, help="Table of candidates (CSV, JSON, Parquet): one row per model; or use --runs."
    ),
    maximize: str | None = typer.Option(
        None, "--maximize", help="The optimizing metric to maximize."
    ),
    minimize: str | None = typer.Option(
        None, "--minimize", help="The optimizing metric to minimize."
    ),
    require: list[str] = typer.Option(
        [], "--require", help='Satisficing constraint, repeatable: "latency_ms<100".'
    ),
    name_col: str = typer.Option("name", "--name-col", help="Column naming each candidate."),
    runs: bool = typer.Option(
        False,
        "--runs",
        help="Choose among the recorded runs: columns dev_error, train_error, dev_f1, ..., "
        "the components (variance, ...) and numeric config keys (optim.lr); never test metrics. "
        "Ranked on a dev figure, the runs tied with the winner within noise are named (paired on "
        "the same dev rows); runs of different metrics or label sets are refused.",
    ),
    kind: str | None = typer.Option(None, "--kind", help="With --runs: only runs of this kind."),
    store: Path | None = typer.Option(
        None, "--store", help="With --runs: the run store (default: $MLSTRAT_STORE or .mlstrat/runs.db)."
    ),
    json_out: bool = typer.Option(False, "--json", help="Print the selection as JSON."),
) -> None:
    """Pick the best model: optimize one metric among the candidates meeting every constraint."""
    from mlstrat._exceptions import ConfigError
    from mlstrat.metrics import select

    if (candidates is None) == (not runs):
        raise ConfigError("select: give a table of candidates or --runs (one of them)")
    recorded: list[Any] = []
    if runs:
        from mlstrat.runs import RunStore, runs_as_candidates

        run_store = RunStore(store)
        recorded = run_store.list(kind=kind)
        table: object = runs_as_candidates(recorded)
        if not table:
            raise ConfigError("select --runs: the run store has no runs" + (f" of kind {kind!r}" if kind else ""))
    else:
        table = str(candidates)
    sel = select(table, maximize=maximize, minimize=minimize, require=require, name_col=name_col)
    if runs:
        from mlstrat.runs._candidates import mark_ties

        sel = mark_ties(sel, recorded, run_store.dev_rows)  # refuses runs of different tasks
    from mlstrat.cli._common import emit

    emit(sel, as_json=json_out, render=_print)
    if sel.winner is None:
        raise typer.Exit(1)

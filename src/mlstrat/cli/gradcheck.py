"""`mlstrat gradcheck`: check backpropagation against finite differences for a config's network."""

from __future__ import annotations

from pathlib import Path

import typer

from mlstrat.cli._app import app

_FAIL_ON = ("never", "check", "bug")


@app.command("gradcheck")
def gradcheck_command(
    config: Path = typer.Argument(..., help="TOML config of the network to check."),
    mode: str = typer.Option("auto", "--mode", help="full | directional | auto (full up to 20k parameters)."),
    rows: int = typer.Option(64, "--rows", min=1, help="Train examples in the cost J."),
    eps: float = typer.Option(1e-7, "--eps", help="Perturbation size."),
    directions: int = typer.Option(4, "--directions", min=1, help="Random directions (directional mode)."),
    after_epochs: int = typer.Option(0, "--after-epochs", min=0,
                                     help="Check again after this many training epochs."),
    fail_on: str = typer.Option("never", "--fail-on", help="Exit 1 when a verdict is at least: check | bug."),
    json_: bool = typer.Option(False, "--json", help="Print the results as JSON."),
) -> None:
    """Compare the gradient from backpropagation with two-sided finite differences of J
    (float64, dropout off, regularization included) and show which parameter tensor is off."""
    from mlstrat._exceptions import ConfigError
    from mlstrat._numbers import did_you_mean
    from mlstrat.nn import TrainConfig, gradcheck_config

    if mode not in ("auto", "full", "directional"):
        raise ConfigError(f"--mode {mode!r} is not one of auto, full, directional{did_you_mean(mode, ['auto', 'full', 'directional'])}")
    if fail_on not in _FAIL_ON:
        raise ConfigError(f"--fail-on {fail_on!r} is not one of {', '.join(_FAIL_ON)}")
    results = gradcheck_config(TrainConfig.from_toml(config), rows=rows, mode=mode, eps=eps,
                               directions=directions, after_epochs=after_epochs)
    from mlstrat.cli._common import emit

    emit({stage: r for stage, r in results}, as_json=json_, render=lambda _: _render(results))
    rank = {"ok": 0, "check": 1, "bug": 2}
    if fail_on != "never" and any(rank[r.verdict] >= rank[fail_on] for _, r in results):
        raise typer.Exit(1)


def _render(results: list) -> None:
    from rich.table import Table

    from mlstrat.cli._common import console

    out = console()
    colors = {"ok": "green", "check": "yellow", "bug": "bold red"}
    for stage, r in results:
        table = Table(title=f"Gradient check at {stage}: {r.mode}, {r.n_parameters:,} parameters, "
                            f"{r.n_evaluations:,} evaluations of J, {r.seconds:.2f} s")
        for col in ("parameter", "shape", "difference", "verdict"):
            table.add_column(col, justify="right" if col == "difference" else "left")
        for p in r.parameters:
            table.add_row(p.name, "x".join(map(str, p.shape)), f"{p.difference:.2e}",
                          f"[{colors[p.verdict]}]{p.verdict}[/]")
        out.print(table)
        out.print(f"overall ||approx - grad|| / (||approx|| + ||grad||) = {r.difference:.2e}: "
                  f"[{colors[r.verdict]}]{r.verdict}[/]"
                  + (f" (look at {r.worst})" if r.verdict != "ok" else ""))

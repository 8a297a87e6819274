"""`mlstrat curve`: train on nested subsets of train and plot train, train-dev and dev error against size."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from mlstrat.cli._app import app
from mlstrat.cli._options import StoreOption


def _render(curve: Any) -> list[Any]:
    from rich.table import Table
    from rich.text import Text

    rate = curve.metric == "error"

    def fig(v: float) -> str:
        return f"{100 * v:.2f}%" if rate else f"{v:.4g}"

    with_train_dev = all(p.train_dev is not None for p in curve.points)
    table = Table(title=f"Learning curve ({curve.metric}, 95% CI)", title_justify="left")
    columns = ["train examples", "train", *(["train-dev"] if with_train_dev else []), "dev", "dev 95% CI"]
    for col in columns:
        table.add_column(col, justify="right")
    for p in curve.points:
        middle = [fig(p.train_dev[0])] if with_train_dev else []
        table.add_row(f"{p.size:,}", fig(p.train[0]), *middle, fig(p.dev[0]),
                      f"{fig(p.dev[1])} .. {fig(p.dev[2])}")
    out: list[Any] = [table]
    if curve.fit is not None:
        lo, hi = curve.fit.exponent_ci
        trend = "" if curve.fit.reliable else "; the interval includes 0: no reliable trend"
        out.append(Text(f"power law: dev = floor + b·m^-c, c = {curve.fit.exponent:.3f} "
                        f"(95% CI {lo:.3f} .. {hi:.3f}, {curve.fit.points} sizes{trend})"))
    out.append(Text(curve.reading, style="bold"))
    if curve.end_to_end:
        out.append(Text(curve.end_to_end))
    out += [Text(f"warning: {w}", style="yellow") for w in curve.warnings]
    return out


@app.command("curve")
def curve_command(
    config: Path = typer.Argument(..., help="Training config (TOML), as for `mlstrat train`."),
    sizes: str = typer.Option("10%,25%,50%,100%", "--sizes",
                              help="Shares of train (10%) or counts (5000); nested subsets."),
    output: Path = typer.Option(Path("curve"), "-o", "--output",
                                help="Folder for the runs per size, curve.json and curve.svg."),
    human: str | None = typer.Option(None, "--human", help="Human-level error: the curve's floor (0.5%)."),
    seed: int = typer.Option(0, "--seed", help="Seeds the permutation that makes the subsets nested."),
    force: bool = typer.Option(False, "--force", help="Write into a non-empty output folder."),
    json_out: bool = typer.Option(False, "--json", help="Print the curve as JSON."),
    store: StoreOption = None,
    note: str | None = typer.Option(None, "--note", help="A note saved with the recorded run."),
    record: bool = typer.Option(True, "--record/--no-record", help="Record the curve as a run."),
) -> None:
    """Learning curve: train and dev error against training-set size, and what doubling the data buys."""
    from mlstrat._numbers import parse_rate, require_percent
    from mlstrat.curves import curve_from_config
    from mlstrat.nn import TrainConfig

    if human is not None:
        require_percent(human, name="--human")  # a bare 0.5 could be 0.5% or 50%
    level = parse_rate(human, name="--human") if human is not None else None
    train_config = TrainConfig.from_toml(config)
    curve = curve_from_config(train_config, sizes=sizes, output=output, human=level, seed=seed, force=force)
    _write(curve, output)
    if record:
        from mlstrat.runs import RunStore

        run = RunStore(store).record("curve", config=train_config.to_dict(),
                                     metrics={"curve": curve.to_dict()}, artifacts=str(output), note=note)
        if not json_out:
            from mlstrat.cli._common import err_console

            err_console().print(f"[grey50]recorded run {run.id}[/]")
    if json_out:
        from mlstrat.cli._common import echo_json

        echo_json(curve)
        return
    from mlstrat.cli._common import console, safe

    out = console()
    for item in _render(curve):
        out.print(item)
    out.print(f"[grey50]wrote {safe(output / 'curve.json')} and {safe(output / 'curve.svg')}[/]")


def _write(curve: Any, output: Path) -> None:
    from mlstrat._json import dumps
    from mlstrat.display._charts import size_curve_svg
    from mlstrat.tables import atomic_write_text

    doc = curve.to_dict()
    atomic_write_text(output / "curve.json", dumps(doc))
    atomic_write_text(output / "curve.svg", size_curve_svg(doc))

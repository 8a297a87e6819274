"""`mlstrat lr-find CONFIG`: the learning-rate range test for a training config."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

from mlstrat.cli._app import app
from mlstrat.cli._chart_files import chart_option, check_chart_path, write_chart


@app.command("lr-find")
def lr_find_command(
    config: Path = typer.Argument(..., help="TOML config of the network to train (as for `mlstrat train`)."),
    start_lr: float = typer.Option(1e-7, "--start-lr", help="Learning rate of the first step."),
    end_lr: float = typer.Option(10.0, "--end-lr", help="Learning rate of the last step."),
    steps: int = typer.Option(200, "--steps", help="Mini-batches, the learning rate growing exponentially."),
    diverge: float = typer.Option(4.0, "--diverge",
                                  help="Stop once the smoothed loss passes this many times its minimum."),
    store: Optional[Path] = typer.Option(
        None, "--store", help="Run store to record into (default: $MLSTRAT_STORE or .mlstrat/runs.db)."),
    record: bool = typer.Option(True, "--record/--no-record", help="Record the test in the run store."),
    note: Optional[str] = typer.Option(None, "--note", help="A note saved with the recorded test."),
    json_: bool = typer.Option(False, "--json", help="Print the curve and the suggestion as JSON."),
    chart: Optional[Path] = chart_option("the loss against the learning rate with the suggestion marked"),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing --chart file."),
) -> None:
    """Train from scratch on mini-batches while the learning rate grows from --start-lr to --end-lr
    (Smith 2017; fastai's lr_find); suggest the learning rate where the smoothed loss falls fastest."""
    from mlstrat.nn import TrainConfig, lr_find
    from mlstrat.nn._lr_find import record_lr_find

    chart = check_chart_path(chart, inputs=[config], force=force)  # fail before the work
    train_config = TrainConfig.from_toml(config).resolve_paths(Path.cwd())
    if chart is not None and train_config.data.manifest:
        check_chart_path(chart, inputs=[config, train_config.data.manifest], force=force)
    result = lr_find(train_config, start_lr=start_lr, end_lr=end_lr, steps=steps, diverge=diverge)
    from mlstrat.cli._common import emit, err_console

    if record:
        result = record_lr_find(result, train_config, store=store, note=note)
        if not json_:
            err_console().print(f"[grey50]recorded run {result.run_id}[/]")

    if chart is not None:
        from mlstrat.display._decision_charts import lr_find_png, lr_find_svg

        write_chart(chart, result.to_dict(), svg=lr_find_svg, png=lr_find_png)
    emit(result, as_json=json_, render=lambda r: _render(r, config))


def _render(result: Any, config: Path) -> None:
    from mlstrat.cli._common import console
    from mlstrat.nn._lr_find import sparkline

    out = console()
    why = {"diverged": f"the smoothed loss passed {result.settings['diverge']:g}x its minimum",
           "end_lr": "every step ran"}[result.stopped]
    out.print(f"Learning-rate range test: {len(result.lrs)} steps from lr {result.lrs[0]:.3g} to "
              f"{result.lrs[-1]:.3g} ({why}).")
    out.print(f"smoothed loss  {sparkline(result.smoothed)}", markup=False)
    out.print(f"{'':15}lr {result.lrs[0]:.0e} -> {result.lrs[-1]:.2g}, log scale", markup=False)
    out.print(f"[bold]Suggested lr: {result.suggestion:.3g}[/] (steepest descent of the smoothed loss against "
              f"log lr, before its minimum; the minimum's lr / 10 is {result.min_lr:.3g})", soft_wrap=True)
    out.print(f"Next: set [optim] lr = {result.suggestion:.3g} in {config}, or lr = \"find\" to run "
              "this test before each training", markup=False, soft_wrap=True)

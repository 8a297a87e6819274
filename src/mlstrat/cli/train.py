"""`mlstrat train` and `mlstrat predict`: train a network from a TOML config; apply a trained run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from mlstrat.cli._app import app


@app.command("train")
def train_command(
    config: Path = typer.Argument(..., help="TOML config ([data], [model], [regularization], [optim], ...)."),
    output: Path | None = typer.Option(None, "-o", "--output",
                                       help="Run directory to write (default: runs/run-<UTC time>)."),
    force: bool = typer.Option(False, "--force", help="Overwrite a run directory that already holds a model."),
    json_: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    human: list[str] = typer.Option([], "--human",
                                    help='Human-level error for the recorded diagnosis, repeatable: "expert=0.5%"'),
    store: Path | None = typer.Option(None, "--store",
                                      help="Run store to record into (default: $MLSTRAT_STORE or .mlstrat/runs.db)."),
    note: str | None = typer.Option(None, "--note", help="A note saved with the recorded run."),
    record: bool = typer.Option(True, "--record/--no-record", help="Record the run in the run store."),
) -> None:
    """Train a network and write a run directory: model.pt, config.toml, history.json,
    predictions.parquet (all splits) and metrics.json; record it in the run store."""
    from mlstrat.nn import TrainConfig, train

    train_config = TrainConfig.from_toml(config)
    result = train(train_config, run_dir=output, force=force)
    if record:
        run_id = _record(train_config, result, human=human, store=store, note=note)
        if not json_:
            from mlstrat.cli._common import err_console

            err_console().print(f"[grey50]recorded run {run_id}[/]")
    if json_:
        from mlstrat.cli._common import echo_json

        echo_json(result)
        return
    _render_train(result)


def _record(config: Any, result: Any, *, human: list[str], store: Path | None, note: str | None) -> str:
    """Record the training run with its metrics and diagnosis (multi-task runs: per task and
    on the task-averaged error)."""
    import warnings

    from mlstrat._exceptions import MlstratWarning
    from mlstrat.runs import RunStore, record_predictions_run

    predictions = result.run_dir / "predictions.parquet"
    diagnosis = metrics = None
    if result.tasks:
        from mlstrat.diagnosis import diagnose_tasks

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", MlstratWarning)
            diagnosis = diagnose_tasks(str(predictions), human=human)
    else:
        from mlstrat.diagnosis import diagnose
        from mlstrat.metrics import compute_metrics

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", MlstratWarning)  # e.g. "no human level: 0 assumed"
            diagnosis = diagnose(str(predictions), human=human)
            metrics = compute_metrics(str(predictions))
    run = record_predictions_run("train", predictions, store=RunStore(store), config=config.to_dict(),
                                 metrics=metrics, diagnosis=diagnosis, artifacts=result.run_dir, note=note,
                                 data=config.data.manifest)
    return run.id


def _render_train(result: Any) -> None:
    from rich.table import Table

    from mlstrat._constants import SPLIT_DISPLAY, SPLITS
    from mlstrat._numbers import format_rate
    from mlstrat.cli._common import console

    out = console()
    h = result.history
    last = h["epochs"][-1]["epoch"] if h["epochs"] else 0
    notes = [f"{last} epoch(s)", f"best dev epoch {h['best_epoch']}"]
    if h["stopped_early"]:
        notes.append("stopped early")
    if h["restored_best"]:
        notes.append("restored the best dev weights")
    out.print(f"Trained {result.n_parameters:,} parameters on {result.device} in {result.seconds:.1f} s "
              f"({', '.join(notes)}).")
    table = Table(title="Error per split")
    for col in ("split", "n", "error", "accuracy"):
        table.add_column(col, justify="left" if col == "split" else "right")
    for split in SPLITS:
        m = result.metrics.get(split)
        if m:
            table.add_row(SPLIT_DISPLAY[split], str(m["n"]), format_rate(m["error"]), format_rate(m["accuracy"]))
    out.print(table)
    for task, per_split in result.metrics.get("tasks", {}).items():
        cells = [f"{SPLIT_DISPLAY[s]} {format_rate(v['error'])}" for s, v in per_split.items()]
        out.print(f"task {task}: error " + ", ".join(cells))
    out.print(f"Run written to {result.run_dir}", markup=False, soft_wrap=True)
    out.print(f"Next: mlstrat diagnose {result.run_dir / 'predictions.parquet'} --human <error>",
              markup=False, soft_wrap=True)


@app.command("predict")
def predict_command(
    run_dir: Path = typer.Argument(..., help="Run directory written by `mlstrat train` (or its model.pt)."),
    data: Path = typer.Argument(..., help="Table with the model's feature columns (CSV, Parquet, JSONL, ...)."),
    output: Path = typer.Option(..., "-o", "--output", help="Predictions table to write (.parquet, .csv, .jsonl)."),
    force: bool = typer.Option(False, "--force", help="Overwrite the output file."),
    json_: bool = typer.Option(False, "--json", help="Print a JSON summary."),
) -> None:
    """Apply a trained model to new data (with the normalization saved at training time)."""
    from mlstrat.nn import predict

    table = predict(run_dir, data, output=output, force=force)
    summary = {"output": str(output), "rows": table.num_rows, "columns": table.column_names}
    if json_:
        from mlstrat.cli._common import echo_json

        echo_json(summary)
        return
    from mlstrat.cli._common import console

    console().print(f"Wrote {table.num_rows:,} predictions to {output}", markup=False, soft_wrap=True)

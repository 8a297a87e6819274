"""`mlstrat train` and `mlstrat predict`: train a network from a TOML config; apply a trained run."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import typer

from mlstrat.cli._app import app


@app.command("train")
def train_command(
    ctx: typer.Context,
    config: Path | None = typer.Argument(None, help="TOML config ([data], [model], [regularization], [optim], "
                                         "...); optional with --resume (the run's own config)."),
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
    test: bool = typer.Option(False, "--test", help="Report the test split's figures (sealed by default); "
                              "each look is counted in the run store."),
    nproc: int = typer.Option(1, "--nproc", min=1,
                              help="Train in N processes with PyTorch DDP (torchrun on this machine; gloo on "
                                   "CPU, NCCL on GPUs: one per GPU); batch_size stays the global batch."),
    resume: str | None = typer.Option(None, "--resume", metavar="RUN",
                                      help="Continue an interrupted run (its run directory) from its last epoch "
                                           "checkpoint; the weights are those of an uninterrupted run."),
) -> None:
    """Train a network and write a run directory: model.pt, config.resolved.toml, history.json,
    predictions.parquet (all splits) and metrics.json; record it in the run store."""
    if _in_launcher():
        _join_launcher()
    from mlstrat._numbers import require_percent
    from mlstrat.nn import TrainConfig

    for item in human:  # refused before training, not after: a bare 0.5 could be 0.5% or 50%
        require_percent(item, name="--human")
    if resume is not None:
        train_config, output = _resume_target(resume, config, output, store,
                                              nproc=None if _in_launcher() else nproc)
    elif config is None:
        raise _usage("give the TOML config to train (or --resume RUN to continue an interrupted run)")
    else:
        train_config = TrainConfig.from_toml(config)
    if nproc > 1 and not _in_launcher():
        raise typer.Exit(_launch(ctx, train_config, nproc))
    if _rank() != 0:  # a DDP worker: rank 0 prints, writes and records
        with _quiet_when_peers_die():
            _train_quietly(train_config, output, force, resume=resume is not None)
        return
    with _quiet_when_peers_die():
        _train_and_record(train_config, output, force, json_=json_, human=human, store=store, note=note,
                          record=record, test=test, resume=resume is not None)


def _usage(message: str) -> Exception:
    from mlstrat._exceptions import ConfigError

    return ConfigError(message)


def _resume_target(run: str, config: Path | None, output: Path | None, store: Path | None, *,
                   nproc: int | None) -> tuple[Any, Path]:
    """(the config, the run directory) of ``--resume RUN``: RUN is the interrupted run's directory
    (its -o); a run id names a recorded run, which finished. The config is the file given, else the
    one the run saved in its checkpoint. Checked before any process starts: the checkpoint, the
    config and the manifest against the run's, and ``--nproc`` (``None``: not checked)."""
    from mlstrat._exceptions import ConfigError, InputError
    from mlstrat.nn import TrainConfig
    from mlstrat.nn._checkpoint import read_resume_state, resume_path
    from mlstrat.nn._train import resumed_config

    if output is not None:
        raise _usage(f"--resume {run} writes the run directory it names; leave out -o/--output")
    run_dir = Path(run)
    if not run_dir.exists() and not resume_path(run_dir).exists():
        run_dir = _recorded_run_dir(run, store)
    saved = read_resume_state(run_dir)  # one line when there is nothing to resume
    if nproc is not None and int(saved["world"]) != nproc:
        raise ConfigError(f"cannot resume {run_dir}: it trained in {saved['world']} process(es) and this is "
                          f"{nproc}; resume with --nproc {saved['world']}")
    if config is not None:
        train_config = TrainConfig.from_toml(config)
    else:
        try:
            train_config = TrainConfig.from_dict(saved["config"])
        except Exception as exc:  # a checkpoint from another version of the config
            raise InputError(f"{resume_path(run_dir)}: its config cannot be read ({exc}); give the config "
                             "file") from None
    resumed_config(train_config, run_dir)  # refuses another config or a changed manifest
    return train_config, run_dir


def _recorded_run_dir(run: str, store: Path | None) -> Path:
    """The run directory of a recorded run id (or one line: neither a run directory nor a run id)."""
    from mlstrat._exceptions import InputError
    from mlstrat.runs import RunStore

    try:
        recorded = RunStore(store).get(run)
    except InputError as exc:
        raise InputError(f"--resume {run}: no such run directory, and not a run id: {exc}") from None
    if not recorded.artifacts:
        raise InputError(f"--resume {run}: run {recorded.id} has no run directory; nothing to resume")
    return Path(recorded.artifacts)


def _train_and_record(train_config: Any, output: Path | None, force: bool, *, json_: bool, human: list[str],
                      store: Path | None, note: str | None, record: bool, test: bool, resume: bool) -> None:
    from mlstrat.nn import train

    result = _train_showing_health(train, train_config, output, force, test=test, store=store,
                                   record=record, human=human, note=note, resume=resume)
    if result.run_id is not None and not json_:
        from mlstrat.cli._common import err_console

        err_console().print(f"[grey50]recorded run {result.run_id}[/]")
    if json_:
        from mlstrat.cli._common import echo_json

        echo_json(result)
    else:
        _render_train(result)
    _exit_if_diverged(result)


def _exit_if_diverged(result: Any) -> None:
    """A run whose cost became NaN or infinite failed: one red line, exit 1 (its files are kept
    for inspection, and the run store records it as failed)."""
    from mlstrat.runs._record import training_failure

    failure = training_failure(result.history)
    if failure is None:
        return
    from mlstrat.cli._common import err_console, safe

    err_console().print(f"[bold red]Training failed:[/] {safe(failure)}", soft_wrap=True)
    raise typer.Exit(1)


def _join_launcher() -> None:
    """A rank of ``train --nproc``: it dies with the launcher (nothing it would publish belongs
    to anyone once the command is gone), and a signal the launcher forwards ends it at once,
    without a traceback (the launcher says what happened)."""
    import os
    import signal

    from mlstrat._processes import OWNER_ENV, die_with_parent

    owner = os.environ.get(OWNER_ENV, "")
    if owner.isdigit():
        die_with_parent(int(owner))
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


@contextlib.contextmanager
def _quiet_when_peers_die() -> Iterator[None]:
    """A rank whose collective failed because another rank died exits at once with
    ``PEER_LOST_EXIT`` and says nothing: the launcher reports the rank that died."""
    try:
        yield
    except Exception as exc:
        from mlstrat.nn._distributed import PEER_LOST_EXIT, peer_lost

        if _in_launcher() and peer_lost(exc):
            import os

            os._exit(PEER_LOST_EXIT)  # (a normal exit can abort in gloo's destructors)
        raise


def _in_launcher() -> bool:
    import os

    return "WORLD_SIZE" in os.environ and "RANK" in os.environ


def _rank() -> int:
    import os

    return int(os.environ.get("RANK", "0")) if _in_launcher() else 0


def _launch(ctx: typer.Context, config: Any, nproc: int) -> int:
    """This very command again, without --nproc, in ``nproc`` processes under torchrun (after the
    checks that need no data, so that they fail before any process starts)."""
    from mlstrat._processes import Stopped, exit_description, signal_label, stop_on_signals
    from mlstrat.cli._common import err_console
    from mlstrat.nn._distributed import PEER_LOST_EXIT, check_batch, check_cpus, check_gpus, launch
    from mlstrat.nn._setup import resolve_device

    check_batch(config.optim.batch_size, nproc)
    if resolve_device(config.optim.device).type == "cuda":
        check_gpus(nproc)
    else:
        check_cpus(nproc)

    try:
        with stop_on_signals():
            code, rank = launch(nproc, ["train", *_command_args(ctx, drop={"nproc"})])
    except Stopped as stop:
        err_console(soft_wrap=True).print(
            f"[bold red]Stopped:[/] training stopped by {signal_label(stop.signum)}: every training process "
            f"was stopped before writing; no run directory written, nothing recorded{_resumable(ctx, nproc)}")
        return stop.exit_code
    if code > 128:
        err_console(soft_wrap=True).print(
            f"[bold red]Error:[/] rank {rank} {exit_description(128 - code)}; the other training "
            f"processes were stopped; no run directory written, nothing recorded{_resumable(ctx, nproc)}")
    elif code == PEER_LOST_EXIT:
        err_console(soft_wrap=True).print("[bold red]Error:[/] the training processes lost contact with each "
                                          "other; nothing recorded")
    return code


def _resumable(ctx: Any, nproc: int) -> str:
    """The end of a stopped run's line when its last epoch checkpoint is there to resume from."""
    from mlstrat.cli._common import safe
    from mlstrat.nn._checkpoint import resume_path

    run_dir = ctx.params.get("output") or ctx.params.get("resume")
    if run_dir is None or not resume_path(run_dir).exists():
        return ""
    return (f"; its last epoch checkpoint is kept: `mlstrat train --resume {safe(str(run_dir))} --nproc {nproc}` "
            "continues it")


def _command_args(ctx: Any, *, drop: set[str]) -> list[str]:
    """The command line that gives ``ctx``'s parsed values again (options by their first name)."""
    args: list[str] = []
    for param in ctx.command.params:
        value = ctx.params.get(param.name)
        if param.name in drop or value is None:
            continue
        if param.param_type_name == "argument":
            args.append(str(value))
        elif param.is_flag:
            names = param.opts if value else param.secondary_opts
            args.extend(names[:1])
        elif param.multiple:
            for v in value:
                args.extend([param.opts[0], str(v)])
        else:
            args.extend([param.opts[0], str(value)])
    return args


def _train_quietly(config: Any, output: Path | None, force: bool, *, resume: bool) -> None:
    """A rank other than 0 trains; its errors and warnings are rank 0's too, which already
    prints them."""
    import warnings

    from mlstrat._exceptions import MlstratError
    from mlstrat.nn import train

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            train(config, run_dir=output, force=force, store=False, resume=resume)
    except MlstratError:
        # the launcher stops every rank as soon as one exits: wait so that rank 0, which meets
        # the same error, prints it before this exit can cut it off
        import time

        time.sleep(_PRINT_GRACE_S)
        raise typer.Exit(2) from None


#: how long a failing DDP worker waits for rank 0 to report the shared error
_PRINT_GRACE_S = 5.0


def _train_showing_health(train: Any, config: Any, output: Path | None, force: bool, *,
                          test: bool, store: Path | None, record: bool, human: list[str],
                          note: str | None, resume: bool = False) -> Any:
    """Train; the gradient-health warnings are rendered from the history (one clean line each on
    stderr), the test-set reuse warning from ``result.warnings``, any other warning passes
    through as usual."""
    import warnings

    from mlstrat.runs import ReusedTestSetWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = train(config, run_dir=output, force=force, test=test, store=store, record=record,
                       human=human, note=note, resume=resume)
    health = {w["message"] for w in result.history.get("warnings", [])}
    for w in caught:
        if str(w.message) not in health and not issubclass(w.category, ReusedTestSetWarning):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    if health:
        from mlstrat.cli._common import err_console, safe

        for message in sorted(health):
            err_console().print(f"[yellow]warning:[/] {safe(message)}", soft_wrap=True)
    return result


def _render_train(result: Any) -> None:
    from rich.table import Table

    from mlstrat._constants import SPLIT_DISPLAY, SPLITS
    from mlstrat.display._numbers import format_rate
    from mlstrat.cli._common import console, print_convergence

    out = console()
    h = result.history
    last = h["epochs"][-1]["epoch"] if h["epochs"] else 0
    notes = [f"{last} epoch(s)", f"best dev epoch {h['best_epoch']}"]
    if h.get("resumed_after_epoch"):
        notes.insert(1, f"resumed after epoch {h['resumed_after_epoch']}")
    if h.get("diverged"):
        notes.append(f"diverged at epoch {h['diverged']['epoch']}: the figures below are of NaN/inf weights")
    if h["stopped_early"]:
        notes.append("stopped early")
    if h["restored_best"]:
        notes.append("restored the best dev weights")
    where = result.device if result.processes == 1 else f"{result.device} x {result.processes} processes (DDP)"
    out.print(f"Trained {result.n_parameters:,} parameters on {where} in {result.seconds:.1f} s "
              f"({', '.join(notes)}).")
    print_convergence(out, h.get("convergence"))
    found = h.get("lr_find")
    if found:
        out.print(f"Learning rate {found['suggestion']:.3g} from the range test (steepest descent of the smoothed "
                  f"loss; {found['steps']} steps, see `mlstrat lr-find`).", markup=False, soft_wrap=True)
    for line in _decision_lines(h):
        out.print(line, markup=False, soft_wrap=True)
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
    for w in result.warnings:
        style = "yellow" if w["code"] == "test_set_reused" else "grey50"
        out.print(w["message"], style=style, markup=False, soft_wrap=True)
    out.print(f"Run written to {result.run_dir}", markup=False, soft_wrap=True)
    out.print(f"Next: mlstrat diagnose {result.run_dir / 'predictions.parquet'} --human <error>",
              markup=False, soft_wrap=True)


def _decision_lines(history: dict[str, Any]) -> list[str]:
    """The transfer's source and target sizes and the multi-task label counts, when configured."""
    lines = []
    transfer = history.get("transfer")
    if transfer:
        source = transfer["source_train_rows"]
        ratio = "" if transfer["ratio"] is None else f" ({transfer['ratio']:.1f}x)"
        lines.append(f"Transfer: source trained on {'an unrecorded number of' if source is None else f'{source:,}'} "
                     f"rows, this run on {transfer['target_train_rows']:,} train rows{ratio}.")
    multitask = history.get("multitask")
    if multitask:
        counts = ", ".join(f"{task} {c['positives']:,}/{c['labelled']:,}" for task, c in multitask["tasks"].items())
        lines.append(f"Train rows per task (positive/labelled): {counts}.")
    return lines


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

"""`mlstrat diagnose`: decompose the error against human level and print the recipe."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from mlstrat.cli._app import app
from mlstrat.cli._common import (
    SPLIT_COL_HELP,
    Y_PRED_HELP,
    Y_TRUE_HELP,
    engine_option,
    predictions_source,
    start_engine,
)
from mlstrat.cli._flags import split_callback


@app.command("diagnose")
def diagnose_command(
    ctx: typer.Context,
    predictions: str | None = typer.Argument(
        None, help="Predictions table (split, y_true, y_pred, ...): a file, directory or URI."
    ),
    errors: str | None = typer.Option(
        None,
        "--errors",
        help="Bare figures instead of a table: train=1%,train_dev=1.5%,dev=10%,test=10.2%",
    ),
    sizes: str | None = typer.Option(
        None,
        "--sizes",
        help="Examples per split for --errors (gives intervals): train=50000,dev=2000",
    ),
    human: list[str] = typer.Option(
        [], "--human", help='Human-level error, repeatable: "expert team=0.5%" or 0.5%'
    ),
    bayes: str | None = typer.Option(
        None,
        "--bayes",
        help="Name of the --human reference to use as Bayes proxy (default: the lowest).",
    ),
    human_labels: Path | None = typer.Option(
        None,
        "--human-labels",
        help="Table of id, label[, annotator]: measure human error on the same examples.",
    ),
    metric: str = typer.Option(
        "error",
        "--metric",
        help="error | weighted_error | f1 (decomposes 1 - F1) | mae | rmse (numeric y) | "
        "mean:COL (a per-example loss column) | ratio:NUM/DEN (e.g. ratio:word_errors/words).",
    ),
    higher_is_better: bool = typer.Option(
        False, "--higher-is-better", help="The mean:COL column is a score (IoU): higher is better."
    ),
    tolerance: str | None = typer.Option(
        None,
        "--tolerance",
        help="A component below this is not a problem: default 1% (1 point) for rates, "
        "1% of the dev figure for metrics in a unit.",
    ),
    mismatched: bool | None = typer.Option(
        None,
        "--mismatched/--not-mismatched",
        help="Train and dev come from different distributions (detected from a 'domain' column by "
        "default).",
    ),
    test: bool = typer.Option(
        False,
        "--test",
        help="Include the test split of the predictions (sealed by default): its error and dev "
        "overfitting. Each look is counted in the run store.",
    ),
    model_family: str | None = typer.Option(
        None,
        "--model-family",
        help="Word the actions for the model: neural_network (default) | gradient_boosting | "
        "linear | other. Action ids do not change.",
    ),
    fail_on: str | None = typer.Option(
        None,
        "--fail-on",
        help="Exit 1 when one of these problems is found, comma-separated: "
        "avoidable_bias, variance, data_mismatch, dev_overfitting.",
    ),
    y_true: str | None = typer.Option(None, "--y-true", help=Y_TRUE_HELP),
    y_pred: str | None = typer.Option(None, "--y-pred", help=Y_PRED_HELP),
    split_col: str | None = typer.Option(None, "--split-col", help=SPLIT_COL_HELP),
    json_out: bool = typer.Option(False, "--json", help="Print the diagnosis as JSON."),
    store: Path | None = typer.Option(
        None, "--store", help="Run store to record into (default: $MLSTRAT_STORE or .mlstrat/runs.db)."
    ),
    note: str | None = typer.Option(None, "--note", help="A note saved with the recorded run."),
    record: bool = typer.Option(
        True, "--record/--no-record", help="Record a diagnosis of a predictions table as a run."
    ),
    by: str | None = typer.Option(
        None, "--by",
        help="Instead of the diagnosis: the --metric of --split per slice of COL[,COL], with "
        "interval, share of mistakes (or loss) and ceiling.",
    ),
    by_split: str = typer.Option("dev", "--split", callback=split_callback,
                                 help="With --by: the split to break down (val, validation... accepted)."),
    bins: str = typer.Option("10", "--bins", help="With --by: quantile bins of a numeric column."),
    top: str = typer.Option("20", "--top", help="With --by: slices listed; the rest pooled as (other)."),
    engine: str | None = engine_option(),
) -> None:
    """Diagnose avoidable bias, variance, data mismatch and dev overfitting; say what to do next."""
    if by is not None and predictions is not None:
        _slice_breakdown(predictions, by=by, split=by_split, metric=metric, bins=bins, top=top,
                         y_true=y_true, y_pred=y_pred, split_col=split_col, json_out=json_out,
                         engine=engine)
        return

    from mlstrat.diagnosis import parse_problems

    fail = parse_problems(fail_on) if fail_on is not None else ()
    _require_rate_units(metric, errors=errors, human=human, tolerance=tolerance)
    if predictions is not None or human_labels is not None:
        start_engine(engine)
    if predictions is not None and errors is None and _has_tasks(predictions, metric):
        _diagnose_tasks(predictions, human=human, bayes=bayes, tolerance=tolerance,
                        mismatched=mismatched, model_family=model_family, fail=fail,
                        json_out=json_out, store=store, note=note, record=record, test=test,
                        options=_identity(ctx))
        return
    result = _run_diagnosis(
        predictions, errors=errors, sizes=sizes, human=human, bayes=bayes,
        human_labels=human_labels, metric=metric, higher_is_better=higher_is_better,
        tolerance=tolerance, mismatched=mismatched, model_family=model_family, test=test,
        store=store, y_true=y_true, y_pred=y_pred, split_col=split_col,
    )
    _print_reuse(result, quiet=json_out)
    if record and predictions is not None:
        _record(predictions, result, store=store, note=note, quiet=json_out, options=_identity(ctx))
    _show_diagnosis(result, json_out=json_out)
    _fail_on_found(result, fail)


def _slice_breakdown(predictions: str, *, by: str, split: str, metric: str, bins: str, top: str,
                     y_true: str | None, y_pred: str | None, split_col: str | None,
                     json_out: bool, engine: str | None) -> None:
    """``--by``: the metric of one split per slice, instead of the diagnosis."""
    from mlstrat.cli._slices import print_slice_metrics, whole_number
    from mlstrat.errors import slice_metrics

    start_engine(engine)
    source = predictions_source(predictions, y_true=y_true, y_pred=y_pred, split_col=split_col)
    result = slice_metrics(source, by, split=split, metric=metric,
                           bins=whole_number(bins, "--bins"), top=whole_number(top, "--top"))
    print_slice_metrics(result, json_out=json_out)


def _run_diagnosis(predictions: str | None, *, errors: str | None, sizes: str | None,
                   human: list[str], bayes: str | None, human_labels: Path | None, metric: str,
                   higher_is_better: bool, tolerance: str | None, mismatched: bool | None,
                   model_family: str | None, test: bool, store: Path | None,
                   y_true: str | None, y_pred: str | None, split_col: str | None) -> Any:
    """Diagnose a predictions table or bare figures (one task)."""
    import warnings

    from mlstrat.diagnosis import diagnose

    with warnings.catch_warnings():
        if predictions is not None:  # only a table's test split is counted (bare figures: no store)
            from mlstrat.runs import ReusedTestSetWarning

            # the reuse warning is in result.warnings (rendered, or on stderr with --json)
            warnings.simplefilter("ignore", ReusedTestSetWarning)
        return diagnose(
            predictions_source(predictions, y_true=y_true, y_pred=y_pred, split_col=split_col,
                               columns=_columns(predictions, metric)),
            errors=errors,
            sizes=sizes,
            human=human,
            bayes=bayes,
            human_labels=str(human_labels) if human_labels is not None else None,
            metric=metric,
            higher_is_better=higher_is_better or None,
            tolerance=tolerance,
            mismatched=mismatched,
            model_family=model_family,
            test=test,
            store=store,
            dev_test_auc=_dev_test_auc(predictions, test=test, errors=errors),
        )


def _show_diagnosis(result: Any, *, json_out: bool) -> None:
    """Print the diagnosis as JSON or as the rendered report."""
    if json_out:
        from mlstrat.cli._common import echo_json

        echo_json(result)
    else:
        from mlstrat.cli._common import console
        from mlstrat.diagnosis._render import render_diagnosis

        out = console()
        for item in render_diagnosis(result):
            out.print(item)


def _fail_on_found(result: Any, fail: tuple[str, ...]) -> None:
    """Exit 1 when the diagnosis found one of the ``--fail-on`` problems."""
    found = [p for p in fail if p in result.problems]
    if found:
        from mlstrat.cli._common import err_console

        err_console().print(f"[red]Found {', '.join(found)} (--fail-on)[/]")
        raise typer.Exit(1)


#: Column prefixes a dev-vs-test domain classifier reads: predicted probabilities, features.
DEV_TEST_PREFIXES = ("proba_", "feature_")


def _dev_test_auc(predictions: str | None, *, test: bool, errors: str | None) -> object:
    """Cross-validated AUC of a classifier telling test rows from dev rows on the table's
    ``proba_*`` / ``feature_*`` columns, when the test split is looked at.

    Run here, not in the diagnosis: the domain classifier lives in ``mlstrat.mismatch``, a
    layer above ``mlstrat.diagnosis``; this command sits above both and passes the AUC in.
    """
    if predictions is None or errors is not None or not test:
        return None
    import numpy as np

    from mlstrat.mismatch._adversarial import MIN_AUC_ROWS, domain_auc
    from mlstrat.tables import read_table, select_columns

    table = read_table(str(predictions), columns=select_columns("split", prefixes=DEV_TEST_PREFIXES))
    names = [c for c in table.columns if c.startswith(DEV_TEST_PREFIXES)
             and table[c].type().is_numeric()]
    if not names or "split" not in table.columns:
        return None
    rows = table.filter(table.split.cast("string").isin(["dev", "test"])).to_pyarrow()
    split = np.asarray(rows.column("split").cast("string").to_pylist())
    x = np.stack([rows.column(c).to_numpy(zero_copy_only=False).astype(np.float64) for c in names],
                 axis=1)
    dev, tst = x[split == "dev"], x[split == "test"]
    if min(len(dev), len(tst)) < MIN_AUC_ROWS or not np.isfinite(x).all():
        return None
    return domain_auc(tst, dev)


def _require_rate_units(metric: str, *, errors: str | None, human: list[str],
                        tolerance: str | None) -> None:
    """For a rate metric every figure carries its % sign (``--human 0.5`` could be 0.5% or
    50%); metrics in a unit (RMSE, MAE, mean:, ratio:) take bare numbers in that unit."""
    from mlstrat._numbers import require_percent
    from mlstrat.metrics._spec import parse_metric

    if not parse_metric(metric).is_rate:
        return
    if errors is not None:
        require_percent(errors, name="--errors", assignments=True)
    for item in human:
        require_percent(item, name="--human")
    if tolerance is not None:
        require_percent(tolerance, name="--tolerance")


def _columns(predictions: str | None, metric: str) -> object:
    """The columns the diagnosis reads from a predictions table (a wide file is read for those)."""
    if predictions is None:
        return None
    from mlstrat.metrics._spec import metric_columns

    return metric_columns(metric)


def _has_tasks(predictions: str, metric: str) -> bool:
    """A multi-task predictions table (a ``task`` column) diagnosed on its error rate."""
    from mlstrat.metrics._spec import parse_metric
    from mlstrat.tables import read_table, select_columns

    if parse_metric(metric).kind != "error":
        return False
    # ids as text, as the diagnosis reads them next: a small file is then parsed once, not twice
    table = read_table(str(predictions), columns=select_columns("task"), text_columns=("id",))
    return "task" in table.columns


def _diagnose_tasks(predictions: str, *, human: list[str], bayes: str | None, tolerance: str | None,
                    mismatched: bool | None, model_family: str | None, fail: tuple[str, ...],
                    json_out: bool, store: Path | None, note: str | None, record: bool,
                    test: bool, options: dict[str, Any]) -> None:
    """Per task and on the task-averaged error (multi-task runs); with ``test``, one look at the
    test set is counted for the whole command."""
    from mlstrat.diagnosis import diagnose_tasks

    result = diagnose_tasks(str(predictions), human=human, bayes=bayes, tolerance=tolerance,
                            mismatched=mismatched, model_family=model_family, test=test, store=store)
    if record:
        _record(predictions, result, store=store, note=note, quiet=json_out, options=options)
    if json_out:
        from mlstrat.cli._common import echo_json

        echo_json(result)
    else:
        _render_tasks(result)
    found = sorted({p for d in [result.average, *result.tasks.values()] for p in d.problems if p in fail})
    if found:
        from mlstrat.cli._common import err_console

        err_console().print(f"[red]Found {', '.join(found)} (--fail-on)[/]")
        raise typer.Exit(1)


def _render_tasks(result: object) -> None:
    from rich.table import Table

    from mlstrat._constants import SPLIT_DISPLAY, SPLITS
    from mlstrat.display._numbers import format_rate
    from mlstrat.cli._common import console, safe
    from mlstrat.diagnosis._render import render_diagnosis

    out = console()
    out.print("[bold]Averaged over tasks[/] (error over every labeled entry; intervals over examples)")
    for item in render_diagnosis(result.average):  # type: ignore[attr-defined]
        out.print(item)
    table = Table(title="Per task", title_justify="left")
    table.add_column("task")
    splits = [s for s in SPLITS if s in result.average.errors]  # type: ignore[attr-defined]
    for s in splits:
        table.add_column(SPLIT_DISPLAY[s], justify="right")
    table.add_column("principal problem")
    table.add_column("first action")
    for name, d in result.tasks.items():  # type: ignore[attr-defined]
        table.add_row(safe(name), *[format_rate(d.errors[s].value) if s in d.errors else "-" for s in splits],
                      (d.principal_problem or "none").replace("_", " "), d.actions[0].id if d.actions else "-")
    out.print(table)


def _print_reuse(result: object, *, quiet: bool) -> None:
    """With --json, the reuse warning on stderr too (it is in the JSON's warnings as well)."""
    from mlstrat.cli._common import err_console, safe

    if not quiet:
        return  # the human rendering lists the warnings already
    for w in result.warnings:  # type: ignore[attr-defined]
        if w.code == "test_set_reused":
            err_console().print(f"[yellow]Warning:[/] {safe(w.message)}", emoji=False)


def _record(predictions: str, result: object, *, store: Path | None, note: str | None,
            quiet: bool, options: dict[str, Any]) -> None:
    """Record the diagnosis as a run.

    The run keeps the diagnosis (its per-split errors are what `runs` shows); metrics are not
    recomputed here, which would cost two more passes over a large file. A look at the test
    set was counted by the diagnosis itself, so recording does not count it again.

    The same file diagnosed again with the same options updates its run instead of adding a
    copy (the options that change the diagnosis identify it, with the file's fingerprint).
    """
    from mlstrat.runs import RunStore
    from mlstrat.runs._record import record_diagnosis_run

    run, updated = record_diagnosis_run(predictions, result, options=options, store=RunStore(store), note=note)
    from mlstrat.cli._common import err_console, safe

    if not quiet:
        done = "updated" if updated else "recorded"
        err_console().print(f"[grey50]{done} run {run.id} in {safe(RunStore(store).path)}[/]")


def _identity(ctx: typer.Context) -> dict[str, Any]:
    """The command's options that change the diagnosis (what identifies its run with the file)."""
    return {k: v for k, v in ctx.params.items() if k not in _NOT_IDENTITY}


#: options that do not change a diagnosis: a run diagnosed again with only these changed is the same run
_NOT_IDENTITY = frozenset({"predictions", "json_out", "store", "note", "record", "engine", "fail_on"})

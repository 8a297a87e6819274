"""`mlstrat metrics`: per-split error, weighted error, P/R/F1, confusion, with intervals."""

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


def _render(report: Any) -> list[Any]:
    from rich.table import Table

    from mlstrat._constants import SPLIT_DISPLAY
    from mlstrat.display._numbers import format_interval, format_rate
    from mlstrat.cli._common import safe

    def ci(pair: tuple[float, float]) -> str:  # two decimals, as format_rate writes the figures
        return format_interval(pair[0], pair[1], digits=2)

    if not report.splits:  # every row was in the sealed test split: its warning says what to do
        return [f"{safe(report.source)}: no split to report"]
    first = next(iter(report.splits.values()))
    kind = f"binary, positive = {safe(first.pos_label)}" if first.average == "binary" else "macro"
    summary = Table(title="Errors per split (95% CI)", title_justify="left")
    weighted = report.weight is not None  # without weights, weighted error = error: not repeated
    columns = ("split", "n", "error", "95% CI") + (("weighted error", "95% CI ") if weighted else ())
    for col in columns:
        summary.add_column(col, justify="left" if col == "split" else "right", no_wrap=True)
    scores = Table(title=f"Precision / recall / F1 ({kind})", title_justify="left")
    for col in ("split", "accuracy", "precision", "recall", "F1", "F1 95% CI"):
        scores.add_column(col, justify="left" if col == "split" else "right", no_wrap=True)
    for name, m in report.splits.items():
        cells = [SPLIT_DISPLAY[name], f"{m.n:,}", format_rate(m.error), ci(m.error_ci)]
        if weighted:
            cells += [format_rate(m.weighted_error), ci(m.weighted_error_ci)]
        summary.add_row(*cells)
        scores.add_row(
            SPLIT_DISPLAY[name],
            format_rate(m.accuracy),
            format_rate(m.precision),
            format_rate(m.recall),
            format_rate(m.f1),
            ci(m.f1_ci),
        )
    out: list[Any] = [summary, scores]
    for name, m in report.splits.items():
        if len(m.labels) <= 12:
            cm = Table(
                title=f"Confusion matrix: {SPLIT_DISPLAY[name]} (rows true, columns predicted)",
                title_justify="left",
            )
            cm.add_column("true \\ pred")
            labels = list(m.per_class)
            for label in labels:
                cm.add_column(safe(label), justify="right")
            for i, label in enumerate(labels):
                cm.add_row(safe(label), *(f"{int(v):,}" for v in m.matrix[i]))
            out.append(cm)
        if m.most_confused:
            pairs = ", ".join(f"{safe(p['true'])}→{safe(p['pred'])} ({p['count']:,})" for p in m.most_confused)
            out.append(f"Most confused ({SPLIT_DISPLAY[name]}, true→predicted): {pairs}")
    if report.weight:
        out.append(f"weighted error uses column {safe(repr(report.weight))}")
    return out


def _render_regression(report: Any) -> list[Any]:
    from rich.table import Table

    from mlstrat._constants import SPLIT_DISPLAY

    def cell(e: Any, fmt: str = ".4g") -> str:
        # the interval in the project's vocabulary: [low, high]
        return f"{e.value:{fmt}}\n[grey50]\\[{e.ci_low:{fmt}}, {e.ci_high:{fmt}}][/]"

    table = Table(title="Regression metrics per split (value, 95% CI below)", title_justify="left")
    for col in ("split", "n", "MAE", "RMSE", "R²", "mean residual"):
        table.add_column(col, justify="left" if col == "split" else "right")
    for name, m in report.splits.items():
        table.add_row(SPLIT_DISPLAY[name], f"{m.n:,}", cell(m.mae), cell(m.rmse), cell(m.r2, ".4f"),
                      f"{m.mean_residual:+.4g}")
    return [table, f"intervals: {report.interval}"]


@app.command("metrics")
def metrics_command(
    predictions: str = typer.Argument(
        ..., help="Predictions table (split, y_true, y_pred[, weight]): a file, directory or URI."
    ),
    split: list[str] = typer.Option(
        [], "--split", callback=split_callback,
        help="Only this split (repeatable; val, validation, train-dev... accepted); all present by default."
    ),
    pos_label: str | None = typer.Option(
        None, "--pos-label", help="Report binary P/R/F1 for this class (macro otherwise)."
    ),
    weight: str | None = typer.Option(
        None, "--weight", help="Weight column for weighted error (default: 'weight' when present)."
    ),
    zero_division: str = typer.Option(
        "warn", "--zero-division", help="Value of undefined P/R/F1: warn (0 + warning), 0, 1, nan."
    ),
    test: bool = typer.Option(
        False,
        "--test",
        help="Include the test split (sealed by default); each look is counted in the run store.",
    ),
    store: Path | None = typer.Option(
        None, "--store", help="Run store counting looks at the test set (default: $MLSTRAT_STORE "
        "or .mlstrat/runs.db)."
    ),
    y_true: str | None = typer.Option(None, "--y-true", help=Y_TRUE_HELP),
    y_pred: str | None = typer.Option(None, "--y-pred", help=Y_PRED_HELP),
    split_col: str | None = typer.Option(None, "--split-col", help=SPLIT_COL_HELP),
    regression: bool = typer.Option(
        False, "--regression", help="Numeric y_true/y_pred: MAE, RMSE and R² per split instead "
        "(detected when y_true or y_pred holds a non-integer number)."
    ),
    metric: str | None = typer.Option(
        None, "--metric", help="As for diagnose: error | weighted_error | f1 (the classification "
        "report) or mae | rmse (the regression report); detected from the table by default."
    ),
    by: str | None = typer.Option(
        None, "--by",
        help="Break the error down by COL[,COL] (each value, or quantile bin of a number, is a "
        "slice) on --split (default dev): interval, share of mistakes, ceiling per slice.",
    ),
    bins: str = typer.Option("10", "--bins", help="With --by: quantile bins of a numeric column."),
    top: str = typer.Option(
        "20", "--top", help="With --by: slices listed (most mistakes first); the rest pooled as (other)."
    ),
    json_out: bool = typer.Option(False, "--json", help="Print the metrics as JSON."),
    engine: str | None = engine_option(),
) -> None:
    """Error, weighted error, precision/recall/F1 and confusion matrix per split, with 95% CIs."""
    import warnings

    if by is not None:
        start_engine(engine)
        by_metric = metric if metric is not None else (
            "weighted_error" if weight else ("mae" if regression else "error"))
        _by(predictions_source(predictions, y_true=y_true, y_pred=y_pred, split_col=split_col),
            by, split=split, metric=by_metric, weight=weight, bins=bins, top=top, json_out=json_out)
        return
    if _is_regression(predictions, metric=metric, regression=regression, engine=engine,
                      y_true=y_true, y_pred=y_pred, split_col=split_col):
        source = predictions_source(predictions, y_true=y_true, y_pred=y_pred, split_col=split_col)
        _regression(source, split, json_out, test, store)
        return

    from mlstrat._exceptions import MlstratWarning
    from mlstrat.metrics import compute_metrics
    from mlstrat.tables import PREDICTION_COLUMNS

    start_engine(engine)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", MlstratWarning)
        report = compute_metrics(
            predictions_source(predictions, y_true=y_true, y_pred=y_pred, split_col=split_col,
                               columns=PREDICTION_COLUMNS.plus(weight)),
            split=split or None,
            pos_label=_label(pos_label),
            weight=weight,
            zero_division=zero_division,
            test=test,
            store=store,
        )
    if json_out:
        from mlstrat.cli._common import echo_json

        echo_json(report)
    else:
        from mlstrat.cli._common import console

        out = console()
        for item in _render(report):
            out.print(item)
    from mlstrat.cli._common import err_console, safe

    for w in caught:
        err_console().print(f"[yellow]warning: {safe(w.message)}[/]", emoji=False)
    for note in report.warnings:  # the reuse warning came as a Python warning above
        if note["code"] != "test_set_reused" and not json_out:
            err_console().print(f"[grey50]{safe(note['message'])}[/]", emoji=False)


def _is_regression(predictions: str, *, metric: str | None, regression: bool, engine: str | None,
                   y_true: str | None, y_pred: str | None, split_col: str | None) -> bool:
    """The regression report for ``--regression``, a regression ``--metric``, or a table whose
    y_true or y_pred holds a non-integer number (its error rate and confusion matrix would
    mean nothing)."""
    if metric is not None:
        from mlstrat._exceptions import ConfigError
        from mlstrat.metrics._spec import CLASSIFICATION, REGRESSION, parse_metric

        spec = parse_metric(metric)
        if spec.kind not in CLASSIFICATION + REGRESSION:
            raise ConfigError(f"--metric {metric}: metrics reports {', '.join(CLASSIFICATION)} or "
                              f"{', '.join(REGRESSION)}; for a per-example column use mlstrat "
                              f"diagnose --metric {metric}")
        if regression and spec.is_rate:
            raise ConfigError(f"--regression and --metric {metric} disagree; give one of them")
        return not spec.is_rate
    if regression:
        return True
    from mlstrat.metrics._regression import is_regression_table
    from mlstrat.tables import map_predictions, select_columns

    start_engine(engine)
    # mapped silently here: the report's own read says on stderr what was mapped, once
    mapped = map_predictions(predictions, y_true=y_true, y_pred=y_pred, split_col=split_col,
                             columns=select_columns("y_true", "y_pred", "split"))
    return is_regression_table(mapped.table if mapped.notes else str(predictions))


def _regression(predictions: Any, split: list[str], json_out: bool, test: bool,
                store: Path | None) -> None:
    import warnings

    from mlstrat.metrics import compute_regression_metrics
    from mlstrat.runs import ReusedTestSetWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ReusedTestSetWarning)  # in report.warnings, printed below
        report = compute_regression_metrics(predictions, split=split or None, test=test,
                                            store=store)
    for note in report.warnings:
        if note["code"] == "test_set_reused" or not json_out:
            from mlstrat.cli._common import err_console, safe

            err_console().print(f"[grey50]{safe(note['message'])}[/]", emoji=False)
    if json_out:
        from mlstrat.cli._common import echo_json

        echo_json(report)
        return
    from mlstrat.cli._common import console

    out = console()
    for item in _render_regression(report):
        out.print(item)


def _by(source: Any, by: str, *, split: list[str], metric: str, weight: str | None, bins: str,
        top: str, json_out: bool) -> None:
    """``--by``: one split's metric per slice (the first --split, dev by default)."""
    from mlstrat._exceptions import ConfigError
    from mlstrat.cli._slices import print_slice_metrics, whole_number
    from mlstrat.errors import slice_metrics

    if len(split) > 1:
        raise ConfigError(f"--by breaks down one split; got --split {' --split '.join(split)}")
    result = slice_metrics(source, by, split=split[0] if split else "dev", metric=metric,
                           weight=weight, bins=whole_number(bins, "--bins"),
                           top=whole_number(top, "--top"))
    print_slice_metrics(result, json_out=json_out)


def _label(text: str | None) -> Any:
    """``--pos-label 1`` matches an integer class 1 as well as a string class "1"."""
    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        return text

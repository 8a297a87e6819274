"""`mlstrat threshold`: the operating point picked on dev (maximize one rate, require others)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from mlstrat.cli._app import app
from mlstrat.cli._chart_files import chart_option, check_chart_path, write_chart
from mlstrat.cli._common import engine_option, start_engine


def _render(point: Any) -> list[Any]:
    from rich.table import Table

    from mlstrat._constants import SPLIT_DISPLAY
    from mlstrat.cli._common import safe
    from mlstrat.display._numbers import format_rate

    def cell(values: dict[str, Any], key: str) -> str:
        low, high = values[f"{key}_ci"]
        return f"{format_rate(values[key])}\n[grey50]{100 * low:.1f}–{100 * high:.1f}%[/]"

    wanted = f"maximize {point.maximize}" + (
        f" with {', '.join(r.text for r in point.requirements)}" if point.requirements else "")
    head = (f"Threshold [bold]{point.threshold:.6g}[/] on {safe(point.score_column)} "
            f"(predict {safe(point.positive)} when the score is at or above it): {safe(wanted)}; "
            f"{point.feasible_candidates:,} of {point.candidates:,} dev thresholds meet the requirements")
    table = Table(title="Operating point (value, 95% CI below)", title_justify="left")
    for col in ("split", "n", "precision", "recall", "F1", "FPR"):
        table.add_column(col, justify="left" if col == "split" else "right")
    for part in (point.dev, point.test):
        if part is not None:
            values = part.rates()
            table.add_row(SPLIT_DISPLAY.get(part.split, part.split), f"{part.n:,}",
                          *(cell(values, k) for k in ("precision", "recall", "f1", "fpr")))
    return [head, table]


@app.command("threshold")
def threshold_command(
    predictions: str = typer.Argument(
        ..., help="Predictions table (split, y_true, y_pred, proba_<class>): a file, directory or URI."
    ),
    maximize: str = typer.Option(
        "f1", "--maximize", help="The optimizing metric: precision, recall, f1 or specificity."
    ),
    require: list[str] = typer.Option(
        [], "--require", help='A requirement on a rate, repeatable: "precision>=95%", "fpr<=1%".'
    ),
    positive: str | None = typer.Option(
        None, "--positive", help="The positive class (one against the rest); the second proba_ column "
        "of a binary table by default."
    ),
    test: bool = typer.Option(
        False, "--test", help="Apply the threshold to the test split (sealed by default); each look is "
        "counted in the run store."
    ),
    store: Path | None = typer.Option(
        None, "--store", help="Run store counting looks at the test set (default: $MLSTRAT_STORE "
        "or .mlstrat/runs.db)."
    ),
    json_out: bool = typer.Option(False, "--json", help="Print the operating point as JSON."),
    chart: Path | None = chart_option("the dev precision-recall and ROC curves with the chosen point marked"),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing --chart file."),
    engine: str | None = engine_option(),
) -> None:
    """Pick the decision threshold on dev: candidates failing a --require are out, the rest
    maximize --maximize, ties go to the higher threshold. Exit 1 when none qualifies.
    --chart draws the dev precision-recall and ROC curves with the point and the requirements."""
    import warnings

    from mlstrat.cli._common import err_console, safe
    from mlstrat.metrics import choose_threshold

    chart = check_chart_path(chart, inputs=[predictions], force=force)  # fail before the work
    start_engine(engine)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the reuse warning is in point.warnings, printed below
        point = choose_threshold(predictions, maximize=maximize, require=require, positive=positive,
                                 test=test, store=store)
    if json_out:
        from mlstrat.cli._common import echo_json

        echo_json(point)
    if not point.feasible:
        _write_chart(chart, point)  # it shows how far the dev curve is from the requirement
        err_console().print(f"[red]{safe(point.message)}[/]", emoji=False, soft_wrap=True)
        raise typer.Exit(1)
    if not json_out:
        from mlstrat.cli._common import console

        out = console()
        for item in _render(point):
            out.print(item)
    for note in point.warnings:
        if not json_out or note["code"] == "test_set_reused":
            err_console().print(f"[grey50]{safe(note['message'])}[/]", emoji=False)
    _write_chart(chart, point)


def _write_chart(path: Path | None, point: Any) -> None:
    if path is None:
        return
    from mlstrat.display._decision_charts import operating_point_png, operating_point_svg

    write_chart(path, {**point.to_dict(), **point.notebook_extras()}, svg=operating_point_svg,
                png=operating_point_png)

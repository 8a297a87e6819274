"""`mlstrat report RUN_OR_PREDICTIONS [-o report.html]`: one self-contained HTML page."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from mlstrat.cli._app import app
from mlstrat.cli._common import engine_option, start_engine
from mlstrat.cli._sealed import require_test, sheet_split

__all__ = ["report"]


@app.command("report")
def report(
    target: str = typer.Argument(..., metavar="RUN_OR_PREDICTIONS",
                                 help="A run id (or prefix, or 'latest'), a run directory, a predictions "
                                      "table or a diagnosis JSON file."),
    output: str = typer.Option("report.html", "--output", "-o", help="The HTML file to write (a local path)."),
    human: Optional[list[str]] = typer.Option(None, "--human", help=(
        "Human-level error for diagnosing predictions, e.g. 'expert team=0.5%' (repeatable).")),
    store: Optional[Path] = typer.Option(None, "--store", help=(
        "The run store (SQLite file). Default: .mlstrat/runs.db under the working directory.")),
    sheet: Optional[Path] = typer.Option(None, "--sheet", help=(
        "An error-analysis summary (JSON) or tagged sheet (CSV) to include.")),
    title: str = typer.Option("mlstrat report", "--title", help="The page heading."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing output file."),
    test: bool = typer.Option(False, "--test", help=(
        "Show the test split's figures (sealed by default); each look is counted in the run store.")),
    model_family: Optional[str] = typer.Option(None, "--model-family", help=(
        "Word the actions for the model: neural_network | gradient_boosting | linear | other. "
        "Default: the family recorded with the run, else neural_network.")),
    as_json: bool = typer.Option(False, "--json", help="Print what was written as JSON."),
    engine: Optional[str] = engine_option(),
) -> None:
    """Write an HTML report: errors with intervals, the error staircase, learning curves,
    confusion matrix, error analysis, recommended actions and the run history.

    The page is self-contained (inline CSS and SVG): it opens offline and can be mailed.
    """
    from mlstrat.cli._common import console, echo_json, safe
    from mlstrat.report import render_report, report_inputs
    from mlstrat.runs import RunStore
    from mlstrat.tables import check_file_output

    import warnings

    from mlstrat.runs import ReusedTestSetWarning

    if model_family is not None:  # a wrong family is refused before any work
        from mlstrat.diagnosis import parse_model_family

        parse_model_family(model_family)
    if sheet is not None and sheet_split(sheet) == "test":
        # the sheet shows the test error; with --test the report's own look at the same
        # predictions (the sheet must come from them) is the one counted
        require_test(test, command="report --sheet of a test-split sheet")
    start_engine(engine)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ReusedTestSetWarning)  # in inputs.warnings, printed below
        inputs = report_inputs(target, store=RunStore(store), human=human or (), sheet=sheet, test=test,
                               model_family=model_family)
    out = check_file_output(output, what="the HTML report", inputs=inputs.sources, force=force)
    html = render_report(**inputs.kwargs(), title=title, output=out, dev_rows=RunStore(store).dev_rows)
    summary = {"output": str(out), "bytes": len(html.encode("utf-8")), "sections": inputs.sections(),
               "runs": [r.id for r in inputs.runs],
               "warnings": [dict(w) for w in inputs.warnings]}

    from mlstrat.cli._common import err_console

    for w in inputs.warnings:  # with --json only the reuse warning, the rest is in the JSON
        if w["code"] == "test_set_reused" or not as_json:
            style = "yellow" if w["code"] == "test_set_reused" else "grey50"
            err_console().print(f"[{style}]{safe(w['message'])}[/]", emoji=False)
    if as_json:
        echo_json(summary)
        return
    console().print(f"Wrote {safe(out)} ({summary['bytes'] / 1024:.0f} KiB): {', '.join(summary['sections'])}")

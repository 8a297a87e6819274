"""`mlstrat labels`: suspect labels by confident learning."""

from __future__ import annotations

from typing import Any, Optional

import typer

from mlstrat.cli._app import app
from mlstrat.cli._common import console, echo_json, err_console, safe, start_engine
from mlstrat.cli._options import EngineOption, JsonOption
from mlstrat.cli._flags import split_callback
from mlstrat.cli._sealed import TEST_HELP, count_look, require_test

#: warnings that qualify the estimated count; shown next to it
ROUGH = ("weak_model", "small_split")


@app.command("labels")
def labels(
    predictions: str = typer.Argument(
        ..., help="Predictions table with out-of-sample proba_<class> columns (file, directory or URI)."
    ),
    split: str = typer.Option("dev", "--split", callback=split_callback,
                              help="Which split to examine (val, validation, train-dev... accepted)."),
    output: Optional[str] = typer.Option(
        None, "--output", "-o", help="Write the ranked suspects to this CSV/Parquet file."
    ),
    rank_by: str = typer.Option(
        "self_confidence",
        "--rank-by",
        help="Score that ranks suspects: self_confidence or normalized_margin.",
    ),
    method: str = typer.Option(
        "auto",
        "--method",
        help="How suspects are picked: auto (default: rank when the estimated noise is spread thin "
        "over many classes, else prune_by_noise_rate), rank or prune_by_noise_rate.",
    ),
    top: int = typer.Option(
        20, "--top", help="Suspects to show in the table (all go to -o and --json)."
    ),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing output file."),
    as_json: JsonOption = False,
    engine: EngineOption = None,
    test: bool = typer.Option(False, "--test", help=TEST_HELP),
) -> None:
    """Find rows whose label is probably wrong (confident learning, Northcutt et al. 2021)."""
    _check_options(predictions, split=split, output=output, force=force, test=test, engine=engine)
    result = _find_suspects(predictions, split=split, rank_by=rank_by, method=method)
    if split == "test":
        count_look(predictions, quiet=as_json)
    if output is not None:
        result.write(output, force=force, inputs=[predictions])
    if as_json:
        echo_json(result)
        return
    _render(result, top=top, output=output)


def _check_options(predictions: str, *, split: str, output: Optional[str], force: bool,
                   test: bool, engine: Optional[str]) -> None:
    """Refuse a sealed split or an existing output before any work; start the engine."""
    if split == "test":
        require_test(test, command="labels --split test")
    start_engine(engine)

    if output is not None:
        from mlstrat.tables import check_table_output

        check_table_output(output, inputs=[predictions], force=force)  # fail before the work


def _find_suspects(predictions: str, *, split: str, rank_by: str, method: str) -> Any:
    """Run confident learning on the table, its warnings kept in the result (rendered later)."""
    import warnings

    from mlstrat.errors import find_label_issues

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # rendered from the result's warnings
        return find_label_issues(predictions, split=split, rank_by=rank_by, method=method)


def _render(result: Any, *, top: int, output: Optional[str]) -> None:
    """Print the headline, the noise and suspect tables, the written file and the warnings."""
    from mlstrat.display._numbers import format_rate

    out = console()
    out.soft_wrap = True  # paths and messages stay on one line (copy-pastable)
    out.print(
        f"[bold]{safe(result.split)}[/]: {result.n} rows, error {format_rate(result.split_error)} "
        f"({result.n_errors} misclassified)"
    )
    lo, hi = result.estimated_interval
    rough = [w["message"].split(":")[0] for w in result.warnings if w["code"] in ROUGH]
    out.print(
        f"Estimated label errors: {result.estimated_label_errors} (95% CI {lo}-{hi}; "
        f"{format_rate(result.estimated_label_errors / result.n if result.n else None)} of the rows)"
        + (f" [yellow]rough: {', '.join(rough)}[/]" if rough else "")
        + f"; {len(result.issues)} suspects ({result.method}), "
        f"{format_rate(result.error_share)} of the misclassified rows"
    )
    if result.noise:
        out.print(_noise_table(result))
    if result.issues:
        out.print(_suspects_table(result, top=top))
        if len(result.issues) > top:
            out.print(
                f"... {len(result.issues) - top} more"
                + (f" in {safe(output)}" if output else " (use -o or --json)")
            )
    elif not result.warnings:
        out.print("No suspect labels found.")
    if output is not None:
        from mlstrat.tables import describe_output

        out.print(f"Wrote {len(result.issues)} suspects -> {safe(describe_output(output))}")
    for w in result.warnings:
        err_console().print(f"[yellow]Warning:[/] {safe(w['message'])}", soft_wrap=True)


def _noise_table(result: Any) -> Any:
    """The ten largest estimated noise rates: given label <- true class."""
    from rich.table import Table

    from mlstrat.display._numbers import format_rate

    table = Table(title="Estimated noise (given label <- true class)", header_style="bold")
    for col in ("given", "true", "count", "P(given | true)"):
        table.add_column(col, justify="right")
    for r in result.noise[:10]:
        table.add_row(safe(r.given), safe(r.true), f"{r.count:.1f}", format_rate(r.rate, 1))
    return table


def _suspects_table(result: Any, *, top: int) -> Any:
    """The first ``top`` suspects, most suspect first."""
    from rich.table import Table

    table = Table(
        title=f"Suspects (ranked by {result.rank_by}, lower = more suspect)",
        header_style="bold",
    )
    for col in ("rank", "id", "given", "suggested", "score"):
        table.add_column(col, justify="left" if col == "id" else "right")
    for rank, issue in enumerate(result.issues[:top], start=1):
        table.add_row(
            str(rank), safe(issue.id), safe(issue.given_label), safe(issue.suggested_label),
            f"{issue.score:.4f}",
        )
    return table

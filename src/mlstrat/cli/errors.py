"""`mlstrat errors sample|summarize|ui|slices`: the error-analysis sheet and the slices where the
model fails (docs/method.md §4)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer

from mlstrat.cli._app import app
from mlstrat.cli._common import console, echo_json, engine_option, err_console, safe, start_engine
from mlstrat.cli._flags import split_callback
from mlstrat.cli._sealed import TEST_HELP, count_look, gate_test_sheets, require_test

errors_app = typer.Typer(
    name="errors",
    no_args_is_help=True,
    help="Error analysis: sample misclassified rows to tag, summarize the tags, tag in the browser, "
    "find the slices where the model fails.",
)
app.add_typer(errors_app, name="errors")


def _print_loss_sample(result: object) -> None:
    from mlstrat.errors._sheet import read_meta

    meta = read_meta(result.sheet)  # type: ignore[attr-defined]
    out = console()
    out.soft_wrap = True
    out.print(
        f"Took the {result.sample_size} {result.split} rows with the largest loss "  # type: ignore[attr-defined]
        f"({safe(meta['metric']['name'])} {meta['split_value']:.4g} on {result.split_size} rows); "  # type: ignore[attr-defined]
        f"they hold {100 * meta['sample_loss_share']:.1f}% of the split's total loss -> {safe(result.sheet)}"  # type: ignore[attr-defined]
    )
    out.print(f"Meta: {safe(result.meta)}")  # type: ignore[attr-defined]
    out.print(f"Tag it in a spreadsheet or with: mlstrat errors ui {safe(result.sheet)}")  # type: ignore[attr-defined]


@errors_app.command("sample")
def sample(
    predictions: str = typer.Argument(
        ..., help="Predictions table (id, split, y_true, y_pred, ...): a file, directory or URI."
    ),
    output: str = typer.Option(..., "--output", "-o", help="The CSV sheet to write (a local path)."),
    split: str = typer.Option("dev", "--split", callback=split_callback,
                              help="Which split's errors to sample (val, validation, train-dev... accepted)."),
    n: int = typer.Option(100, "-n", "--n", help="Number of misclassified rows to sample."),
    categories: str = typer.Option(
        "",
        "--categories",
        "-c",
        help='Category columns, comma-separated: "dog,great cat,blurry,mislabeled".',
    ),
    include_correct: int = typer.Option(
        0,
        "--include-correct",
        help="Also add K correctly classified rows (marked sampled_as=correct).",
    ),
    seed: int = typer.Option(0, "--seed", help="Seed of the sample."),
    manifest: Path | None = typer.Option(
        None,
        "--manifest",
        help="Split file (or any table with id) whose columns the predictions lack (path, text, "
        "features) are joined back by id; default: the run's manifest when the predictions "
        "come from a run directory.",
    ),
    image_shape: str | None = typer.Option(
        None,
        "--image-shape",
        help="HxW or CxHxW of pixel feature columns (px_0, ...) so the UI draws them, e.g. 8x8; "
        "default: the run config's image_shape.",
    ),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing sheet."),
    metric: str | None = typer.Option(
        None, "--metric",
        help="mae | rmse | mean:COL | ratio:NUM/DEN: take the rows with the largest loss instead.",
    ),
    categories_from_slices: int = typer.Option(
        0, "--categories-from-slices",
        help="Add the descriptions of the top K slices of 'errors slices' as categories, e.g. 3.",
    ),
    slice_columns: str | None = typer.Option(
        None, "--slice-columns",
        help="With --categories-from-slices: the columns to slice by (as 'errors slices --columns').",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    engine: str | None = engine_option(),
    test: bool = typer.Option(False, "--test", help=TEST_HELP),
) -> None:
    """Write a seeded random sample of the split's misclassified rows as a CSV sheet to tag
    (with --metric: the rows with the largest per-example loss)."""
    from mlstrat.errors import sample_errors

    if split == "test":
        require_test(test, command="errors sample --split test")
    start_engine(engine)
    if categories_from_slices:
        categories = _slice_categories(predictions, categories, split, categories_from_slices,
                                       slice_columns)
    result = sample_errors(
        predictions,
        split=split,
        n=n,
        categories=categories,
        include_correct=include_correct,
        seed=seed,
        output=output,
        force=force,
        metric=metric,
        manifest=manifest,
        image_shape=image_shape,
    )
    if split == "test":
        count_look(predictions, quiet=as_json)
    if as_json:
        echo_json(result)
        return
    from mlstrat.errors._losses import parse_value_metric

    if parse_value_metric(metric) is not None:
        _print_loss_sample(result)
        return
    from mlstrat.display._numbers import format_rate

    out = console()
    out.soft_wrap = True  # paths and messages stay on one line (copy-pastable)
    out.print(
        f"Sampled {result.sample_size} of {result.n_errors} misclassified {result.split} rows "
        f"({result.split} error {format_rate(result.split_error)} on {result.split_size} rows)"
        + (f" + {result.n_correct} correct rows" if result.n_correct else "")
        + f" -> {safe(result.sheet)}"
    )
    out.print(f"Meta: {safe(result.meta)}")
    cats = safe(", ".join(result.categories)) or "(none yet: add columns while tagging)"
    out.print(f"Categories: {cats}")
    out.print(f"Tag it in a spreadsheet or with: mlstrat errors ui {safe(result.sheet)}")


def _slice_categories(predictions: str, categories: str, split: str, k: int,
                      columns: str | None) -> list[str]:
    """The categories given plus the descriptions of the split's top ``k`` slices."""
    from mlstrat._exceptions import ConfigError
    from mlstrat.errors import find_slices

    if k < 0:
        raise ConfigError(f"--categories-from-slices {k}: give the number of slices, e.g. 3")
    report = find_slices(predictions, split=split, top=k,
                         columns=None if columns is None else columns.split(","))
    given = [c.strip() for c in categories.split(",") if c.strip()]
    found = [s.slice for s in report.slices if s.slice not in given]
    if not found:
        err_console().print(f"[yellow]warning: no slice of {split} errs significantly more than "
                            "the rest; no category added from slices[/]")
    return given + found


@errors_app.command("slices")
def slices(
    predictions: str = typer.Argument(
        ..., help="Predictions table (split, y_true, y_pred and metadata or feature columns)."
    ),
    split: str = typer.Option("dev", "--split", callback=split_callback,
                              help="The split to search (val, validation, train-dev... accepted)."),
    columns: str | None = typer.Option(
        None, "--columns",
        help="Columns to slice by, comma-separated (default: every column but id, split, "
        "y_true, y_pred, weight and proba_*).",
    ),
    max_depth: int = typer.Option(2, "--max-depth", help="Most predicates in one slice."),
    bins: int = typer.Option(10, "--bins", help="Quantile bins of a numeric column."),
    min_support: int = typer.Option(
        32, "--min-support", help="Fewest rows of a slice that is scored and tested (SliceLine's sigma)."
    ),
    alpha: float = typer.Option(
        0.95, "--alpha", help="SliceLine's weight of a slice's error against its size, in (0, 1]."
    ),
    fdr: float = typer.Option(
        0.05, "--fdr", help="False-discovery rate (Benjamini–Hochberg over the slices tested)."
    ),
    top: int = typer.Option(10, "--top", help="Slices shown, best score first."),
    metric: str = typer.Option(
        "error", "--metric", help="error | mae | rmse | mean:COL (a per-example loss column)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    engine: str | None = engine_option(),
) -> None:
    """Find the slices (conjunctions of column values or bins) where the model fails most,
    ranked by SliceLine's score, false discoveries controlled by Benjamini–Hochberg."""
    from mlstrat.cli._slices import render_slice_report
    from mlstrat.errors import find_slices

    start_engine(engine)
    report = find_slices(
        predictions, split=split,
        columns=None if columns is None else columns.split(","),
        max_depth=max_depth, bins=bins, min_support=min_support, alpha=alpha, fdr=fdr,
        top=top, metric=metric,
    )
    if as_json:
        echo_json(report)
        return
    render_slice_report(report)


def _render_summary(summary: Any, title: str | None = None) -> None:
    from rich.table import Table

    from mlstrat.display._error_analysis import summary_rows

    out = console()
    # prose is wrapped by Rich at word boundaries, never cut by the terminal mid-word
    shown = summary_rows(summary.to_dict())
    out.print(
        f"[bold]{safe(title or summary.split)}[/]: {summary.split} error {shown['split_error']}; "
        f"{summary.reviewed} of {summary.sample_size} sampled errors reviewed, {summary.tagged} "
        "of them with a category; shares are over the reviewed ones", soft_wrap=False,
    )
    table = Table(show_header=True, header_style="bold")
    for col in ("category", "count", "share", "95% CI", "ceiling", "error if fixed"):
        table.add_column(col, justify="left" if col == "category" else "right",
                         no_wrap=col != "category")
    for row in shown["rows"]:
        table.add_row(safe(row["name"]), row["count"], row["share"], row["share_ci"], row["ceiling"],
                      row["error_if_fixed"])
    out.print(table)
    if summary.mislabeled:
        out.print(
            f"Error due to incorrect labels ({safe(summary.mislabeled.category)}): {shown['error_due']}; "
            f"due to other causes: {shown['error_other']}", soft_wrap=False,
        )
    if summary.advice:
        out.print(safe(summary.advice), soft_wrap=False)
    for w in summary.warnings:
        err_console().print(f"[yellow]Warning:[/] {safe(w['message'])}", soft_wrap=True, markup=True)


def _loss_summary(sheet: Path, as_json: bool) -> None:
    """Ceilings of a loss sheet: each category's share of the split's total loss."""
    from rich.table import Table

    from mlstrat.errors._loss_ceilings import loss_ceilings

    result = loss_ceilings(sheet)
    if as_json:
        echo_json(result)
        return
    name = result["metric"]["name"]
    table = Table(title=f"Ceilings on {result['split']} {name} {result['split_value']:.4g} "
                        f"({result['examined']} rows examined, holding "
                        f"{100 * result['examined_share_of_total_loss']:.1f}% of the total loss)",
                  header_style="bold", title_justify="left")
    for col in ("category", "rows", "share of total loss", f"{name} if all fixed"):
        table.add_column(col, justify="left" if col == "category" else "right")
    for c in result["categories"]:
        table.add_row(c["category"], str(c["rows"]), f"{100 * c['share_of_total_loss']:.1f}%",
                      f"{c['figure_if_fixed']:.4g}")
    console().print(table, soft_wrap=False)


@errors_app.command("summarize")
def summarize(
    sheets: list[Path] = typer.Argument(
        ..., help="A tagged sheet, or two (dev and test) to compare."
    ),
    mislabeled: str = typer.Option(
        "mislabeled", "--mislabeled", help="The category that means 'the label is wrong'."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    test: bool = typer.Option(False, "--test", help=TEST_HELP),
) -> None:
    """Shares, ceilings (split error x share) and the mislabeled split of a tagged sheet."""
    import warnings

    from mlstrat._exceptions import ConfigError
    from mlstrat.errors import compare_sheets, summarize_sheet

    if len(sheets) > 2:
        raise ConfigError(
            f"summarize: {len(sheets)} sheets given; give one sheet, or two to compare "
            "(e.g. dev_sheet.csv test_sheet.csv)"
        )
    from mlstrat.errors._sheet import is_loss_sheet

    gate_test_sheets(sheets, test=test, quiet=as_json)
    if len(sheets) == 1 and is_loss_sheet(sheets[0]):
        _loss_summary(sheets[0], as_json)
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # rendered from the result's warnings
        if len(sheets) == 1:
            result = summarize_sheet(sheets[0], mislabeled=mislabeled)
        else:
            result = compare_sheets(sheets[0], sheets[1], mislabeled=mislabeled)
    if as_json:
        echo_json(result)
        return
    if len(sheets) == 1:
        _render_summary(result)
        return
    from rich.table import Table

    from mlstrat.display._numbers import format_rate

    for sheet, summary in zip(sheets, result.sheets):
        _render_summary(summary, title=str(sheet))
    a, b = result.sheets
    table = Table(title="Comparison (second - first)", header_style="bold")
    for col in (
        "category",
        f"share {a.split}",
        f"share {b.split}",
        "difference",
        "95% CI",
        "beyond noise",
    ):
        table.add_column(col, justify="left" if col == "category" else "right")
    for d in result.categories:
        table.add_row(
            safe(d.name),
            format_rate(d.shares[0], 1),
            format_rate(d.shares[1], 1),
            format_rate(d.difference, 1),
            f"{format_rate(d.difference_ci[0], 1)} - {format_rate(d.difference_ci[1], 1)}",
            "yes" if d.significant else "no",
        )
    console().print(table, soft_wrap=False)
    for w in result.warnings:
        err_console().print(f"[yellow]Warning:[/] {safe(w['message'])}", soft_wrap=True)


@errors_app.command("ui")
def ui(
    sheet: Path = typer.Argument(
        ..., help="The sheet to tag (written by 'mlstrat errors sample')."
    ),
    port: int = typer.Option(0, "--port", help="Port on 127.0.0.1 (0 = a free port)."),
    no_browser: bool = typer.Option(False, "--no-browser", help="Do not open a browser."),
    mislabeled: str = typer.Option(
        "mislabeled", "--mislabeled", help="The category that means 'the label is wrong'."
    ),
    image_shape: str | None = typer.Option(
        None,
        "--image-shape",
        help="HxW or CxHxW of the sheet's pixel columns (px_0, ...), e.g. 8x8; "
        "default: the shape recorded by 'errors sample', else square.",
    ),
) -> None:
    """Tag the sheet in the browser (local only; prints its URL with a secret token first)."""
    from mlstrat.errors.ui import serve

    def ready(url: str) -> None:
        typer.echo(url)  # first line of stdout: scripts and tests read it
        sys.stdout.flush()
        err_console().print(
            "Tagging UI running; press Ctrl+C to stop. Changes are saved to "
            f"{sheet} as you make them."
        )

    serve(
        sheet,
        port=port,
        open_browser=not no_browser,
        mislabeled=mislabeled,
        on_ready=ready,
        image_shape=image_shape,
    )

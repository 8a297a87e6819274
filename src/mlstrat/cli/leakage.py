"""`mlstrat leakage`: near-duplicate content across the splits of a manifest, and inside train."""

from __future__ import annotations

from typing import Any, Optional

import typer

from mlstrat.cli._app import app
from mlstrat.cli._common import SPLIT_COL_HELP, engine_option

__all__ = ["leakage_command", "render_near_duplicates"]

#: what ``--fail-on`` takes: rows with a near-duplicate in another split; train rows repeated in train
FAIL_ON = ("leakage", "duplicates_in_train")


@app.command("leakage")
def leakage_command(
    manifest: str = typer.Argument(..., help="Split manifest (the output of mlstrat split, or any table with a "
                                   "split column): CSV, Parquet, JSONL or Arrow."),
    text: Optional[str] = typer.Option(None, "--text", help="Text columns (comma-separated), each compared on "
                                       "its own: Jaccard of 5-character shingles, MinHash LSH."),
    images: Optional[str] = typer.Option(None, "--images", help="Columns of image file paths (comma-separated), "
                                         "each compared on its own: 64-bit perceptual hash."),
    pixels: Optional[str] = typer.Option(None, "--pixels", help="Pixel columns of a square grey image, compared as "
                                         "one image (comma-separated, or a prefix with *, e.g. 'px_*')."),
    numeric: Optional[str] = typer.Option(None, "--numeric", help="Numeric columns (comma-separated), compared "
                                          "as one row once rounded to --digits significant digits."),
    id: str = typer.Option("id", "--id", help="Id column, named in the example pairs."),
    split_col: str = typer.Option("split", "--split-col", help=SPLIT_COL_HELP),
    image_root: Optional[str] = typer.Option(None, "--image-root", help="Directory relative image paths start "
                                             "from (default: the manifest's directory)."),
    jaccard: float = typer.Option(0.8, "--jaccard", help="Texts are near-duplicates from this Jaccard similarity."),
    hamming: int = typer.Option(8, "--hamming", help="Images are near-duplicates within this many of 64 hash bits."),
    digits: int = typer.Option(6, "--digits", help="Significant digits numbers are rounded to."),
    fail_on: Optional[str] = typer.Option(None, "--fail-on", help="Exit 1 when this is found (comma-separated): "
                                          "leakage (a near-duplicate in another split), duplicates_in_train."),
    json: bool = typer.Option(False, "--json", help="Print the findings as JSON."),
    engine: Optional[str] = engine_option(),
) -> None:
    """Find near-duplicates across train / train-dev / dev / test and inside train: edited texts,
    re-encoded or cropped images, numbers rounded differently."""
    from mlstrat.splits import find_near_duplicates
    from mlstrat.tables import connect

    failing = _parse_fail_on(fail_on)
    result = find_near_duplicates(manifest, id=id, split_col=split_col, text=text, images=images, pixels=pixels,
                                  numeric=numeric, image_root=image_root, jaccard=jaccard, hamming=hamming,
                                  digits=digits, con=connect(engine))
    from mlstrat.cli._common import emit

    emit(result.to_dict(), as_json=json, render=render_near_duplicates)
    if ("leakage" in failing and result.leakage) or ("duplicates_in_train" in failing and result.in_train):
        raise typer.Exit(1)


def _parse_fail_on(text: str | None) -> list[str]:
    from mlstrat._exceptions import ConfigError

    names = [part.strip() for part in (text or "").split(",") if part.strip()]
    for name in names:
        if name not in FAIL_ON:
            raise ConfigError(f"--fail-on: unknown value {name!r}; allowed: {', '.join(FAIL_ON)}")
    return names


def _split_pair(splits: list[str]) -> str:
    from mlstrat._constants import SPLIT_DISPLAY

    first, second = (SPLIT_DISPLAY[s] for s in splits)
    return f"inside {first}" if first == second else f"{first} - {second}"


def render_near_duplicates(summary: dict[str, Any]) -> None:
    """Print one table per kind of content: rows and pairs per pair of splits, with examples."""
    from rich.table import Table

    from mlstrat.cli._common import console, safe

    con = console()
    for finding in summary["findings"]:
        more = " ..." if len(finding["columns"]) > 3 else ""
        table = Table(title=f"Near-duplicates: {finding['kind']} {safe(', '.join(finding['columns'][:3]))}{more}",
                      title_justify="left")
        table.add_column("splits", no_wrap=True)
        table.add_column("rows", justify="right", no_wrap=True)
        table.add_column("pairs", justify="right", no_wrap=True)
        table.add_column("examples (ids, similarity)", overflow="fold")
        for count in finding["counts"]:
            shown = "; ".join(f"{safe(e['ids'][0])} ~ {safe(e['ids'][1])} ({e['similarity']:.3g})"
                              for e in count["examples"][:3])
            table.add_row(_split_pair(count["splits"]), f"{count['rows']:,}", f"{count['pairs']:,}", shown or "-")
        con.print(table)
        con.print(f"rule: {safe(finding['threshold'])}; {finding['compared']:,} rows compared", soft_wrap=True)
    if summary["leakage"]:
        leaked = sum(f["leaked_rows"] for f in summary["findings"])
        kinds = " (summed over the kinds of content)" if len(summary["findings"]) > 1 else ""
        con.print(f"[red]near-duplicate leakage:[/] {leaked:,} row(s) have a near-duplicate in an earlier split"
                  f"{kinds}", soft_wrap=True)
    else:
        con.print("[green]no near-duplicate leakage[/] across splits", soft_wrap=True)
    if summary["in_train"]:
        con.print("[yellow]near-duplicates inside train:[/] they weigh those examples twice", soft_wrap=True)

"""`mlstrat check`: data checks on a manifest before it is split."""

from __future__ import annotations

from typing import Any, Optional

import typer

from mlstrat.cli._app import app
from mlstrat.cli._common import engine_option

__all__ = ["check_command", "render_checks"]


@app.command("check")
def check_command(
    manifest: str = typer.Argument(..., help="Manifest table: CSV, Parquet, JSONL or Arrow, one row per example "
                                   "(a file, a directory of part files or a URI)."),
    id: str = typer.Option("id", "--id", help="Unique id column."),
    label: Optional[str] = typer.Option(None, "--label", help="Label column: imbalance, one-domain labels, "
                                        "a label that looks like an id."),
    domain: Optional[str] = typer.Option(None, "--domain", help="Domain column: labels present in one domain only."),
    group: Optional[str] = typer.Option(None, "--group", help="Group column (read as text, like the id)."),
    fail_on: Optional[str] = typer.Option(None, "--fail-on", help="Exit 1 when one of these is found "
                                          "(comma-separated): nulls, constant, all_unique, label_imbalance, "
                                          "label_one_domain, duplicates, duplicates_in_train, outliers, "
                                          "label_like_id."),
    json: bool = typer.Option(False, "--json", help="Print the findings as JSON."),
    engine: Optional[str] = engine_option(),
) -> None:
    """Check a manifest before splitting it: nulls, constant and all-unique columns, label imbalance,
    labels in one domain only, duplicate rows, numeric outliers, a label that looks like an id."""
    from mlstrat.splits import check_table
    from mlstrat.tables import connect

    failing = _parse_fail_on(fail_on)
    result = check_table(manifest, id=id, label=label, domain=domain, group=group, con=connect(engine))
    if json:
        from mlstrat.cli._common import echo_json

        echo_json(result.to_dict())
    else:
        render_checks(result.to_dict())
    if any(result.found(check) for check in failing):
        raise typer.Exit(1)


def _parse_fail_on(text: str | None) -> list[str]:
    from mlstrat._exceptions import ConfigError
    from mlstrat.splits._data_checks import CHECKS

    names = [part.strip() for part in (text or "").split(",") if part.strip()]
    for name in names:
        if name not in CHECKS:
            raise ConfigError(f"--fail-on: unknown check {name!r}; allowed: {', '.join(CHECKS)}")
    return names


def render_checks(summary: dict[str, Any]) -> None:
    """Print the findings as a Rich table, each with its count and fix; data escaped."""
    from rich.table import Table

    from mlstrat.cli._common import console, safe

    con = console()
    findings = summary["findings"]
    if not findings:
        con.print(f"[green]no findings[/] in {safe(summary['source'])} ({summary['rows']:,} rows)", soft_wrap=True)
        return
    table = Table(title=f"Data checks: {safe(summary['source'])} ({summary['rows']:,} rows)", title_justify="left")
    # a long column name folds over lines rather than being cut with an ellipsis
    table.add_column("check", no_wrap=True)
    table.add_column("column", overflow="fold")
    table.add_column("count", justify="right", no_wrap=True)
    table.add_column("finding", overflow="fold")
    table.add_column("fix", overflow="fold")
    for f in findings:
        table.add_row(f["check"], safe(f["column"]) if f["column"] is not None else "-", f"{f['count']:,}",
                      safe(f["message"]), safe(f["fix"]))
    con.print(table)

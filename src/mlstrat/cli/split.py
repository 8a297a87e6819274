"""`mlstrat split`: assign train / train-dev / dev / test to a manifest."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Optional

import typer

from mlstrat.cli._app import app
from mlstrat.cli._common import engine_option

__all__ = ["split_command", "render_summary", "default_output"]

_FAIL_ON = ("leakage",)


def default_output(manifest: str | Path) -> str:
    """``data.csv`` -> ``data.split.csv`` (Parquet when the input type cannot be written).

    A URI or directory stays one: ``s3://b/m/`` -> ``s3://b/m.split.parquet``.
    """
    text = str(manifest).rstrip("/")
    head, sep, name = text.rpartition("/")
    for comp in (".gz", ".zst"):
        if name.lower().endswith(comp):
            name = name[: -len(comp)]
    stem, suffix = os.path.splitext(name)
    if suffix.lower() not in {".parquet", ".pq", ".csv", ".jsonl", ".ndjson"}:
        suffix = ".parquet"
    return f"{head}{sep}{stem}.split{suffix}"


@app.command("split")
def split_command(
    manifest: str = typer.Argument(..., help="Manifest table: CSV, Parquet, JSONL or Arrow, one row per example "
                                   "(a file, a directory of part files or a URI)."),
    out: Optional[str] = typer.Option(None, "-o", "--out", help="Output file (default: <input>.split.<ext>); "
                                      "a Parquet directory on Spark."),
    id: str = typer.Option("id", "--id", help="Unique id column."),
    label: Optional[str] = typer.Option(None, "--label", help="Label column to stratify on."),
    domain: Optional[str] = typer.Option(None, "--domain", help="Domain column (default 'domain' with --target)."),
    target: Optional[str] = typer.Option(None, "--target", help="Target domain value: dev/test come only from it."),
    group: Optional[str] = typer.Option(None, "--group", help="Group column: a group never straddles splits."),
    dev_size: str = typer.Option("auto", "--dev-size", help="auto | count | fraction | percentage."),
    test_size: str = typer.Option("auto", "--test-size", help="auto | count | fraction | percentage."),
    train_dev: str = typer.Option("auto", "--train-dev", help="auto | none | count | fraction of the training pool."),
    salt: str = typer.Option("mlstrat", "--salt", help="Hash salt; another salt draws another split."),
    lock: Optional[Path] = typer.Option(None, "--lock", help="Previous output or lock file: its rows keep their split; "
                                        "a lock file is created/updated."),
    content: Optional[str] = typer.Option(None, "--content", help="Comma-separated columns identifying identical content."),
    near_duplicates: Optional[str] = typer.Option(None, "--near-duplicates", help="Comma-separated columns searched "
                                                  "for near-duplicates across splits: text, image paths, numbers."),
    mix: bool = typer.Option(False, "--mix", help="Draw dev/test from all domains (not recommended)."),
    resolve: Optional[str] = typer.Option(None, "--resolve", help="Size dev/test to resolve this error difference (e.g. 1%)."),
    expected_error: Optional[str] = typer.Option(None, "--expected-error", help="Expected error for --resolve and adequacy."),
    checks: bool = typer.Option(True, "--checks/--no-checks", help="Run the data checks of 'mlstrat check' on the "
                                "manifest first and report them (none fails the split unless --fail-on names it)."),
    fail_on: Optional[str] = typer.Option(None, "--fail-on", help="Exit 1 when one of these is found "
                                          "(comma-separated): leakage, or a data check's name (see mlstrat check)."),
    memory_limit: Optional[str] = typer.Option(None, "--memory-limit", help="DuckDB memory limit, e.g. 2GB (spills beyond)."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing output (never the input)."),
    json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
    engine: Optional[str] = engine_option(),
) -> None:
    """Split a manifest into train / train-dev / dev / test, stable, stratified and target-aware."""
    import warnings

    from mlstrat._exceptions import MlstratWarning
    from mlstrat.splits import split
    from mlstrat.tables import check_output_path, connect, describe_output

    failing = _parse_fail_on(fail_on)
    from mlstrat._numbers import require_percent

    for rate, flag in ((resolve, "--resolve"), (expected_error, "--expected-error")):
        if rate is not None:  # error rates: a bare 0.01 could be 1% or 0.01%
            require_percent(rate, name=flag)
    out = out or default_output(manifest)
    check_output_path(out, inputs=[manifest, *([lock] if lock else [])], force=force)
    if lock is not None:
        check_output_path(lock, inputs=[manifest], force=True)  # refreshed in place, never the manifest
    lock_in = lock if lock is not None and lock.exists() else None
    con = connect(engine, memory_limit=memory_limit)
    check_output_path(out, inputs=[manifest], force=force, con=con)  # a URI: asked of its storage, before the work
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MlstratWarning)
        result = split(manifest, id=id, label=label, domain=domain, target=target, group=group,
                       dev_size=dev_size, test_size=test_size, train_dev=train_dev, salt=salt,
                       lock=lock_in, content=content, near_duplicates=near_duplicates, mix=mix, resolve=resolve,
                       expected_error=expected_error, con=con)
    data_checks = None
    if checks:  # after the split, which has named any missing column with the flag that fixes it
        from mlstrat.splits import check_table

        data_checks = check_table(manifest, id=id, label=label, domain=domain, group=group, con=con)
    written = result.write(out, force=force)
    lock_note = None
    if lock is not None:
        lock_note = _update_lock(result, lock, id=id)
    summary = {**result.to_dict(), "output": describe_output(written), "lock": lock_note,
               "data_checks": data_checks.to_dict() if data_checks is not None else None}
    from mlstrat.cli._common import emit

    emit(summary, as_json=json, render=render_summary)
    found = {"leakage": bool(result.leakage)}
    if data_checks is not None:
        found.update({name: bool(data_checks.found(name)) for name in _data_check_names()})
    if any(found.get(name) for name in failing):
        raise typer.Exit(1)


def _data_check_names() -> tuple[str, ...]:
    from mlstrat.splits._data_checks import CHECKS

    return CHECKS


def _parse_fail_on(text: str | None) -> list[str]:
    """The names of ``--fail-on``: leakage or a data check's name, comma-separated."""
    from mlstrat._exceptions import ConfigError

    allowed = (*_FAIL_ON, *_data_check_names())
    names = [part.strip() for part in (text or "").split(",") if part.strip()]
    for name in names:
        if name not in allowed:
            raise ConfigError(f"--fail-on: unknown value {name!r}; allowed: {', '.join(allowed)}")
    return names


def _update_lock(result: Any, lock: Path, *, id: str) -> dict[str, Any]:
    """Create the lock file, or refresh it when it is one (a previous output is left alone)."""
    if lock.exists():
        from mlstrat.tables import connect, read_table

        columns = set(read_table(lock, con=connect()).columns)
        if columns != {id, "split"}:
            return {"path": str(lock), "written": False,
                    "reason": "a previous output, read only; pass a lock file path to keep one"}
    result.write_lock(lock, force=True)
    return {"path": str(lock), "written": True}


def render_summary(summary: dict[str, Any]) -> None:
    """Print the summary as Rich tables: sizes, per domain, per label, checks, warnings."""
    from rich.table import Table

    from mlstrat._constants import SPLIT_DISPLAY, SPLITS
    from mlstrat.display._numbers import format_rate
    from mlstrat.cli._common import console

    con = console()
    if summary.get("data_checks") is not None:  # what the data looked like before it was split
        from mlstrat.cli.check import render_checks

        render_checks(summary["data_checks"])
    sizes = summary["sizes"]
    total = sum(sizes.values()) or 1
    policy = summary["policy"]
    requested = policy.get("requested", {})
    table = Table(title="Split", title_justify="left")
    table.add_column("split")
    table.add_column("rows", justify="right")
    table.add_column("share", justify="right")
    table.add_column("requested", justify="right")
    for name in SPLITS:
        req = requested.get(name)
        table.add_row(SPLIT_DISPLAY[name], f"{sizes[name]:,}", format_rate(sizes[name] / total, 1),
                      f"{req:,}" if req else "-")
    con.print(table)
    for title, rows in (("By domain", summary["by_domain"]), ("By label", summary["by_label"])):
        if not rows:
            continue
        t = Table(title=title, title_justify="left")
        t.add_column(title.split()[-1])
        for name in SPLITS:
            t.add_column(SPLIT_DISPLAY[name], justify="right")
        shown = list(rows.items())
        for key, counts in shown[:30]:
            t.add_row(_escape(key), *(f"{counts[s]:,}" for s in SPLITS))
        if len(shown) > 30:
            t.add_row(f"... {len(shown) - 30} more", *([""] * len(SPLITS)))
        con.print(t)
    # free text is not re-wrapped by Rich, so paths and messages stay whole (the terminal wraps)
    con.print(_policy_line(policy, summary["salt"]), soft_wrap=True)
    for line in _check_lines(summary["checks"]):
        con.print(line, soft_wrap=True)
    for message in summary["warnings"]:
        con.print(f"[yellow]warning:[/] {_escape(message)}", soft_wrap=True)
    if summary.get("output"):
        con.print(f"wrote {_escape(summary['output'])}", soft_wrap=True)
    lock = summary.get("lock")
    if lock:
        state = "written" if lock["written"] else _escape(lock["reason"])
        con.print(f"lock {_escape(lock['path'])}: {state}", soft_wrap=True)


def _escape(text: str) -> str:
    from mlstrat.cli._common import safe

    return safe(text)


def _policy_line(policy: dict[str, Any], salt: str) -> str:
    target = f", target {policy['target']!r}" if policy.get("target") is not None else ""
    unit = " (whole groups)" if policy.get("unit") == "group" else ""
    return _escape(f"policy: {policy['rule']}; {policy['eligible_rows']:,} eligible rows{target}{unit}; "
                   f"salt {salt!r}")


def _check_lines(checks: dict[str, Any]) -> list[str]:
    from mlstrat.splits._checks import share_text

    lines = []
    leak = checks["leakage"]
    if leak["found"]:
        lines.append("[red]leakage:[/] " + _escape("; ".join(leak["examples"])))
    else:
        what = "ids, groups" + (", content" if leak["content_across_splits"] is not None else "") + (
            ", near-duplicates" if leak.get("near_duplicates_across_splits") is not None else "")
        near_unsearched = leak["content_across_splits"] is not None and leak.get("near_duplicates_across_splits") is None
        lines.append(f"[green]no leakage[/] ({what})" + (
            "; exact copies only: --near-duplicates COLS also finds edited copies" if near_unsearched else ""))
    dist = checks.get("label_distribution")
    if dist and dist.get("p_value") is not None:
        colour = "green" if dist["ok"] else "yellow"
        lines.append(f"[{colour}]label distribution dev vs test:[/] chi-square p = {dist['p_value']:.3g}")
    purity = checks.get("domain_purity")
    if purity:
        colour = "green" if purity["ok"] else "yellow"
        lines.append(f"[{colour}]dev/test purity ({_escape(repr(purity['target']))}):[/] "
                     f"dev {share_text(purity['dev'])}, test {share_text(purity['test'])}")
    size = checks["dev_size"]
    if size["resolvable_difference"] is not None:
        colour = "green" if size["adequate"] else "yellow"
        lines.append(f"[{colour}]dev size:[/] {size['rows']:,} rows resolve error differences of "
                     f"{size['resolvable_difference']:.2%} at p = {size['expected_error']:.0%} (95%)")
    return lines

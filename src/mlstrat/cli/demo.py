"""`mlstrat demo`: the bundled digits scenario, end to end (grows with each capability)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from mlstrat.cli._app import app

__all__ = ["demo_command", "build_step", "split_step"]

MANIFEST_NAME = "manifest.parquet"
SPLIT_NAME = "split.parquet"


def build_step(out: Path) -> Path:
    """Build the digits manifest and write it to ``out/manifest.parquet`` (overwrites its own file)."""
    from mlstrat.scenarios import build_digits_manifest
    from mlstrat.tables import write_table

    out.mkdir(parents=True, exist_ok=True)
    return write_table(build_digits_manifest(), out / MANIFEST_NAME, force=True)


def split_step(manifest: Path, out: Path) -> Any:
    """Split with the app as target domain, writers as groups, stratified by label."""
    import warnings

    from mlstrat._exceptions import MlstratWarning
    from mlstrat.splits import split

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MlstratWarning)
        result = split(manifest, label="label", domain="domain", target="app", group="group")
    result.write(out / SPLIT_NAME, force=True)
    return result


@app.command("demo")
def demo_command(
    out: Path = typer.Option(Path("mlstrat-demo"), "-o", "--out", help="Folder for the demo's files (re-runnable)."),
    json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Run the bundled digits scenario: web images for training, the phone app as target."""
    from mlstrat.cli._common import console, echo_json
    from mlstrat.cli.split import render_summary

    if out.exists() and not out.is_dir():
        from mlstrat._exceptions import InputError

        raise InputError(f"{out}: exists and is not a folder; give a folder path with -o")
    manifest = build_step(out)
    result = split_step(manifest, out)
    summary = {**result.to_dict(), "output": str(out / SPLIT_NAME)}
    if json:
        echo_json(summary)
        return
    from rich.markup import escape

    console().print(f"digits scenario: manifest {escape(str(manifest))} (web = training source, app = target)",
                    soft_wrap=True)
    render_summary(summary)

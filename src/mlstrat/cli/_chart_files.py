"""The ``--chart PATH`` option of a command: the path checked before the work, the chart written
atomically after it (SVG, or PNG when the path ends in .png)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import typer

from mlstrat._exceptions import ConfigError

#: the file types ``--chart`` writes
CHART_SUFFIXES = (".svg", ".png")


def chart_option(what: str) -> Any:
    """The ``--chart PATH`` option; ``what`` says what the chart draws."""
    return typer.Option(None, "--chart", help=f"Write {what} to this .svg (or .png) file.")


def check_chart_path(path: Path | None, *, inputs: Sequence[Any], force: bool) -> Path | None:
    """Refuse a chart path that is not .svg/.png, is an input, or exists without --force."""
    if path is None:
        return None
    if path.suffix.lower() not in CHART_SUFFIXES:
        raise ConfigError(f"--chart: {path}: give a path ending in .svg or .png")
    from mlstrat.tables import check_output_path

    return check_output_path(path, inputs=inputs, force=force)


def write_chart(path: Path, data: Any, *, svg: Callable[[Any], str], png: Callable[[Any], bytes]) -> None:
    """Draw ``data`` with ``svg`` or ``png`` (by the path's suffix) and write it atomically."""
    from mlstrat.cli._common import err_console, safe
    from mlstrat.tables import atomic_write_bytes, atomic_write_text

    if path.suffix.lower() == ".png":
        atomic_write_bytes(path, png(data))
    else:
        # a file of its own: the XML prologue an inline chart leaves out
        atomic_write_text(path, '<?xml version="1.0" encoding="utf-8" standalone="no"?>\n' + svg(data) + "\n")
    err_console().print(f"[grey50]chart written to {safe(str(path))}[/]", emoji=False, soft_wrap=True)

"""Rendering helpers shared by the commands (Rich consoles, JSON output, option parsing)."""

from __future__ import annotations

from typing import Any

import typer

__all__ = ["console", "err_console", "echo_json", "bad_option"]


def console() -> Any:
    """Rich console on stdout."""
    from rich.console import Console

    return Console(highlight=False)


def err_console() -> Any:
    from rich.console import Console

    return Console(stderr=True, highlight=False)


def echo_json(obj: Any) -> None:
    """Print ``obj`` as stable JSON on stdout (numpy-safe, NaN -> null)."""
    from mlstrat._json import dumps

    typer.echo(dumps(obj))


def bad_option(message: str) -> typer.BadParameter:
    return typer.BadParameter(message)

"""Rendering helpers shared by the commands (Rich consoles, JSON output, option parsing)."""

from __future__ import annotations

from typing import Any

import typer

__all__ = ["console", "err_console", "echo_json", "bad_option", "engine_option", "start_engine"]


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


ENGINE_HELP = ("Engine that reads the tables: duckdb (default, embedded), spark (a SparkSession from "
               "your Spark configuration) or sc://HOST:PORT (Spark Connect).")


def engine_option() -> Any:
    """The ``--engine`` option every table command takes; ``MLSTRAT_ENGINE`` sets its default."""
    return typer.Option(None, "--engine", envvar="MLSTRAT_ENGINE", show_envvar=True, help=ENGINE_HELP)


def start_engine(engine: str | None) -> None:
    """Make ``--engine`` the process-wide engine of the library calls that follow."""
    from mlstrat.tables import use_engine

    use_engine(engine)

"""Options that several commands declare the same way, as ``Annotated`` aliases: a command writes
``engine: EngineOption = None`` and gets the flag, its help and its environment variable, the
same in every command that takes it. ``--conf`` goes with ``--engine`` (:func:`add_spark_conf`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from mlstrat.cli._common import ENGINE_HELP

__all__ = ["EngineOption", "JsonOption", "StoreOption", "add_spark_conf"]

#: ``--engine``: the engine that reads the tables; ``MLSTRAT_ENGINE`` sets its default
EngineOption = Annotated[
    Optional[str],
    typer.Option("--engine", envvar="MLSTRAT_ENGINE", show_envvar=True, help=ENGINE_HELP),
]

#: ``--json``: the result as JSON on stdout instead of tables
JsonOption = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]

#: ``--store``: the run store a command records into
StoreOption = Annotated[
    Optional[Path],
    typer.Option("--store", help="Run store (default: $MLSTRAT_STORE or .mlstrat/runs.db)."),
]


CONF_HELP = ("A Spark setting for the session, KEY=VALUE (repeat for several: --conf "
             "spark.executor.memory=8g --conf spark.executor.instances=50); Spark engines only.")


def add_spark_conf(command: Any) -> None:
    """Give every command with ``--engine`` (and the subcommands of a group) a repeatable
    ``--conf KEY=VALUE``: its settings reach the Spark session the command opens.

    The option is Click's own, added beside ``--engine`` where Typer built the command: the
    command functions never see it, and a new command with ``--engine`` gets it too.
    """
    for sub in getattr(command, "commands", {}).values():
        add_spark_conf(sub)
    params = getattr(command, "params", [])
    engine = next((p for p in params if "--engine" in getattr(p, "opts", ())), None)
    if engine is None or any(p.name == _CONF for p in params):
        return
    params.insert(params.index(engine) + 1, _conf_option())
    original = command.invoke

    def invoke(ctx: Any) -> Any:
        from mlstrat.tables import parse_spark_conf, spark_settings

        with spark_settings(parse_spark_conf(ctx.params.pop(_CONF, ()) or ())):
            return original(ctx)

    command.invoke = invoke


_CONF = "spark_conf"


def _conf_option() -> Any:
    """``--conf`` as Typer builds an option (through a one-option command: Typer's public way)."""
    part = typer.Typer(add_completion=False)

    @part.command()
    def holder(spark_conf: Optional[list[str]] = typer.Option(  # noqa: B008 - Typer's declaration style
            None, "--conf", metavar="KEY=VALUE", help=CONF_HELP)) -> None:
        ...

    return next(p for p in typer.main.get_command(part).params if p.name == _CONF)

"""Options that several commands declare the same way, as ``Annotated`` aliases: a command writes
``engine: EngineOption = None`` and gets the flag, its help and its environment variable, the
same in every command that takes it. ``--conf`` goes with ``--engine`` (see
:func:`mlstrat.cli._flags.add_spark_conf`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from mlstrat.cli._common import ENGINE_HELP

__all__ = ["EngineOption", "JsonOption", "StoreOption"]

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


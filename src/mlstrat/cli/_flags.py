"""Library messages in the CLI's words: Python argument names become the command's flags; and
``--conf KEY=VALUE`` and ``--timeout SECONDS`` beside every ``--engine`` (:func:`add_spark_conf`).

The library names its keyword arguments (``feature_prefix``) and says which argument names
a missing column (``split_col``) on the error itself (:class:`mlstrat.MlstratError`); the
command that ran knows its flags. Text inside quotes (column names, values) is never touched.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from typing import Any, Optional

from mlstrat._exceptions import MlstratError

__all__ = ["add_spark_conf", "flags_of", "reword", "reword_errors"]

_QUOTED = re.compile(r"('[^']*'|\"[^\"]*\")")


def flags_of(command: Any) -> dict[str, str]:
    """Python parameter name -> the command's long flag (``feature_prefix`` -> ``--feature-prefix``)."""
    out = {}
    for param in getattr(command, "params", ()):
        opts = [o for o in getattr(param, "opts", ()) if o.startswith("--")]
        if opts and param.name:
            out[param.name] = opts[0]
    return out


def reword(exc: MlstratError, flags: dict[str, str]) -> str:
    """The message with the arguments it names spelled as flags, and the flag that names a missing
    column added (``; if it has another name, give it with --split-col``). ``flags`` holds the
    options the user may still set (a flag given on the command line is not suggested again)."""
    message = str(exc)
    names = [n for n in exc.arguments if n in flags]
    if names:
        pattern = re.compile(r"(?<![\w'\"-])(" + "|".join(map(re.escape, names)) + r")(?![\w'\"])")
        parts = _QUOTED.split(message)  # odd parts are quoted: left as they are
        message = "".join(p if i % 2 else pattern.sub(lambda m: flags[m.group(1)], p) for i, p in enumerate(parts))
    flag = flags.get(exc.column_argument or "")
    if flag and flag not in message:
        message += f"; if it has another name, give it with {flag}"
    return message


def _given(ctx: Any, name: str) -> bool:
    """Whether the user set option ``name`` (on the command line or from the environment)."""
    try:
        source = ctx.get_parameter_source(name)
    except Exception:  # an older Click, or a name the context does not know
        return False
    return source is not None and source.name in ("COMMANDLINE", "ENVIRONMENT")


def reword_errors(command: Any) -> None:
    """Make every leaf command of ``command`` raise its library errors in the CLI's words."""
    for sub in getattr(command, "commands", {}).values():
        reword_errors(sub)
    if getattr(command, "commands", None) is not None or getattr(command.invoke, "_mlstrat_reword", False):
        return
    original = command.invoke
    flags = flags_of(command)

    def invoke(ctx: Any) -> Any:
        try:
            return original(ctx)
        except MlstratError as exc:
            given = {n for n in flags if _given(ctx, n)}
            suggest = {n: f for n, f in flags.items() if n not in given or n in exc.arguments}
            exc.args = (reword(exc, suggest),)
            raise

    invoke._mlstrat_reword = True  # type: ignore[attr-defined]
    command.invoke = invoke


def canonical_split(value: str) -> str:
    """A split name as the method spells it: the aliases tables accept (``validation``, ``val``,
    ``train-dev``, ``TRAIN``; :data:`mlstrat.tables.SPLIT_ALIASES`) are read as on a table's
    ``split`` column; anything else is left for the command to refuse with the allowed list."""
    from mlstrat._constants import SPLITS
    from mlstrat.tables._mapping import SPLIT_ALIASES

    key = value.strip().lower()
    return SPLIT_ALIASES.get(key) or (key if key in SPLITS else value)


def split_callback(value: Any) -> Any:
    """Typer callback of ``--split`` options (one name, or a list of them when repeatable)."""
    if value is None:
        return None
    if isinstance(value, str):
        return canonical_split(value)
    return [canonical_split(v) for v in value]


CONF_HELP = ("A Spark setting for the session, KEY=VALUE (repeat for several: --conf "
             "spark.executor.memory=8g --conf spark.executor.instances=50); Spark engines only.")


def add_spark_conf(command: Any) -> None:
    """Give every command with ``--engine`` (and the subcommands of a group) a repeatable
    ``--conf KEY=VALUE`` and ``--timeout SECONDS``: the settings reach the Spark session the
    command opens, the timeout bounds every call to a Spark Connect server and every wait of a
    cluster's job for an executor.

    The options are added beside ``--engine`` once Typer built the command: the command
    functions never see them, and a new command with ``--engine`` gets them too.
    """
    for sub in getattr(command, "commands", {}).values():
        add_spark_conf(sub)
    params = getattr(command, "params", [])
    engine = next((p for p in params if "--engine" in getattr(p, "opts", ())), None)
    if engine is None or any(p.name == _CONF for p in params):
        return
    at = params.index(engine) + 1
    params[at:at] = _spark_options()
    original = command.invoke

    def invoke(ctx: Any) -> Any:
        given = ctx.params.pop(_CONF, None)
        timeout = ctx.params.pop(_TIMEOUT, None)
        if not given and timeout is None:  # the engine layer stays unloaded for a command that may not need it
            return original(ctx)
        from mlstrat.tables import parse_spark_conf, spark_settings

        with spark_settings(parse_spark_conf(given or [])), _connect_timeout(timeout):
            return original(ctx)

    command.invoke = invoke


_CONF = "spark_conf"
_TIMEOUT = "spark_timeout"
TIMEOUT_HELP = ("Seconds one call to a Spark Connect server may take, or a Spark job on a cluster may "
                "wait with no executor, before the command stops with an error (default 300, or "
                "$MLSTRAT_SPARK_TIMEOUT); Spark engines only.")


@contextlib.contextmanager
def _connect_timeout(seconds: float | None) -> Iterator[None]:
    """``MLSTRAT_SPARK_TIMEOUT`` set to ``seconds`` for the command (the engine layer reads it when
    it opens a Connect session), restored after."""
    if seconds is None:
        yield
        return
    before = os.environ.get("MLSTRAT_SPARK_TIMEOUT")
    os.environ["MLSTRAT_SPARK_TIMEOUT"] = repr(float(seconds))
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("MLSTRAT_SPARK_TIMEOUT", None)
        else:
            os.environ["MLSTRAT_SPARK_TIMEOUT"] = before


def _positive_seconds(value: float | None) -> float | None:
    import math

    import typer

    if value is not None and not (math.isfinite(value) and value > 0):
        raise typer.BadParameter(f"{value:g} is not a positive number of seconds; e.g. --timeout 300")
    return value


def _spark_options() -> list[Any]:
    """``--conf`` and ``--timeout`` as Typer builds options (through a one-command app: Typer's
    public way)."""
    import typer

    part = typer.Typer(add_completion=False)

    @part.command()
    def holder(spark_conf: Optional[list[str]] = typer.Option(  # noqa: B008, UP045 - Typer's declaration style
            None, "--conf", metavar="KEY=VALUE", help=CONF_HELP),
            spark_timeout: Optional[float] = typer.Option(  # noqa: B008, UP045
            None, "--timeout", metavar="SECONDS", help=TIMEOUT_HELP, callback=_positive_seconds)) -> None:
        ...

    return [p for p in typer.main.get_command(part).params if p.name in (_CONF, _TIMEOUT)]

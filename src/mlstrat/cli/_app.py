"""The Typer application, its error handling and the lazy registration of the command modules.

Only the module of the command being run is imported (``mlstrat metrics`` never loads the
training or report commands); ``mlstrat --help`` imports them all to list their help. Command
modules import the library inside their functions so that no command module, on import,
loads torch, DuckDB or matplotlib.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer
from typer.core import TyperGroup

from mlstrat._exceptions import MlstratError

if TYPE_CHECKING:  # annotations only: Typer runs its own copy of Click
    import click

__all__ = ["app", "main"]


#: options whose value may be left out (``--mlflow`` alone: the tracking URI from the environment)
OPTIONAL_VALUE_OPTIONS = ("--mlflow",)


def fill_optional_values(args: list[str]) -> list[str]:
    """``--mlflow`` at the end or before another option becomes ``--mlflow=`` (empty value).

    Click has optional option values, Typer does not expose them; an empty value means "use
    the default" to the command.
    """
    out = []
    for i, arg in enumerate(args):
        if arg == "--":
            return out + args[i:]
        nxt = args[i + 1] if i + 1 < len(args) else None
        out.append(f"{arg}=" if arg in OPTIONAL_VALUE_OPTIONS and (nxt is None or nxt.startswith("-")) else arg)
    return out


def _reflow(text: str) -> str:
    """Join the hard line breaks inside each paragraph (lists and indented blocks stay)."""
    out = []
    for para in text.split("\n\n"):
        lines = [ln.strip() for ln in para.strip().splitlines()]
        listed = any(ln[:1] in "-*•" or ln[:2].rstrip(".").isdigit() for ln in lines[1:])
        out.append("\n".join(lines) if listed else " ".join(lines))
    return "\n\n".join(out)


#: below this many columns, help is laid out by Click (description under a fixed indent)
#: rather than in Rich's panels, whose option columns squeeze descriptions to a few words
NARROW_HELP_COLUMNS = 100


def _narrow_aware(command: click.Command) -> Any:
    """``command.format_help`` that, in a terminal narrower than :data:`NARROW_HELP_COLUMNS`,
    uses Click's plain layout (wrapped at word boundaries, nothing cut) instead of Rich's."""
    import shutil

    rich_format = command.format_help
    # the first Click class of the command (Typer runs its own copy of Click): plain layout
    plain_base = next(c for c in type(command).__mro__ if c.__module__.endswith("click.core"))

    def format_help(ctx: Any, formatter: Any) -> None:
        if shutil.get_terminal_size().columns >= NARROW_HELP_COLUMNS:
            return rich_format(ctx, formatter)
        plain_base.format_help(command, ctx, formatter)
        # the help texts are escaped for Rich markup (see polish_help): unescape for plain text
        formatter.buffer[:] = [part.replace("\\[", "[") for part in formatter.buffer]
        return None

    return format_help


def polish_help(command: click.Command) -> None:
    """Help as written: ``[data]`` is text, not Rich markup; no ``<bool>`` after flags; no
    hard line breaks in the middle of a sentence. Applied to every command of the tree."""
    import inspect

    from rich.markup import escape

    if command.help:
        command.help = escape(_reflow(inspect.cleandoc(command.help)))
    for param in command.params:
        if getattr(param, "help", None):
            param.help = escape(param.help)
        if getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""  # a flag takes no value: show none
    if not getattr(command, "_mlstrat_help_patched", False):
        original = command.get_help_option

        def get_help_option(ctx: click.Context) -> Any:
            option = original(ctx)
            if option is not None:
                option.metavar = ""
            return option

        command.get_help_option = get_help_option  # type: ignore[method-assign]
        command.format_help = _narrow_aware(command)  # type: ignore[method-assign]
        command._mlstrat_help_patched = True  # type: ignore[attr-defined]
    for sub in getattr(command, "commands", {}).values():
        polish_help(sub)


#: every command, in the order ``mlstrat --help`` lists them, and the module that defines it
COMMANDS = {
    "curve": "curve", "demo": "demo", "diagnose": "diagnose", "gradcheck": "gradcheck",
    "labels": "labels", "metrics": "metrics", "mismatch": "mismatch", "report": "report",
    "select": "select", "split": "split", "synth": "synth", "train": "train", "predict": "train",
    "lr-find": "lr_find", "tune": "tune", "errors": "errors", "runs": "runs", "threshold": "threshold",
    "check": "check", "leakage": "leakage",
}


def _registered_name(info: Any) -> str | None:
    """The command name Typer gives a registered command or sub-app."""
    if getattr(info, "name", None):
        return str(info.name)
    callback = getattr(info, "callback", None)  # Typer's rule: the function's name, dashed
    return callback.__name__.lower().replace("_", "-") if callback else None


def load_command(name: str) -> click.Command | None:
    """Import the module defining command ``name`` and build that one Click command.

    The module registers its commands on :data:`app` when imported; a throwaway Typer app
    holding only ``name``'s registration turns it into a Click command with Typer's public
    ``get_command``, so the other commands are never built.
    """
    import importlib

    if name not in COMMANDS:
        return None
    importlib.import_module(f"mlstrat.cli.{COMMANDS[name]}")
    part = typer.Typer(rich_markup_mode=app.rich_markup_mode,
                       pretty_exceptions_short=app.pretty_exceptions_short, add_completion=False)
    part.callback()(lambda: None)  # a callback makes get_command return a group
    part.registered_commands = [i for i in app.registered_commands if _registered_name(i) == name]
    part.registered_groups = [i for i in app.registered_groups if _registered_name(i) == name]
    command = typer.main.get_command(part).commands.get(name)  # type: ignore[attr-defined]
    if command is not None:
        from mlstrat.cli._coercion import defer_coercion
        from mlstrat.cli._flags import add_spark_conf, reword_errors

        add_spark_conf(command)
        polish_help(command)
        defer_coercion(command)
        reword_errors(command)
    return command


class _Group(TyperGroup):
    """Builds a command only when it is asked for (see :func:`load_command`); turns library
    errors into one red line and exit code 2, never a traceback."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [*COMMANDS, *(name for name in self.commands if name not in COMMANDS)]

    def resolve_command(self, ctx: click.Context, args: list[str]) -> Any:
        if args and args[0] not in COMMANDS and args[0] not in self.commands:
            for name in COMMANDS:  # a mistyped name: Typer suggests among the built commands
                self.get_command(ctx, name)
        return super().resolve_command(ctx, args)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands:
            command = load_command(cmd_name)
            if command is None:
                return None
            self.commands[cmd_name] = command
        return self.commands[cmd_name]

    def main(self, args: Any = None, *rest: Any, **kwargs: Any) -> Any:
        import sys

        from mlstrat.cli._coercion import defer_coercion
        from mlstrat.cli._flags import add_spark_conf, reword_errors

        args = fill_optional_values(list(sys.argv[1:] if args is None else args))
        add_spark_conf(self)
        polish_help(self)
        defer_coercion(self)
        reword_errors(self)  # commands registered before this run, which load_command did not build
        return super().main(args, *rest, **kwargs)

    def invoke(self, ctx: click.Context) -> Any:
        import warnings

        try:
            with warnings.catch_warnings():
                warnings.showwarning = _warning_line  # a warning no command rendered: one line too
                # a library's deprecation notice is for its callers' developers, not for the user
                # (Python hides it outside __main__; a test runner's filters would print it)
                warnings.simplefilter("ignore", DeprecationWarning)
                warnings.simplefilter("ignore", PendingDeprecationWarning)
                return super().invoke(ctx)
        except Exception as exc:
            if (stalled := _spark_stall()) is not None:  # whatever a cancelled Spark job raised
                _error_line(str(stalled))
                ctx.exit(2)
            if isinstance(exc, MlstratError):
                _error_line(str(exc))
                ctx.exit(2)
            from mlstrat.tables._outputs import is_no_space

            if is_no_space(exc):  # a write no layer named: still one line, naming the file if known
                where = getattr(exc, "filename", None)
                _error_line(f"{where}: no space left on device; free some space" if where else
                            "no space left on device; free some space or choose another output path")
                ctx.exit(2)
            # The engine's parse/IO errors reach here when a file is bad deep inside
            # (e.g. a corrupt row group found mid-stream): still a bad-input exit.
            if type(exc).__module__.split(".")[0] in {"duckdb", "_duckdb", "pyarrow", "sqlite3"}:
                _error_line(f"could not process the data: {str(exc).strip().splitlines()[0]}")
                ctx.exit(2)
            if (remote := _remote_failure(exc)) is not None:  # a Spark Connect server failed mid-query
                _error_line(str(remote))
                ctx.exit(2)
            raise


def _spark_stall() -> Any:
    import sys

    if "mlstrat.tables._spark_watchdog" not in sys.modules:  # no classic Spark session was started
        return None
    from mlstrat.tables._spark_watchdog import stall_failure

    return stall_failure()


def _remote_failure(exc: Exception) -> Any:
    import sys

    if "grpc" not in sys.modules:  # no Spark Connect session was ever opened
        return None
    from mlstrat.tables._spark_connect import connect_failure

    return connect_failure(exc)


def _warning_line(message: Any, category: Any, *args: Any, **kwargs: Any) -> None:
    from mlstrat.cli._common import err_console, safe

    err_console(soft_wrap=True).print(f"[yellow]Warning:[/] {safe(message)}")


def _error_line(message: str) -> None:
    from mlstrat.cli._common import err_console, safe

    err_console(soft_wrap=True).print(f"[bold red]Error:[/] {safe(message)}")


app = typer.Typer(
    name="mlstrat",
    cls=_Group,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    help="Run an ML project the disciplined way: split, train, diagnose, analyse errors, decide.",
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        from mlstrat import __version__

        typer.echo(f"mlstrat {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print the version and exit."),
) -> None:
    """Run an ML project the disciplined way: split, train, diagnose, analyse errors, decide."""


def main() -> None:
    """Console-script entry point."""
    app()


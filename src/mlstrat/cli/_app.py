"""The Typer application, its error handling and the registration of every command module.

Command modules import the library inside their functions so that ``mlstrat --help`` stays
fast and never imports torch, DuckDB or matplotlib.
"""

from __future__ import annotations

from typing import Any

import click
import typer
from typer.core import TyperGroup

from mlstrat._exceptions import MlstratError

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
        command._mlstrat_help_patched = True  # type: ignore[attr-defined]
    for sub in getattr(command, "commands", {}).values():
        polish_help(sub)


class _Group(TyperGroup):
    """Turns library errors into one red line and exit code 2, never a traceback."""

    def main(self, args: Any = None, *rest: Any, **kwargs: Any) -> Any:
        import sys

        args = fill_optional_values(list(sys.argv[1:] if args is None else args))
        polish_help(self)
        return super().main(args, *rest, **kwargs)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except MlstratError as exc:
            _error_line(str(exc))
            ctx.exit(2)
        except Exception as exc:
            # The engine's parse/IO errors reach here when a file is bad deep inside
            # (e.g. a corrupt row group found mid-stream): still a bad-input exit.
            if type(exc).__module__.split(".")[0] in {"duckdb", "_duckdb", "pyarrow"}:
                _error_line(f"could not process the data: {str(exc).strip().splitlines()[0]}")
                ctx.exit(2)
            raise


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


# Registration: each module adds its commands to ``app`` when imported.
from mlstrat.cli import (  # noqa: E402,F401
    curve,
    demo,
    diagnose,
    errors,
    gradcheck,
    labels,
    metrics,
    mismatch,
    report,
    runs,
    select,
    split,
    synth,
    train,
    tune,
)

"""Rendering helpers shared by the commands (Rich consoles, JSON output, option parsing)."""

from __future__ import annotations

import re
from typing import Any

import typer

__all__ = ["console", "err_console", "echo_json", "emit", "safe", "strip_control",
           "engine_option", "start_engine", "print_convergence"]

# C0 and C1 control characters and DEL, except tab and newline: an ESC in a column name or a
# label would otherwise reach the terminal raw (colour changes, cursor moves, title rewrites);
# bidi overrides can reorder what a reader sees
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def strip_control(text: str) -> str:
    """``text`` with each control character shown as its escape (``\\x1b``), never sent raw."""
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


# Rich's markup grammar: a tag is "[" + [a-z#/@] + no "[" + "]", its preceding backslashes halved
# (odd: the tag is literal); outside tags only "\\[" is unescaped to "[". rich.markup.escape
# misses the second rule ("\\[" in data loses its backslash), hence this function.
_BRACKET = re.compile(r"(\\*)\[")
_TAG_AHEAD = re.compile(r"[a-z#/@][^\[]*?\]")
_TRAILING = re.compile(r"(\\+)$")


def _escape_markup(text: str) -> str:
    def one(m: re.Match[str]) -> str:
        run = m.group(1)
        if _TAG_AHEAD.match(text, m.end()):
            return run * 2 + "\\["  # halved back to `run`, and the tag is literal
        return run + "\\["  # only the backslash right before "[" is dropped

    out = _BRACKET.sub(one, text)
    trailing = _TRAILING.search(out)
    if trailing:  # a tag written after the value would eat these: let an empty tag take them
        out = out[: trailing.start()] + trailing.group(1) * 2 + "[i][/i]"
    return out


def safe(value: Any) -> str:
    """Any value that comes from data (labels, ids, column and category names, paths, messages
    that quote them) as text to put inside Rich markup: control characters shown as escapes,
    markup escaped so it prints as itself. Every renderer routes data through here."""
    return _escape_markup(strip_control(str(value)))


def _console_class() -> Any:
    from rich.console import Console
    from rich.segment import Segment

    class SafeConsole(Console):
        """A console that never writes a control character it did not make itself: the text of
        every segment is cleaned just before styles turn into escape sequences (the safety net
        under :func:`safe` for renderables such as ``Text`` built from data)."""

        def _render_buffer(self, buffer: Any) -> str:
            return str(super()._render_buffer(
                seg if seg.control else Segment(strip_control(seg.text), seg.style, seg.control)
                for seg in buffer))

    return SafeConsole


def console(**options: Any) -> Any:
    """Rich console on stdout (no emoji codes, no highlighting, control characters cleaned)."""
    return _console_class()(highlight=False, emoji=False, **options)


def err_console(**options: Any) -> Any:
    """Rich console on stderr, like :func:`console`."""
    return _console_class()(stderr=True, highlight=False, emoji=False, **options)


def echo_json(obj: Any) -> None:
    """Print ``obj`` as stable JSON on stdout (numpy-safe, NaN -> null)."""
    from mlstrat._json import dumps

    typer.echo(dumps(obj))


def emit(result: Any, *, as_json: bool, render: Any) -> None:
    """The ending of a command: ``result`` as JSON (``--json``), else ``render(result)`` (Rich)."""
    if as_json:
        echo_json(result)
    else:
        render(result)


#: help of the options that name a predictions table's columns the user's way
Y_TRUE_HELP = "Column holding the true label, when it is not named y_true (e.g. label)."
Y_PRED_HELP = "Column holding the predicted label, when it is not named y_pred (e.g. prediction)."
SPLIT_COL_HELP = "Column holding the split, when it is not named split (values val, validation, train-dev, ... are mapped too)."


def print_convergence(out: Any, convergence: Any) -> None:
    """A training run's convergence verdict (``history["convergence"]``, or a recorded train run's
    ``metrics["convergence"]``) as one line; yellow when it asks for an action."""
    from mlstrat.display._documents import convergence_line

    line = convergence_line(convergence)
    if line is not None:
        style = "bold" if convergence.get("code") == "plateaued" else "bold yellow"
        out.print(f"[{style}]{safe(line[0].upper() + line[1:])}[/]", soft_wrap=True)


def predictions_source(path: Any, *, y_true: str | None = None, y_pred: str | None = None,
                       split_col: str | None = None, columns: Any = None) -> Any:
    """The path as given, or the table with the user's names mapped; says on stderr what was mapped.

    ``columns``: the columns the command reads (a ``ColumnSelection``), so a mapped wide file
    is read for those only."""
    if path is None:
        return None
    from mlstrat.tables import map_predictions

    mapped = map_predictions(path, y_true=y_true, y_pred=y_pred, split_col=split_col, columns=columns)
    if not mapped.notes:
        return str(path)
    err_console().print(f"[grey50]mapped: {safe('; '.join(mapped.notes))}[/]", soft_wrap=True)
    return mapped.table


ENGINE_HELP = ("Engine that reads the tables: duckdb (default, embedded), spark (a SparkSession from "
               "your Spark configuration or SPARK_MASTER), a Spark master (spark://HOST:PORT, yarn, "
               "k8s://https://HOST:PORT, local[N]) or sc://HOST:PORT (Spark Connect).")


def engine_option() -> Any:
    """The ``--engine`` option every table command takes; ``MLSTRAT_ENGINE`` sets its default."""
    return typer.Option(None, "--engine", envvar="MLSTRAT_ENGINE", show_envvar=True, help=ENGINE_HELP)


def start_engine(engine: str | None) -> None:
    """Make ``--engine`` the process-wide engine of the library calls that follow."""
    from mlstrat.tables import use_engine

    use_engine(engine)

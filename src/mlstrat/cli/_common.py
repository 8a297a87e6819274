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


#: help of the options that name a predictions table's columns the user's way
Y_TRUE_HELP = "Column holding the true label, when it is not named y_true (e.g. label)."
Y_PRED_HELP = "Column holding the predicted label, when it is not named y_pred (e.g. prediction)."
SPLIT_COL_HELP = "Column holding the split, when it is not named split (values val, validation, train-dev, ... are mapped too)."


def predictions_source(path: Any, *, y_true: str | None = None, y_pred: str | None = None,
                       split_col: str | None = None) -> Any:
    """The path as given, or the table with the user's names mapped; says on stderr what was mapped."""
    if path is None:
        return None
    from rich.markup import escape

    from mlstrat.tables import map_predictions

    mapped = map_predictions(path, y_true=y_true, y_pred=y_pred, split_col=split_col)
    if not mapped.notes:
        return str(path)
    err_console().print(f"[grey50]mapped: {escape('; '.join(mapped.notes))}[/]", soft_wrap=True)
    return mapped.table

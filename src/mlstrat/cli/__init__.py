"""The ``mlstrat`` command line: thin commands that parse, call the library and render."""

from mlstrat.cli._app import app, main

__all__ = ["app", "main"]

"""The exception hierarchy. The CLI turns every :class:`MlstratError` into one red line, exit 2."""

from __future__ import annotations

__all__ = ["MlstratError", "InputError", "ConfigError", "MlstratWarning", "UndefinedMetricWarning"]


class MlstratError(Exception):
    """Root of every error mlstrat raises on purpose.

    ``arguments``: keyword arguments of the library call that the message names by their Python
    names (``feature_prefix``); ``column_argument``: the keyword argument that names the column the
    message is about (``split_col``). An interface with its own names for them (the CLI's flags)
    rewords the message with these; the library itself never needs to know those names.
    """

    def __init__(self, *args: object, arguments: tuple[str, ...] = (), column_argument: str | None = None) -> None:
        super().__init__(*args)
        self.arguments = tuple(arguments)
        self.column_argument = column_argument


class InputError(MlstratError, ValueError):
    """Bad input data: a file, column, value or split name that cannot be used as given."""


class ConfigError(MlstratError, ValueError):
    """Bad configuration: an option, a config key or a combination of options."""


class MlstratWarning(UserWarning):
    """Something the user should know about; the result is still computed."""


class UndefinedMetricWarning(MlstratWarning):
    """A metric is undefined (e.g. precision with no predicted positives) and was set by policy."""

"""The exception hierarchy. The CLI turns every :class:`MlstratError` into one red line, exit 2."""

from __future__ import annotations

__all__ = ["MlstratError", "InputError", "ConfigError", "MlstratWarning", "UndefinedMetricWarning"]


class MlstratError(Exception):
    """Root of every error mlstrat raises on purpose."""


class InputError(MlstratError, ValueError):
    """Bad input data: a file, column, value or split name that cannot be used as given."""


class ConfigError(MlstratError, ValueError):
    """Bad configuration: an option, a config key or a combination of options."""


class MlstratWarning(UserWarning):
    """Something the user should know about; the result is still computed."""


class UndefinedMetricWarning(MlstratWarning):
    """A metric is undefined (e.g. precision with no predicted positives) and was set by policy."""

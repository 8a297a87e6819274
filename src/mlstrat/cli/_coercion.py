"""Text options without Pydantic: Typer's own coercion, deferred until a value needs it.

Typer (0.2x) turns every option value into its Python type through a Pydantic ``TypeAdapter``
built on first use; importing Pydantic and building the adapters of one command costs about
a tenth of a second, most of ``mlstrat diagnose --errors ...``'s start-up, although the values
of most options are already what the command wants: text (``str``) or lists of text. Typer
offers no setting for this, so each parameter of an mlstrat command gets a coercion that
returns text and lists of text as they are and hands every other value (paths, numbers,
anything unusual) to the coercion Typer would have built, unchanged. Where Typer's
internals differ (another version), the commands are left as Typer built them.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

__all__ = ["defer_coercion"]

try:
    from typer._coercion import RuntimeParam, build_runtime_param
except ImportError:  # a Typer without this layer: nothing to defer
    RuntimeParam = None  # type: ignore[assignment,misc]

_TEXT_LIST = list[str]


if RuntimeParam is not None:

    @dataclass(frozen=True)
    class _DeferredCoercion(RuntimeParam):  # type: ignore[misc,valid-type]
        """Text and lists of text as given; any other value through Typer's own coercion."""

        descriptor: Any

        @cached_property
        def typer_coercion(self) -> Any:
            return build_runtime_param(self.descriptor)

        def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
            if self.annotation is str and isinstance(value, str):
                return value
            if (self.annotation == _TEXT_LIST and isinstance(value, (list, tuple))
                    and all(isinstance(v, str) for v in value)):
                return list(value)
            return self.typer_coercion._coerce_value(value, param=param, ctx=ctx)


def defer_coercion(command: Any) -> None:
    """Give each parameter of ``command`` (and of its subcommands, and the ``--help`` option
    Click adds when it parses) the deferred coercion."""
    if RuntimeParam is None:
        return
    for param in getattr(command, "params", ()):
        _defer(param)
    if not getattr(command, "_mlstrat_coercion_deferred", False):
        original = command.get_help_option

        def get_help_option(ctx: Any) -> Any:
            option = original(ctx)
            if option is not None:
                _defer(option)
            return option

        command.get_help_option = get_help_option
        command._mlstrat_coercion_deferred = True
    for sub in getattr(command, "commands", {}).values():
        defer_coercion(sub)


def _defer(param: Any) -> None:
    descriptor = getattr(param, "type_descriptor", None)
    if descriptor is None or getattr(param, "_runtime_param", False) is not None:
        return  # not a Typer parameter of this version, or its coercion is built already
    param._runtime_param = _DeferredCoercion(
        parameter_info=descriptor.parameter_info, annotation=descriptor.annotation,
        descriptor=descriptor)

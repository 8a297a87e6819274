"""TOML values to and from the typed fields of the configuration sections: a table of keys is
checked against the section's fields and each value coerced to its annotated type (lists to tuples,
integers to floats), with a message naming ``[section] key`` and the type expected.
"""

from __future__ import annotations

import dataclasses
import json
import os
import typing
from pathlib import Path
from typing import Any

from mlstrat._exceptions import ConfigError
from mlstrat._numbers import did_you_mean


def read_toml(path: str | os.PathLike) -> dict[str, Any]:
    """The tables of a TOML config file.

    Raises
    ------
    ConfigError
        The file is missing, is a folder, is not UTF-8, cannot be read or is not valid TOML;
        the message names the file.
    """
    import tomllib

    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path}: no such config file")
    if not path.is_file():
        raise ConfigError(f"{path}: is not a file; give the TOML config file")
    try:
        # utf-8-sig: Windows Notepad starts a UTF-8 file with a byte-order mark, which TOML refuses
        return tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: is not UTF-8 text; save the config as UTF-8") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read ({exc.strerror})") from None


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a valid TOML basic string
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):  # an inline table
        return "{" + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"cannot write {value!r} as TOML")


def _build_section(cls: type, values: dict[str, Any]) -> Any:
    section = cls._section
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    kwargs = {}
    for key, value in values.items():
        if key not in names:
            raise ConfigError(f"[{section}] unknown key {key!r}{did_you_mean(key, names)}; "
                              f"keys: {', '.join(names)}")
        kwargs[key] = _coerce(value, hints[key], f"[{section}] {key}")
    return cls(**kwargs)


def _coerce(value: Any, hint: Any, where: str) -> Any:
    """Convert a TOML value to the annotated type (lists -> tuples, ints -> floats)."""
    options = typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, _UnionType) else (hint,)
    for option in options:
        ok, converted = _try(value, option)
        if ok:
            return converted
    raise ConfigError(f"{where} = {value!r}: expected {_describe(hint)}")


def _try(value: Any, hint: Any) -> tuple[bool, Any]:
    if hint is type(None):
        return False, None  # TOML has no null: a None field is written by leaving it out
    if hint is bool:
        return isinstance(value, bool), value
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool), value
    if hint is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        return ok, float(value) if ok else None
    if hint is str:
        return isinstance(value, str), value
    if hint is dict:
        return isinstance(value, dict), dict(value) if isinstance(value, dict) else None
    if typing.get_origin(hint) in (typing.Union, _UnionType):
        for option in typing.get_args(hint):
            ok, converted = _try(value, option)
            if ok:
                return True, converted
        return False, None
    if typing.get_origin(hint) is tuple:
        if not isinstance(value, (list, tuple)):
            return False, None
        args = typing.get_args(hint)
        item_types = [args[0]] * len(value) if len(args) == 2 and args[1] is Ellipsis else list(args)
        if len(item_types) != len(value):
            return False, None
        out = []
        for item, item_type in zip(value, item_types):
            ok, converted = _try(item, item_type)
            if not ok:
                return False, None
            out.append(converted)
        return True, tuple(out)
    return False, None


def _describe(hint: Any) -> str:
    if typing.get_origin(hint) in (typing.Union, _UnionType):
        return " or ".join(_describe(a) for a in typing.get_args(hint) if a is not type(None))
    if typing.get_origin(hint) is tuple:
        args = typing.get_args(hint)
        plural = {int: "integers", float: "numbers", str: "strings"}.get(args[0], "values")
        if len(args) == 2 and args[1] is Ellipsis:
            return f"a list of {plural}"
        return f"a list of {len(args)} {plural}"
    return {bool: "true or false", int: "an integer", float: "a number", str: "a string"}.get(hint, str(hint))


_UnionType = type(int | None)

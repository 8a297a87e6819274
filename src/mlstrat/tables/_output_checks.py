"""Checks on an output path before any work: never an input, never a store, never an existing
output without ``--force``, and a remote URI asked of the engine that will write it."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mlstrat._exceptions import InputError
from mlstrat.tables._connect import engine_of
from mlstrat.tables._engine import is_uri
from mlstrat.tables._outputs import is_table_folder

__all__ = ["PROTECTED_KINDS", "protected_kind", "check_output_path", "check_table_output", "check_file_output"]

#: kinds of files that ``--force`` never replaces: they hold state a person built up
PROTECTED_KINDS = ("store", "meta")
_SQLITE_MAGIC = b"SQLite format 3\x00"


def protected_kind(path: Path) -> str | None:
    """What ``path`` is, when it is a file ``--force`` must never replace; ``None`` otherwise.

    ``"store"``: a SQLite database (the run store, the tagging UI's working store), known by
    its header bytes whatever its name. ``"meta"``: an error sheet's ``.meta.json``.
    """
    try:
        with open(path, "rb") as fh:
            if fh.read(len(_SQLITE_MAGIC)) == _SQLITE_MAGIC:
                return "store"
    except OSError:
        return None
    if path.name.endswith(".meta.json"):
        return "meta"
    return None


_KIND_TEXT = {"store": "a SQLite store (run history or tagging state)", "meta": "an error sheet's meta file"}


def check_output_path(output: str | os.PathLike, *, inputs: Sequence[Any] = (), force: bool = False,
                      replaces: Sequence[str] = (), con: Any = None) -> Path:
    """Refuse to overwrite an input, a store, or an existing output without ``force``.

    A folder is an earlier output only when it holds nothing but a Spark writer's part files;
    any other folder is refused, even with ``force``.

    Parameters
    ----------
    replaces : sequence of str, default=()
        Protected kinds (:data:`PROTECTED_KINDS`) this writer owns and may replace with
        ``force`` (``errors sample`` re-creates a sheet's meta file).
    con : ibis backend, SparkSession or engine, default=None
        The engine that will write a remote URI (``s3a://...``): it is asked now whether the
        path exists and whether its storage can be reached at all, so that a refusal comes
        before the work. Without it a URI is checked only when the engine writes.
    """
    out = Path(output)
    if is_uri(output) and not str(output).startswith("file://"):
        _check_remote_output(os.fspath(output), inputs=inputs, force=force, con=con)
        return out
    if str(output).startswith("file://"):
        out = Path(str(output)[len("file://"):])
    for src in inputs:
        if isinstance(src, (str, os.PathLike)) and not is_uri(src) and _same_file(out, Path(src)):
            raise InputError(f"{out}: the output path is the input file; mlstrat never overwrites "
                             "its input. Choose another -o path")
    if out.is_dir() and not is_table_folder(out):
        raise InputError(f"{out}: is a folder; give a file path for the output")
    if out.exists():
        kind = protected_kind(out)
        if kind is not None and kind not in replaces:
            raise InputError(f"{out}: is {_KIND_TEXT[kind]}; mlstrat never overwrites it, even with "
                             "--force. Choose another -o path")
        if not force:
            raise InputError(f"{out}: already exists; pass --force (force=True) to overwrite it")
    parent = out.parent
    if not parent.exists():
        raise InputError(f"{out}: the folder {parent} does not exist; create it first")
    if not parent.is_dir():
        raise InputError(f"{out}: {parent} is not a folder; choose another -o path")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(f"{out}: the folder {parent} is not writable; choose another -o path")
    return out


def check_table_output(output: str | os.PathLike, *, inputs: Sequence[Any] = (), force: bool = False,
                       con: Any = None) -> Path:
    """:func:`check_output_path` for a table the engine ``con`` (the process-wide one by default)
    writes: a URI is asked of that engine now (does it exist, can its storage be reached), so
    that every command refuses a bad output before its work, as ``write_table`` would after it."""
    remote = is_uri(output) and not str(output).startswith("file://")
    return check_output_path(output, inputs=inputs, force=force, con=engine_of(con) if remote else None)


def check_file_output(output: str | os.PathLike, *, what: str, inputs: Sequence[Any] = (), force: bool = False,
                      replaces: Sequence[str] = ()) -> Path:
    """:func:`check_output_path` for a file this process writes itself (``what``: an HTML report,
    an error sheet): a local path (or ``file://`` URI), never an object-store URI."""
    if is_uri(output) and not str(output).startswith("file://"):
        raise InputError(f"{output}: {what} is written on this machine; give a local path (or a file:// URI) "
                         "and copy it to the storage afterwards")
    return check_output_path(output, inputs=inputs, force=force, replaces=replaces)


def _check_remote_output(output: str, *, inputs: Sequence[Any], force: bool, con: Any) -> None:
    for src in inputs:
        if isinstance(src, (str, os.PathLike)) and os.fspath(src).rstrip("/") == output.rstrip("/"):
            raise InputError(f"{output}: the output path is the input; mlstrat never overwrites "
                             "its input. Choose another -o path")
    if con is None:
        return
    if engine_of(con).output_exists(output) and not force:
        raise InputError(f"{output}: already exists; pass --force (force=True) to overwrite it")


def _same_file(a: Path, b: Path) -> bool:
    if a.exists() and b.exists():
        return os.path.samefile(a, b)
    return a.absolute() == b.absolute()

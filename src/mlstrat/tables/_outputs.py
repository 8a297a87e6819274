"""Publishing outputs: a temporary name beside the target, a rename into place, removal of what
killed writers left behind, and one message for a full disk."""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from mlstrat._exceptions import InputError, MlstratError
from mlstrat.tables._files import pid_alive

__all__ = ["DiskFullError", "temp_path", "publish", "remove_path", "is_table_folder", "is_no_space", "no_space_error",
           "reporting_full_disk", "atomic_write_bytes", "atomic_write_text"]

#: errno values that mean "the device (or the user's quota) is full"
_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
#: how engines and SQLite word a full disk when they do not carry an errno
_FULL_TEXTS = ("no space left on device", "database or disk is full", "disk quota exceeded")
#: entries a Spark (Hadoop) writer puts in an output folder; a folder of nothing else is a table
_SPARK_ENTRIES = ("part-", "_SUCCESS", "_committed_", "_started_", ".part-", "._SUCCESS")


class DiskFullError(InputError):
    """The disk (or quota) filled up while writing :attr:`path`."""

    def __init__(self, message: str, *, path: str) -> None:
        super().__init__(message)
        self.path = path


def is_no_space(exc: BaseException) -> bool:
    """Whether ``exc`` says the disk (or quota) is full, whoever raised it (OS, DuckDB, SQLite,
    pyarrow, torch)."""
    if isinstance(exc, OSError) and exc.errno in _FULL_ERRNOS:
        return True
    if getattr(exc, "sqlite_errorcode", None) == 13:  # SQLITE_FULL
        return True
    text = str(exc).lower()
    return any(words in text for words in _FULL_TEXTS)


def no_space_error(path: str | os.PathLike, *, fix: str = "choose another -o path") -> DiskFullError:
    """The one line for a full disk: the path that could not be written, and what to do."""
    return DiskFullError(f"{os.fspath(path)}: no space left on device; free some space or {fix}",
                         path=os.fspath(path))


@contextmanager
def reporting_full_disk(path: str | os.PathLike, *, fix: str = "choose another -o path") -> Iterator[None]:
    """Turn a full-disk error raised inside the block into :func:`no_space_error` for ``path``
    (also one already raised for a file inside ``path``, such as a run folder's model file)."""
    try:
        yield
    except DiskFullError as exc:
        if exc.path == os.fspath(path):
            raise
        raise no_space_error(path, fix=fix) from None
    except MlstratError:
        raise
    except Exception as exc:
        if is_no_space(exc):
            raise no_space_error(path, fix=fix) from None
        raise


def _temp_prefix(final: Path) -> str:
    return f".{final.name}."


def temp_path(final: Path, *, suffix: str | None = None) -> Path:
    """A fresh temporary name beside ``final``: ``.<name>.<pid>.<random>.tmp<suffix>``.

    The process id in the name lets the next writer of the same output remove what a killed
    process left (hundreds of MB for a large split) without touching a live writer's file.
    Nothing is created at that name. ``suffix`` defaults to the suffix of ``final``.
    """
    remove_stale_temps(final)
    fd, tmp = tempfile.mkstemp(prefix=f"{_temp_prefix(final)}{os.getpid()}.",
                               suffix=".tmp" + (final.suffix if suffix is None else suffix), dir=final.parent)
    os.close(fd)
    os.unlink(tmp)  # writers want to create the file (or folder) themselves
    return Path(tmp)


def remove_stale_temps(final: Path) -> None:
    """Remove the temporary files and folders of ``final`` whose writing process no longer exists."""
    prefix = _temp_prefix(final)
    try:
        entries = list(final.parent.iterdir())
    except OSError:
        return
    for entry in entries:
        name = entry.name
        if not (name.startswith(prefix) and ".tmp" in name[len(prefix):]):
            continue
        pid = name[len(prefix):].split(".", 1)[0]
        if pid.isdigit() and not pid_alive(int(pid)):
            remove_path(entry)


def remove_path(path: Path) -> None:
    """Remove a file or a folder, whichever ``path`` is; nothing when it is absent."""
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    except OSError:
        pass


def is_table_folder(path: Path) -> bool:
    """Whether ``path`` is a folder a Spark writer made (part files, ``_SUCCESS``, checksums), and
    nothing else: the only kind of folder ``--force`` replaces."""
    try:
        entries = list(path.iterdir())
    except OSError:
        return False
    return bool(entries) and all(e.is_file() and not e.is_symlink() and e.name.startswith(_SPARK_ENTRIES)
                                 for e in entries)


def publish(tmp: Path, final: Path) -> None:
    """Rename ``tmp`` (a file or folder) onto ``final``; an existing folder at ``final`` (or a file
    where a folder comes) is moved aside first and removed after."""
    aside = None
    if final.exists() and (final.is_dir() or tmp.is_dir()):
        aside = temp_path(final, suffix="-old")
        os.replace(final, aside)
    os.replace(tmp, final)
    _sync_folder(final.parent)
    if aside is not None:
        remove_path(aside)


def _sync_folder(folder: Path) -> None:
    try:  # make the rename durable on crash
        dfd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` via a temporary file + rename: readers never see half a file.

    Raises
    ------
    InputError
        When the disk is full (the temporary file is removed).
    """
    final = Path(path)
    with reporting_full_disk(final):
        tmp = temp_path(final)
        try:
            with open(tmp, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            publish(tmp, final)
        finally:
            tmp.unlink(missing_ok=True)
    return final


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """:func:`atomic_write_bytes` of ``text`` in UTF-8."""
    return atomic_write_bytes(path, text.encode("utf-8"))

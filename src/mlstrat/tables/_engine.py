"""The embedded engine: an Ibis DuckDB connection with settings for streaming large tables."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

from mlstrat._exceptions import ConfigError

__all__ = ["connect", "default_connection", "spill_directory"]

_DEFAULT: Any = None
# DuckDB's own grammar for sizes ("2GB", "512 MiB", "80%"); checked before the engine sees it so a
# bad value is one clear line, and settings travel through the engine's config API, never SQL text
_MEMORY = re.compile(r"^\s*\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB|%)?\s*$", re.IGNORECASE)
_MAX_THREADS = 4096


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # exists, owned by someone else
    return True


def spill_directory(root: str | os.PathLike | None = None) -> Path:
    """This process's spill folder ``<root>/<pid>``; folders of dead processes are removed first.

    A process killed while DuckDB spills (``kill -9`` during a large ``split``) leaves its
    spill files behind; the next run reclaims them. Only folders named by the id of a
    process that no longer exists are touched.
    """
    base = Path(root) if root is not None else Path(tempfile.gettempdir()) / "mlstrat-duckdb"
    if base.is_dir():
        for entry in base.iterdir():
            if entry.name.isdigit() and int(entry.name) != os.getpid() and not _pid_alive(int(entry.name)):
                shutil.rmtree(entry, ignore_errors=True)
    return base / str(os.getpid())


def connect(*, memory_limit: str | None = None, threads: int | None = None,
            temp_directory: str | None = None) -> Any:
    """Open an in-process DuckDB connection through Ibis.

    Parameters
    ----------
    memory_limit : str, default=None
        DuckDB memory limit such as ``"2GB"``; beyond it DuckDB spills to ``temp_directory``.
        Defaults to the ``MLSTRAT_MEMORY_LIMIT`` environment variable, else DuckDB's default.
    threads : int, default=None
        Worker threads; defaults to DuckDB's choice (all cores).
    temp_directory : str, default=None
        Where DuckDB spills; defaults to a per-process folder under the system temporary
        directory (see :func:`spill_directory`).

    Raises
    ------
    ConfigError
        A memory limit that is not a size (``"2GB"``, ``"512MiB"``, ``"80%"``) or a thread
        count outside 1..4096.
    """
    import ibis

    config: dict[str, Any] = {}
    memory_limit = memory_limit or os.environ.get("MLSTRAT_MEMORY_LIMIT")
    if memory_limit:
        if not _MEMORY.match(str(memory_limit)):
            raise ConfigError(f"memory limit {memory_limit!r} is not a size; use e.g. 2GB, 512MiB or 80%")
        config["memory_limit"] = str(memory_limit).strip()
    if threads:
        if not 1 <= int(threads) <= _MAX_THREADS:
            raise ConfigError(f"threads = {threads} is out of range; use 1 to {_MAX_THREADS}")
        config["threads"] = int(threads)
    config["temp_directory"] = str(temp_directory or spill_directory())
    try:
        return ibis.duckdb.connect(**config)
    except Exception as exc:  # the engine refuses a setting: name it
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"the engine refused its settings ({first})") from None


def default_connection() -> Any:
    """The process-wide connection used when a function is not given one."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = connect()
    return _DEFAULT

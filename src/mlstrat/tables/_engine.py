"""The embedded engine: an Ibis DuckDB connection with settings for streaming large tables."""

from __future__ import annotations

import os
import tempfile
from typing import Any

__all__ = ["connect", "default_connection"]

_DEFAULT: Any = None


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
        Where DuckDB spills; defaults to the system temporary directory.
    """
    import ibis

    con = ibis.duckdb.connect()
    memory_limit = memory_limit or os.environ.get("MLSTRAT_MEMORY_LIMIT")
    if memory_limit:
        con.raw_sql(f"SET memory_limit = '{memory_limit}'")
    if threads:
        con.raw_sql(f"SET threads = {int(threads)}")
    spill = temp_directory or os.path.join(tempfile.gettempdir(), "mlstrat-duckdb")
    con.raw_sql(f"SET temp_directory = '{spill}'")
    return con


def default_connection() -> Any:
    """The process-wide connection used when a function is not given one."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = connect()
    return _DEFAULT

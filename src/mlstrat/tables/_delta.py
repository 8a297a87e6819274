"""Delta tables: a folder with ``_delta_log/`` resolved to its live Parquet files.

A Delta folder holds every file any version wrote; only the latest version's log says which
are live (an overwrite or a compaction leaves the superseded ones in place until a vacuum),
and ``_delta_log/`` may hold checkpoints that are Parquet too. Read as plain Parquet, such a
folder counts superseded rows and log records as data. The log is read with ``deltalake``
(delta-rs, no JVM); the engine reads the live files. Features that change what a file's rows
mean (deletion vectors, column mapping, ...) cannot be read that way: those tables are refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlstrat._exceptions import InputError
from mlstrat.tables._engine import first_line

__all__ = ["DeltaFiles", "delta_files", "is_delta_table"]

#: reader features whose tables read right as their live Parquet files (deletion vectors are
#: allowed as a feature, and refused when a file has one)
_PLAIN_READER_FEATURES = frozenset({"deletionVectors", "timestampNtz", "v2Checkpoint", "vacuumProtocolCheck",
                                    "variantType", "variantType-preview", "columnMapping"})


@dataclass(frozen=True)
class DeltaFiles:
    """The live data files of a Delta table's latest version (absolute paths or URIs)."""

    root: str
    files: tuple[str, ...]
    version: int
    partition_columns: tuple[str, ...]


def is_delta_table(path: Path) -> bool:
    """Whether the local folder ``path`` is a Delta table (it holds ``_delta_log/``)."""
    return (path / "_delta_log").is_dir()


def delta_files(path: Path) -> DeltaFiles:
    """The live Parquet files of the Delta table at ``path``.

    Raises
    ------
    InputError
        ``deltalake`` is not installed; the log cannot be read; the table uses a reader
        feature that plain Parquet files cannot express (deletion vectors in use, column
        mapping, type widening, ...); a partitioned table whose files do not name their
        partition values (``col=value/``); no live file.
    """
    try:
        from deltalake import DeltaTable
    except ImportError:
        raise InputError(f"{path}: is a Delta table (it holds _delta_log/) and reading one needs the "
                         "deltalake package; pip install 'mlstrat[delta]'") from None
    try:
        table = DeltaTable(str(path))
    except Exception as exc:  # delta-rs raises its own classes (a missing log file, a corrupt commit)
        raise InputError(f"{path}: the Delta log cannot be read ({first_line(exc)}); check the table") from None
    _require_plain_parquet(path, table)
    files = tuple(table.file_uris())
    partitions = tuple(table.metadata().partition_columns)
    if not files:
        raise InputError(f"{path}: the Delta table holds no data files at version {table.version()}; "
                         "nothing to read")
    if partitions:
        _require_partition_paths(path, files, partitions)
    return DeltaFiles(root=str(path), files=files, version=table.version(), partition_columns=partitions)


def _require_plain_parquet(path: Path, table: Any) -> None:
    protocol = table.protocol()
    features = set(protocol.reader_features or ())
    unknown = sorted(features - _PLAIN_READER_FEATURES)
    if unknown:
        raise InputError(f"{path}: the Delta table uses reader features {', '.join(unknown)}, which its "
                         "Parquet files alone cannot express; read it with Spark's Delta source and "
                         "write a plain copy (or a table without them)")
    mode = (table.metadata().configuration or {}).get("delta.columnMapping.mode", "none")
    if mode not in (None, "none"):
        raise InputError(f"{path}: the Delta table maps its column names (delta.columnMapping.mode = {mode}), "
                         "which its Parquet files alone cannot express; read it with Spark's Delta source "
                         "and write a plain copy")
    if "deletionVectors" in features and _has_deletion_vectors(table):
        raise InputError(f"{path}: the Delta table has deletion vectors (rows deleted without rewriting "
                         "their files), which its Parquet files alone cannot express; run OPTIMIZE / "
                         "REORG TABLE ... APPLY (PURGE) on it, or read it with Spark's Delta source")


def _has_deletion_vectors(table: Any) -> bool:
    """Whether a live file has a deletion vector (one that cannot even be loaded counts)."""
    try:
        reader = table.deletion_vectors()
        return any(batch.num_rows for batch in reader)
    except Exception:  # the vector's file is missing or unreadable: the rows it deletes are unknown
        return True


def _require_partition_paths(path: Path, files: tuple[str, ...], partitions: tuple[str, ...]) -> None:
    """Partition values are not in a Delta table's Parquet files: the engines read them from the
    ``col=value/`` folders, which Delta writers usually (not always) name."""
    for file in files:
        folders = file.replace("\\", "/").split("/")[:-1]
        named = {part.split("=", 1)[0] for part in folders if "=" in part}
        missing = [col for col in partitions if col not in named]
        if missing:
            raise InputError(f"{path}: the Delta table is partitioned by {', '.join(partitions)} and its file "
                             f"{file} does not name {missing[0]}=... in its path; read it with Spark's Delta "
                             "source and write a plain copy")

"""Delta tables: a folder with ``_delta_log/`` resolved to its live Parquet files.

A Delta folder holds every file any version wrote; only the latest version's log says which
are live (an overwrite or a compaction leaves the superseded ones in place until a vacuum),
and ``_delta_log/`` may hold checkpoints that are Parquet too. Read as plain Parquet, such a
folder counts superseded rows and log records as data. The log is read with ``deltalake``
(delta-rs, no JVM), on a local disk or object storage (``s3://``, ``gs://``, ``abfss://``); the
engine reads the live files. Features that change what a file's rows
mean (deletion vectors, column mapping, ...) cannot be read that way: those tables are refused.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from mlstrat._exceptions import InputError
from mlstrat.tables._engine import first_line
from mlstrat.tables._files import LiveFiles

__all__ = ["DeltaFiles", "OBJECT_STORE_SCHEMES", "STORAGE_LIMITS", "delta_files", "is_delta_table",
           "remote_delta_files", "storage_fix", "storage_summary"]

#: reader features whose tables read right as their live Parquet files (deletion vectors are
#: allowed as a feature, and refused when a file has one)
_PLAIN_READER_FEATURES = frozenset({"deletionVectors", "timestampNtz", "v2Checkpoint", "vacuumProtocolCheck",
                                    "variantType", "variantType-preview", "columnMapping"})


#: the live files of a Delta table (its version is the log's)
DeltaFiles = LiveFiles


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
    return _live_files(str(path), table)


def remote_delta_files(uri: str) -> DeltaFiles | None:
    """The live files of the Delta table at the object-store folder ``uri``; ``None`` when no Delta
    log is there (a folder of plain Parquet) or ``deltalake`` is not installed.

    delta-rs reads the storage with the credentials of the usual environment variables
    (``AWS_*``, ``GOOGLE_APPLICATION_CREDENTIALS``, ``AZURE_STORAGE_*``), under
    :data:`STORAGE_LIMITS`: an unreachable endpoint is an error in seconds, not a wait.

    Raises
    ------
    InputError
        The storage cannot be reached (no credentials, an unreachable endpoint, a refused
        request), the log cannot be read, or the table cannot be read as plain Parquet files.
    """
    try:
        from deltalake import DeltaTable
        from deltalake.exceptions import TableNotFoundError
    except ImportError:
        return None
    try:
        table = DeltaTable(uri, storage_options=dict(STORAGE_LIMITS))
    except TableNotFoundError:
        return None
    except Exception as exc:  # delta-rs's storage errors are OSErrors of many lines
        raise InputError(f"{uri}: the storage cannot be read by deltalake ({storage_summary(exc)}); "
                         f"{storage_fix(uri)}") from None
    return _live_files(uri, table)


#: object-store schemes delta-rs reads (hdfs:// needs a delta-rs build with HDFS support)
OBJECT_STORE_SCHEMES = frozenset({"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss"})
#: delta-rs's storage client: a request ends within ``timeout``, a connection attempt within
#: ``connect_timeout``, and retries give up after ``retry_timeout`` (delta-rs's defaults retry
#: ten times for three minutes)
STORAGE_LIMITS = (("timeout", "60s"), ("connect_timeout", "10s"), ("max_retries", "2"),
                  ("retry_timeout", "30s"))
_FIXES = {
    "s3": "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE), AWS_REGION, and "
          "AWS_ENDPOINT_URL for a storage other than AWS; check that the bucket and the endpoint are reachable",
    "gs": "set GOOGLE_APPLICATION_CREDENTIALS to a service-account key file; check that the bucket exists",
    "az": "set AZURE_STORAGE_ACCOUNT_NAME with AZURE_STORAGE_ACCOUNT_KEY (or AZURE_STORAGE_SAS_KEY, or "
          "AZURE_CLIENT_ID, AZURE_CLIENT_SECRET and AZURE_TENANT_ID); check that the container exists",
}
_FAMILY = {"s3": "s3", "s3a": "s3", "gs": "gs", "gcs": "gs", "az": "az", "abfs": "az", "abfss": "az"}


def storage_fix(uri: str) -> str:
    """What to set for delta-rs to reach ``uri``'s storage (by its scheme)."""
    return _FIXES.get(_FAMILY.get(uri.split("://", 1)[0].lower(), ""), "check the path and the storage credentials")


def storage_summary(exc: BaseException) -> str:
    """delta-rs's error chain (one cause a line, colored arrows) as one line: its first and last causes."""
    plain = re.sub(r"\x1b\[[0-9;]*m", "", str(exc))
    causes = [line.strip().lstrip("↳").strip() for line in plain.splitlines()]
    causes = [cause for cause in causes if cause]
    if not causes:
        return type(exc).__name__
    if len(causes) == 1:
        return causes[0]
    url = re.search(r"https?://\S+", plain)  # the endpoint asked, when the chain names it
    return f"{causes[0]}: {causes[-1]}" + (f" at {url.group(0)}" if url else "")


def _live_files(location: str, table: Any) -> DeltaFiles:
    _require_plain_parquet(location, table)
    files = tuple(table.file_uris())
    partitions = tuple(table.metadata().partition_columns)
    if not files:
        raise InputError(f"{location}: the Delta table holds no data files at version {table.version()}; "
                         "nothing to read")
    if partitions:
        _require_partition_paths(location, files, partitions)
    return DeltaFiles(root=location, files=files, version=table.version(), partition_columns=partitions)


def _require_plain_parquet(path: str, table: Any) -> None:
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


def _require_partition_paths(path: str, files: tuple[str, ...], partitions: tuple[str, ...]) -> None:
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

"""Iceberg tables: a table folder (``metadata/*.metadata.json``) or a pyiceberg catalog's table,
resolved to the live Parquet files of its current snapshot.

An Iceberg table's ``data/`` folder holds every file any snapshot wrote; only the current
snapshot's manifests say which are live (an overwrite leaves the superseded files until the
snapshots that name them expire). Read as plain Parquet, the folder counts superseded rows,
and ``metadata/`` holds Avro manifests besides. The metadata is read with ``pyiceberg`` (no
JVM); the engine reads the live files, matching columns by name. What plain files cannot
express is refused: delete files (position or equality deletes, deletion vectors), data files
that are not Parquet, renamed or re-added columns (files keep the name they were written with).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from mlstrat._exceptions import InputError
from mlstrat.tables._engine import first_line
from mlstrat.tables._files import LiveFiles

__all__ = ["CATALOG_VARIABLE", "catalog_from_environment", "catalog_iceberg_files", "iceberg_files", "iceberg_table_name",
           "is_iceberg_table", "is_pyiceberg_table", "newest_metadata", "pyiceberg_table_files"]

#: the environment variable naming the pyiceberg catalog that table names are looked up in
CATALOG_VARIABLE = "MLSTRAT_ICEBERG_CATALOG"
_INSTALL = "pip install 'mlstrat[iceberg]'"
#: a metadata file's version: ``v3.metadata.json`` (Hadoop tables), ``00003-<uuid>.metadata.json``
_VERSION = re.compile(r"^v?(\d+)[-.]")


def is_iceberg_table(path: Path) -> bool:
    """Whether the local folder ``path`` is an Iceberg table (``metadata/`` holds a ``*.metadata.json``)."""
    folder = path / "metadata"
    return folder.is_dir() and any(folder.glob("*.metadata.json"))


def iceberg_files(path: Path) -> LiveFiles:
    """The live Parquet files of the Iceberg table in the folder ``path``, at its newest metadata file.

    Raises
    ------
    InputError
        ``pyiceberg`` is not installed; no metadata file names its version; the metadata cannot
        be read; the table cannot be read as plain Parquet files (see the module's docstring).
    """
    _require_pyiceberg(f"{path}: is an Iceberg table (it holds metadata/*.metadata.json)")
    from pyiceberg.table import StaticTable

    metadata = newest_metadata(path)
    try:
        table = StaticTable.from_metadata(metadata.absolute().as_uri())
    except Exception as exc:  # pyiceberg raises its own and pydantic's classes for a bad file
        raise InputError(f"{path}: the Iceberg metadata {metadata.name} cannot be read ({first_line(exc)}); "
                         "check the table") from None
    return pyiceberg_table_files(table, name=str(path), root=str(path))


def newest_metadata(path: Path) -> Path:
    """The current metadata file: the one ``metadata/version-hint.text`` names, else the highest version."""
    folder = path / "metadata"
    hint = folder / "version-hint.text"
    if hint.is_file():
        version = hint.read_text(encoding="utf-8", errors="replace").strip()
        for name in (f"v{version}.metadata.json", f"v{version}.gz.metadata.json", version):
            if version and (folder / name).is_file():
                return folder / name
    versions = {}
    for file in folder.glob("*.metadata.json"):
        match = _VERSION.match(file.name)
        if match:
            versions[file] = int(match.group(1))
    if not versions:
        raise InputError(f"{path}: no metadata file in {folder} names its version (vN.metadata.json or "
                         "NNNNN-<uuid>.metadata.json); give the table's catalog name instead")
    return max(versions, key=lambda file: (versions[file], file.name))


def catalog_iceberg_files(name: str, catalog: str) -> LiveFiles:
    """The live files of table ``name`` (``db.table``; ``catalog.db.table`` naming ``catalog``)
    in the pyiceberg catalog ``catalog`` (configured in ``~/.pyiceberg.yaml`` or ``PYICEBERG_CATALOG__*``)."""
    _require_pyiceberg(f"{name}: {CATALOG_VARIABLE}={catalog} names a pyiceberg catalog")
    from pyiceberg.catalog import load_catalog
    from pyiceberg.utils.config import Config

    identifier = name.split(".", 1)[1] if name.count(".") == 2 and name.split(".", 1)[0] == catalog else name
    try:
        # the configuration read now (pyiceberg reads it once, when first imported): variables set
        # later in the process (a notebook, a test) count
        settings = Config().get_catalog_config(catalog) or {}
        table = load_catalog(catalog, **settings).load_table(identifier)
    except Exception as exc:  # NoSuchTableError, NoSuchNamespaceError, a catalog that cannot be reached
        kind = type(exc).__name__
        if kind in ("NoSuchTableError", "NoSuchNamespaceError", "NoSuchIdentifierError"):
            raise InputError(f"{name}: no such file, and no such table in the Iceberg catalog {catalog} "
                             f"({CATALOG_VARIABLE}); check the path or the table name (db.table)") from None
        raise InputError(f"{name}: the Iceberg catalog {catalog} ({CATALOG_VARIABLE}) cannot load this table "
                         f"({first_line(exc)}); check the catalog's settings (~/.pyiceberg.yaml or "
                         f"PYICEBERG_CATALOG__{catalog.upper()}__*)") from None
    return pyiceberg_table_files(table, name=name)


def is_pyiceberg_table(obj: Any) -> bool:
    """A pyiceberg ``Table`` (or ``StaticTable``), told without importing pyiceberg."""
    return type(obj).__module__.startswith("pyiceberg.table") and hasattr(obj, "scan") and hasattr(obj, "metadata")


def iceberg_table_name(table: Any) -> str:
    """A pyiceberg table's name for messages: its identifier, else its location."""
    identifier = table.name() if callable(getattr(table, "name", None)) else ()
    return ".".join(identifier) if identifier else str(table.metadata.location)


def pyiceberg_table_files(table: Any, *, name: str, root: str | None = None) -> LiveFiles:
    """The live Parquet files of a pyiceberg table's current snapshot; ``name`` names it in messages."""
    _require_stable_columns(table, name)
    snapshot = table.current_snapshot()
    if snapshot is None:
        raise InputError(f"{name}: the Iceberg table has no snapshot (no data was ever written); nothing to read")
    try:
        tasks = list(table.scan().plan_files())
    except ValueError as exc:  # pyiceberg plans no table with equality deletes
        if "equality delete" in str(exc).lower():
            raise _deletes_error(name, "equality deletes") from None
        raise InputError(f"{name}: the Iceberg table's manifests cannot be read ({first_line(exc)})") from None
    except Exception as exc:  # a manifest that is missing or unreadable
        raise InputError(f"{name}: the Iceberg table's manifests cannot be read ({first_line(exc)})") from None
    if any(task.delete_files for task in tasks):
        raise _deletes_error(name, "position deletes")
    formats = sorted({str(task.file.file_format.name) for task in tasks} - {"PARQUET"})
    if formats:
        raise InputError(f"{name}: the Iceberg table has {', '.join(formats)} data files; mlstrat reads Parquet "
                         "data files only: rewrite the table as Parquet (write.format.default=parquet)")
    if not tasks:
        raise InputError(f"{name}: the Iceberg table holds no data files at snapshot {snapshot.snapshot_id}; "
                         "nothing to read")
    location = root if root is not None else table.metadata.location
    return LiveFiles(root=location, files=tuple(task.file.file_path for task in tasks),
                     version=snapshot.snapshot_id)


def _deletes_error(name: str, kind: str) -> InputError:
    return InputError(f"{name}: the Iceberg table has delete files ({kind}: rows deleted without rewriting "
                      "their data files), which its Parquet files alone cannot express; compact it "
                      "(Spark's rewrite_data_files with delete-file-threshold=1) or read it with Spark's "
                      "Iceberg source")


def _require_stable_columns(table: Any, name: str) -> None:
    """Each of the current schema's columns must have had one name and one field id in every
    schema the table had: the files keep the name they were written with, and the engine
    matches columns by name (a renamed column would read as nulls, a re-added one as the old
    column's values)."""
    current = {field.field_id: field.name for field in table.schema().fields}
    for schema in table.schemas().values():
        for field in schema.fields:
            now = current.get(field.field_id)
            if now is not None and now != field.name:
                raise _columns_error(name, f"column {now!r} was called {field.name!r}")
            if now is None and field.name in current.values():
                raise _columns_error(name, f"column {field.name!r} was dropped and added again")


def _columns_error(name: str, what: str) -> InputError:
    return InputError(f"{name}: the Iceberg table's {what}, and its older Parquet files keep the old column; "
                      "read it with Spark's Iceberg source (or pyiceberg) and write a plain copy")


def _require_pyiceberg(what: str) -> None:
    """One line saying how to install pyiceberg when it is missing."""
    try:
        import pyiceberg  # noqa: F401
    except ImportError:
        raise InputError(f"{what} and reading one needs the pyiceberg package; {_INSTALL}") from None


def catalog_from_environment() -> str | None:
    """The pyiceberg catalog named by ``MLSTRAT_ICEBERG_CATALOG``, when set."""
    value = os.environ.get(CATALOG_VARIABLE, "").strip()
    return value or None

"""File and in-memory readers, atomic writers, fingerprints."""

from __future__ import annotations

import hashlib
import os
import re
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from mlstrat._exceptions import InputError, MlstratError
from mlstrat._numbers import did_you_mean
from mlstrat.tables._columns import ColumnSelection
from mlstrat.tables._spark_connect import wire_failure
from mlstrat.tables._connect import engine_of
from mlstrat.tables._delta import OBJECT_STORE_SCHEMES, delta_files, is_delta_table, remote_delta_files
from mlstrat.tables._engine import first_line, is_uri
from mlstrat.tables._iceberg import (
    catalog_from_environment,
    catalog_iceberg_files,
    iceberg_files,
    iceberg_table_name,
    is_iceberg_table,
    is_pyiceberg_table,
    pyiceberg_table_files,
)
from mlstrat.tables._files import HEADERS as _HEADERS
from mlstrat.tables._files import COMPRESSIONS, READERS, LiveFiles, part_files
from mlstrat.tables._files import format_of as _format_of
from mlstrat.tables._files import refuse_utf16
from mlstrat.tables._headers import duplicate_column_error, refuse_duplicate_columns
from mlstrat.tables._output_checks import (
    check_file_output,
    check_output_path,
    check_table_output,
    protected_kind,
)
from mlstrat.tables._outputs import (
    atomic_write_bytes,
    atomic_write_text,
    publish,
    remove_path,
    reporting_full_disk,
    temp_path,
)
from mlstrat.tables._spark_engine import storage_error

__all__ = [
    "READERS", "read_table", "write_table", "require_columns", "check_output_path", "check_table_output",
    "check_file_output",
    "atomic_write_text", "atomic_write_bytes", "fingerprint", "describe_source", "protected_kind",
    "part_files", "describe_output", "source_columns",
]

_WRITERS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".jsonl": "json", ".ndjson": "json"}


#: tables built from a file (a mapped predictions table) -> that file, for messages about them
_SOURCE_NAMES: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()


def name_table(table: Any, source: Any) -> Any:
    """``table``, which :func:`describe_source` names by ``source`` (the file it was built from)
    rather than by its type; returned for chaining."""
    _SOURCE_NAMES[table] = describe_source(source)
    return table


def describe_source(source: Any) -> str:
    """A short name for error messages: the path for files (or for a table built from one by
    :func:`name_table`), the type for other objects."""
    if isinstance(source, (str, os.PathLike)):
        return str(source)
    try:
        named = _SOURCE_NAMES.get(source)
    except TypeError:  # unhashable (a pandas DataFrame) or not weakly referenceable: never named
        named = None
    return named if named is not None else f"<{type(source).__module__.split('.')[0]}.{type(source).__name__}>"


def _to_arrow(obj: Any) -> Any:
    import pyarrow as pa

    if isinstance(obj, pa.Table):
        return obj
    if isinstance(obj, pa.RecordBatch):
        return pa.Table.from_batches([obj])
    module = type(obj).__module__.split(".")[0]
    if module == "pandas":
        return pa.Table.from_pandas(obj, preserve_index=False)
    if module == "polars":
        return obj.to_arrow()
    if isinstance(obj, dict):
        import numpy as np

        try:
            return pa.table({str(k): np.asarray(v) for k, v in obj.items()})
        except (pa.ArrowInvalid, ValueError) as exc:
            raise InputError(f"dict of columns: {exc}") from None
    raise InputError(
        f"cannot read a {type(obj).__name__}; give a file path (CSV, Parquet, JSONL, Arrow), "
        "a pandas or polars DataFrame, a pyarrow Table or a dict of arrays"
    )


def read_table(source: Any, *, con: Any = None, name: str | None = None,
               text_columns: Sequence[str | None] = (), columns: ColumnSelection | None = None) -> Any:
    """Open ``source`` as an Ibis table on the engine.

    Parameters
    ----------
    source : path-like, URI, pandas.DataFrame, polars.DataFrame, pyarrow.Table, dict or ibis.Table
        A file (``.csv``, ``.tsv``, ``.parquet``, ``.jsonl``/``.ndjson``/``.json``,
        ``.arrow``/``.feather``; ``.gz``/``.zst`` compressed text too), a directory of part
        files (as Spark writes them), a Delta table (a folder with ``_delta_log/``, local or on
        object storage: its latest version's live files, resolved with ``deltalake``), a local
        Iceberg table (a folder with ``metadata/*.metadata.json``: its current snapshot's live
        files, resolved with ``pyiceberg``), a URI the engine reads (``s3://``, ``hdfs://``,
        ``file://``; a URI without a known suffix is read as Parquet), a table of the pyiceberg
        catalog ``MLSTRAT_ICEBERG_CATALOG`` names (``db.preds``), a table of the Spark catalog
        (``spark_catalog.db.preds``: a name that is no file, on a Spark engine), a pyiceberg
        ``Table``, a pyspark DataFrame (classic or Connect; read by its own session when
        ``con`` is ``None``, through this process by another engine) or an in-memory table.
    con : ibis backend or SparkSession, default=None
        The engine (see :func:`mlstrat.connect`); the process-wide one by default.
    name : str, default=None
        Name of the view to create; a unique one by default.
    text_columns : sequence of str, default=()
        Columns to read as text from CSV files, when present: keys such as ids keep their
        exact spelling (``"007"`` stays ``"007"``, not the integer 7). Other formats carry
        their own types.
    columns : ColumnSelection, default=None
        The columns the caller uses (see :func:`mlstrat.tables.select_columns`); the table
        holds only those present, in the source's order. A wide CSV is then read for those
        columns only, so its other columns cost only their bytes. ``None``: every column.
        :func:`source_columns` gives every column of the source, for messages.

    Raises
    ------
    InputError
        When the file (or catalog table) is missing, of an unknown type, or cannot be parsed;
        a header (schema, first JSON object) that names a column twice, as the engine compares
        names (DuckDB would rename the copy ``y_pred_1``);
        a Delta table with deletion vectors or column mapping; an Iceberg table with delete
        files, non-Parquet data files or renamed columns; object storage delta-rs cannot read;
        a Spark catalog table on DuckDB.
    """
    if _is_expr(source):
        return source  # already an Ibis expression
    table = _read_source(source, con=con, view=name or f"mlstrat_t{next(_COUNTER)}",
                         text=[c for c in text_columns if c], columns=columns)
    if columns is None:
        return table
    every = _HEADERS.pop(table.get_name(), None) or tuple(table.columns)
    wanted = columns.of(table.columns)
    if wanted == list(table.columns) and every == tuple(table.columns):
        return table
    selected = table.select(wanted) if wanted else table
    _EVERY_COLUMN[selected.op()] = every
    return selected


def source_columns(table: Any) -> list[str]:
    """Every column of the source ``table`` was read from (also those a selection left out)."""
    every = _EVERY_COLUMN.get(table.op()) if _is_expr(table) else None
    if every is not None:
        return list(every)
    return list(table.column_names if hasattr(table, "column_names") else table.columns)


# a selected table (its Ibis node) -> every column of its source, for "available columns: ..."
_EVERY_COLUMN: dict[Any, tuple[str, ...]] = {}


def _read_source(source: Any, *, con: Any, view: str, text: list[str],
                 columns: ColumnSelection | None) -> Any:
    if _is_spark_frame(source):  # read by its own session unless an engine is named
        return _read_spark_frame(source, engine_of(source.sparkSession if con is None else con), view)
    engine = engine_of(con)
    if is_pyiceberg_table(source):
        name = iceberg_table_name(source)
        return _read_live(engine, "Iceberg", name, pyiceberg_table_files(source, name=name), view)
    if isinstance(source, (str, os.PathLike)) and is_uri(source) and not str(source).startswith("file://"):
        return _read_uri(engine, os.fspath(source), view, text, columns)
    if isinstance(source, (str, os.PathLike)):
        path = Path(str(source)[len("file://"):] if str(source).startswith("file://") else source)
        if not path.exists():
            if isinstance(source, str):
                return _read_named_table(engine, source, path, view)
            raise InputError(f"{path}: no such file; check the path")
        if path.is_dir():  # a Delta or Iceberg folder: never its files, superseded ones are there too
            for kind, is_table, live_files in _TABLE_FORMATS:
                if is_table(path):
                    native = _read_native(engine, kind, path, view)
                    return native if native is not None else _read_live(engine, kind, path, live_files(path), view)
            fmt = _directory_format(path)
            refuse_duplicate_columns(path, fmt, engine=engine.kind)
            return _wrap(path, fmt, lambda: engine.read(str(path), fmt, view=view, text_columns=text,
                                                        columns=columns))
        fmt = _format_of(path)
        if path.stat().st_size == 0:
            raise InputError(f"{path}: the file is empty; expected a {fmt.upper()} table with a header/schema")
        refuse_utf16(path, fmt)
        refuse_duplicate_columns(path, fmt, engine=engine.kind)
        return _wrap(path, fmt, lambda: _read_file(engine, str(path), fmt, view, text, columns))
    return engine.register(_to_arrow(source), view=view)


#: table formats whose folder holds more than the live files: (name, is it one, its live files)
_TABLE_FORMATS = (("Delta", is_delta_table, delta_files), ("Iceberg", is_iceberg_table, iceberg_files))


def _read_native(engine: Any, kind: str, path: Path, view: str) -> Any | None:
    """A Delta or Iceberg folder through the cluster's own data source, when the engine has one."""
    read_format = getattr(engine, "read_format", None)  # Spark only: DuckDB's would be a download
    if read_format is None:
        return None
    return _wrap(path, kind, lambda: read_format(kind.lower(), str(path), view=view))


def _read_live(engine: Any, kind: str, name: Any, live: LiveFiles, view: str) -> Any:
    return _wrap(name, kind, lambda: engine.read_files(live.files, root=live.root, view=view,
                                                       partitioned=bool(live.partition_columns)))


def _read_uri(engine: Any, uri: str, view: str, text: list[str], columns: ColumnSelection | None) -> Any:
    """A URI: a folder on object storage is asked of delta-rs first (a Delta table is read as its
    live files), anything else goes to the engine as it is."""
    known = os.path.splitext(uri.rstrip("/").lower())[1] in (*READERS, *COMPRESSIONS)
    if not known and uri.split("://", 1)[0].lower() in OBJECT_STORE_SCHEMES:
        live = remote_delta_files(uri)
        if live is not None:
            return _read_live(engine, "Delta", uri, live, view)
    fmt = _format_of(Path(uri), default="parquet")
    return _wrap(uri, fmt, lambda: _read_file(engine, uri, fmt, view, text, columns))


def _read_named_table(engine: Any, name: str, path: Path, view: str) -> Any:
    """A name that is no file: a table of the pyiceberg catalog ``MLSTRAT_ICEBERG_CATALOG`` names,
    else of the Spark session's catalog."""
    catalog = catalog_from_environment()
    if catalog is not None and _is_table_name(name, catalogs=False):
        return _read_live(engine, "Iceberg", name, catalog_iceberg_files(name, catalog), view)
    if _is_table_name(name, catalogs=engine.kind == "spark"):
        return _wrap(name, "table", lambda: engine.read_catalog(name, view=view))
    raise InputError(f"{path}: no such file; check the path")


#: a catalog table's name: one to three dot-separated identifiers, each plain or in backquotes
_TABLE_NAME = re.compile(r"(?:[A-Za-z_]\w*|`[^`]+`)(?:\.(?:[A-Za-z_]\w*|`[^`]+`)){0,2}")


def _is_table_name(text: str, *, catalogs: bool) -> bool:
    """Whether ``text`` (not an existing file) names a catalog table (``spark_catalog.db.preds``):
    no path separator, no file suffix. On an engine without catalogs only a qualified name
    (``db.preds``) counts, so that a mistyped bare file name stays "no such file"."""
    if not _TABLE_NAME.fullmatch(text) or os.path.splitext(text.lower())[1] in (*READERS, *COMPRESSIONS):
        return False
    return catalogs or "." in text


def _is_spark_frame(obj: Any) -> bool:
    """A pyspark DataFrame, classic or Connect (pyspark is not imported to tell)."""
    return type(obj).__module__.startswith("pyspark.sql") and hasattr(obj, "createOrReplaceTempView")


def _read_spark_frame(frame: Any, engine: Any, view: str) -> Any:
    if engine.kind == "spark" and engine.session is frame.sparkSession:
        frame.createOrReplaceTempView(view)  # the rows stay on the executors
        return engine.backend.table(view)
    # another engine (DuckDB, another session): the rows travel through this process
    return engine.register(frame.toArrow(), view=view)


def _read_file(engine: Any, path: str, fmt: str, view: str, text: list[str],
               columns: ColumnSelection | None) -> Any:
    if fmt == "arrow":  # Arrow IPC is read on this machine, then handed to the engine
        return engine.register(_read_arrow_file(path), view=view)
    return engine.read(path, fmt, view=view, text_columns=text, columns=columns)


def _directory_format(path: Path) -> str:
    for fmt in ("parquet", "csv", "json"):
        if part_files(path, fmt):
            return fmt
    raise InputError(f"{path}: is a directory without Parquet, CSV or JSON part files; give a file")


def _read_arrow_file(path: str) -> Any:
    import pyarrow as pa
    import pyarrow.feather as feather

    try:
        return feather.read_table(path, memory_map=True)
    except (pa.ArrowInvalid, OSError):
        with pa.memory_map(path) as source:
            return pa.ipc.open_stream(source).read_all()


def _wrap(path: Any, fmt: str, read: Callable[[], Any]) -> Any:
    try:
        table = read()
        if table is None:  # no reader for it here (a cluster without its own Delta source)
            return None
        table.schema()  # bind now so that parse errors surface here
    except InputError:
        raise
    except Exception as exc:  # the engine's errors come in many classes
        if (remote := wire_failure(exc)) is not None:  # a Spark Connect server that died is no bad file
            raise remote from None
        if (duplicate := duplicate_column_error(path, exc)) is not None:  # a URI: not checked before
            raise duplicate from None
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"{path}: cannot be read as {fmt.upper()} ({first}); check that the file is a valid {fmt.upper()} table") from None
    if len(table.columns) == 0:
        raise InputError(f"{path}: no columns found; expected a table with a header")
    damaged = next((c for c in table.columns if "\x00" in c), None)
    if damaged is not None:  # Arrow cuts a name at its NUL byte: fetching the column would fail
        raise InputError(f"{path}: column name {damaged!r} holds a NUL byte; the file is binary or damaged, "
                         "not a text table: check the file, or rename the column")
    return table


def _counter() -> Iterable[int]:
    i = 0
    while True:
        i += 1
        yield i


_COUNTER = iter(_counter())


def require_columns(table: Any, columns: Iterable[str | None], *, source: Any, role: str = "column",
                    arguments: Mapping[str, str] | None = None) -> None:
    """Raise :class:`InputError` naming the first missing column and the available ones.

    ``arguments``: column -> the caller's keyword argument that names it (``{"split": "split_col"}``),
    kept on the error as ``column_argument`` so an interface can say which of its options names it.
    """
    available = source_columns(table)
    wanted = [c for c in columns if c is not None]
    # a column that is itself required is no candidate ("missing y_pred, did you mean y_true?")
    candidates = [c for c in available if c not in wanted]
    for col in wanted:
        if col not in available:
            shown = ", ".join(available[:20]) + (", ..." if len(available) > 20 else "")
            raise InputError(
                f"{describe_source(source)}: missing {role} {col!r}{did_you_mean(col, candidates)}; "
                f"available columns: {shown}", column_argument=(arguments or {}).get(col)
            )


def write_table(data: Any, path: str | os.PathLike, *, con: Any = None, force: bool = False,
                inputs: Sequence[Any] = (), keep_order: bool = True) -> Path:
    """Write an Ibis expression or in-memory table to Parquet/CSV/JSONL, atomically.

    The engine writes: DuckDB streams one file through ``COPY`` (never materialized in
    Python; temp file + rename); Spark writes a directory of part files at ``path`` (see
    :func:`describe_output`). ``keep_order=False`` lets the writer work in parallel when the
    row order carries no meaning.
    """
    remote = is_uri(path) and not str(path).startswith("file://")
    final = check_table_output(path, inputs=inputs, force=force, con=con)
    suffix = os.path.splitext(str(path).rstrip("/"))[1].lower()
    fmt = _WRITERS.get(suffix)
    if fmt is None:
        raise InputError(f"{path}: tables are written as {', '.join(sorted(_WRITERS))}")
    engine = engine_of(con)
    expr = data if _is_expr(data) else read_table(data, con=engine)
    if remote:
        return Path(_write_remote(engine, expr, os.fspath(path), fmt, force=force, keep_order=keep_order))
    folder = engine.kind == "spark"  # Spark writes a folder of part files
    with reporting_full_disk(final):
        tmp = temp_path(final, suffix="" if folder else None)
        try:
            # the engine gets an absolute name we chose; the user's spelling is only ever renamed to
            engine.write(expr, str(tmp.absolute()), fmt, force=True, keep_order=keep_order)
            _check_written(tmp, final, folder=folder)
            publish(tmp, final)
        finally:
            remove_path(tmp)
    return final


def _write_remote(engine: Any, expr: Any, path: str, fmt: str, *, force: bool, keep_order: bool) -> str:
    """The engine writes straight to the URI (no rename on object stores); its storage errors
    become one line naming ``path``."""
    try:
        return engine.write(expr, path, fmt, force=force, keep_order=keep_order).path
    except MlstratError:
        raise
    except Exception as exc:  # JVM, Connect, object store and DuckDB errors come in many classes
        if "PATH_ALREADY_EXISTS" in str(exc):  # written by someone else since the check
            raise InputError(f"{path}: already exists; pass --force (force=True) to overwrite it") from None
        if engine.kind == "spark":
            raise storage_error(path, exc, doing="cannot be written") from None
        raise InputError(f"{path}: cannot be written ({first_line(exc)}); check the path and the "
                         "storage credentials") from None


def _check_written(tmp: Path, final: Path, *, folder: bool) -> None:
    if folder and not tmp.is_dir():  # a Spark Connect server on another machine wrote it there
        raise InputError(f"{final}: the Spark server wrote this output on its own filesystem, "
                         "which this machine does not see; give a path both see (a shared "
                         "mount) or a URI (s3a://, hdfs://, abfss://)")
    if not tmp.exists():
        raise InputError(f"{final}: the engine wrote no file at {tmp}; choose another -o path")


def describe_output(path: str | os.PathLike) -> str:
    """The output line's path: says when the engine wrote a directory of part files."""
    text = os.fspath(path)
    if os.path.isdir(text):
        fmt = _directory_format(Path(text))
        label = {"parquet": "Parquet", "csv": "CSV", "json": "JSON"}[fmt]
        return f"{text} (a {label} directory written by Spark)"
    if is_uri(text) and not text.startswith("file://"):
        return f"{text} (a directory written by Spark)"
    return text


def _is_expr(obj: Any) -> bool:
    return callable(getattr(obj, "op", None)) and hasattr(obj, "schema")


def fingerprint(path: str | os.PathLike) -> str | None:
    """``"sha256:<hex>"`` of the file's bytes (streams in 1 MiB chunks).

    A directory of part files hashes each file's relative name and bytes in name order;
    a remote URI has no fingerprint here (``None``).
    """
    if is_uri(path) and not str(path).startswith("file://"):
        return None
    root = Path(str(path)[len("file://"):] if str(path).startswith("file://") else path)
    digest = hashlib.sha256()
    files = [p for p in sorted(root.rglob("*")) if p.is_file()] if root.is_dir() else [root]
    for file in files:
        if root.is_dir():
            digest.update(file.relative_to(root).as_posix().encode() + b"\0")
        with open(file, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    return f"sha256:{digest.hexdigest()}"

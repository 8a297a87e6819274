"""The engine layer: one small surface over Ibis, with a DuckDB and a Spark implementation.

Capabilities build Ibis expressions and hand them to an :class:`Engine` to run a query
(:meth:`Engine.rows`, :meth:`Engine.to_arrow`), read and write files, materialize an
intermediate result, stream record batches and hash keys. They never import DuckDB or
PySpark: the engine is chosen once (``--engine``, ``MLSTRAT_ENGINE``, ``con=``) and stays
invisible. PySpark is imported only when Spark is asked for, so ``import mlstrat`` and the
CLI start-up never load it.
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from mlstrat._exceptions import ConfigError
from mlstrat.tables._columns import ColumnSelection, plain_csv_header
from mlstrat.tables._files import HEADERS as _HEADERS
from mlstrat.tables._files import part_files
from mlstrat.tables._files import pid_alive as _pid_alive

__all__ = [
    "ENGINES", "Engine", "DuckDBEngine", "SparkEngine", "Written", "connect", "default_connection",
    "engine_of", "use_engine", "is_uri", "unit_hash", "hash64_halves", "spill_directory",
]

#: Engine names accepted by ``--engine`` besides a Spark Connect address ``sc://HOST:PORT``.
ENGINES = ("duckdb", "spark")

_DEFAULT: Any = None
_NAMES = itertools.count(1)
_SPARK_BACKENDS: dict[int, Any] = {}  # id(SparkSession) -> its Ibis backend (one per session)
_CONNECT_SESSIONS: dict[str, Any] = {}  # sc://... -> its Spark Connect session
#: seconds a Spark Connect server has to accept the connection before --engine sc://... fails
CONNECT_TIMEOUT = 10.0
# DuckDB's own grammar for sizes ("2GB", "512 MiB", "80%"); checked before the engine sees it so a
# bad value is one clear line, and settings travel through the engine's config API, never SQL text
_MEMORY = re.compile(r"^\s*\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB|%)?\s*$", re.IGNORECASE)
_MAX_THREADS = 4096
#: longest CSV line read (DuckDB's default is 2 MB): long documents in a text column stay readable
MAX_CSV_LINE = 256 << 20


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


def _engine_kind(spec: str) -> str:
    """``"duckdb"``, ``"spark"`` or ``"connect"`` for an ``--engine`` value; ConfigError otherwise."""
    text = str(spec).strip()
    if text.lower() in ENGINES:
        return text.lower()
    if text.startswith("sc://") and len(text) > len("sc://"):
        return "connect"
    raise ConfigError(f"engine: unknown engine {spec!r}; use duckdb, spark or a Spark Connect "
                      "address sc://HOST:PORT (--engine or MLSTRAT_ENGINE)")


def connect(engine: str | None = None, *, memory_limit: str | None = None, threads: int | None = None,
            temp_directory: str | None = None) -> Any:
    """Open an engine and return its Ibis backend (what every ``con=`` argument accepts).

    Parameters
    ----------
    engine : str, default=None
        ``"duckdb"`` (embedded, the default), ``"spark"`` (starts or reuses a SparkSession
        whose master comes from the usual Spark configuration: ``spark.master``,
        ``SPARK_REMOTE``, ``spark-submit``) or ``"sc://HOST:PORT"`` (Spark Connect).
        Defaults to the ``MLSTRAT_ENGINE`` environment variable, else DuckDB.
    memory_limit : str, default=None
        DuckDB only: memory limit such as ``"2GB"``; beyond it DuckDB spills to
        ``temp_directory``. Defaults to ``MLSTRAT_MEMORY_LIMIT``, else DuckDB's default.
    threads : int, default=None
        DuckDB only: worker threads; defaults to DuckDB's choice (all cores).
    temp_directory : str, default=None
        DuckDB only: where it spills; defaults to a per-process folder under the system
        temporary directory (see :func:`spill_directory`).

    Raises
    ------
    ConfigError
        An unknown engine, a memory limit that is not a size (``"2GB"``, ``"512MiB"``,
        ``"80%"``) or a thread count outside 1..4096.

    Examples
    --------
    >>> con = mlstrat.connect("spark")            # doctest: +SKIP
    >>> mlstrat.diagnose("s3://lake/preds/", con=con)  # doctest: +SKIP
    """
    kind = _engine_kind(engine or os.environ.get("MLSTRAT_ENGINE") or "duckdb")
    if kind == "duckdb":
        return _connect_duckdb(memory_limit=memory_limit, threads=threads, temp_directory=temp_directory)
    if memory_limit or threads or temp_directory:
        raise ConfigError("memory_limit, threads and temp_directory (--memory-limit) apply to DuckDB; "
                          "size a Spark job with Spark's own configuration (spark.executor.memory, ...)")
    return _spark_backend(_spark_session(str(engine or os.environ["MLSTRAT_ENGINE"]).strip(), kind))


def _connect_duckdb(*, memory_limit: str | None, threads: int | None, temp_directory: str | None) -> Any:
    from mlstrat.tables._duckdb import duckdb_backend_class

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
        return duckdb_backend_class()().connect(**config)
    except Exception as exc:  # the engine refuses a setting: name it
        raise ConfigError(f"the engine refused its settings ({_first_line(exc)})") from None


def _spark_session(spec: str, kind: str) -> Any:
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise ConfigError("engine: Spark needs pyspark; install mlstrat[spark] "
                          "(pip install 'mlstrat[spark]')") from None
    if kind == "connect":
        return _connect_session(spec)
    # master, memory and the rest come from the user's Spark configuration (spark-submit,
    # spark-defaults.conf, SPARK_REMOTE); an active session (a notebook, a test) is reused
    # Spark's console progress bars would interleave with mlstrat's own on stderr
    return (SparkSession.builder.appName("mlstrat")
            .config("spark.ui.showConsoleProgress", "false").getOrCreate())


def _connect_session(address: str) -> Any:
    """A Spark Connect session on ``address`` (one per address in this process).

    The Connect builder is used directly: ``pyspark.sql.SparkSession.builder.remote`` refuses
    to start while a classic session runs in the process and, with ``getOrCreate``, returns
    the session of whichever address came first.
    """
    try:
        from pyspark.sql.connect.client import DefaultChannelBuilder
        from pyspark.sql.connect.session import SparkSession as ConnectSession
    except ImportError as exc:
        raise ConfigError(f"engine {address}: Spark Connect needs its client libraries ({exc}); "
                          "pip install 'mlstrat[spark]'") from None
    session = _CONNECT_SESSIONS.get(address)
    if session is not None and not session.is_stopped:
        return session
    try:
        channel = DefaultChannelBuilder(address)
    except Exception as exc:
        raise ConfigError(f"engine {address}: not a Spark Connect address ({_first_line(exc)}); "
                          "use sc://HOST:PORT") from None
    _require_server(address, channel)
    session = ConnectSession.builder.remote(address).create()
    _CONNECT_SESSIONS[address] = session
    return session


def _require_server(address: str, channel: Any) -> None:
    """Fail in seconds when nothing answers: the client would retry for minutes in silence."""
    import grpc

    timeout = CONNECT_TIMEOUT
    probe = channel.toChannel()
    try:
        grpc.channel_ready_future(probe).result(timeout=timeout)
    except grpc.FutureTimeoutError:
        raise ConfigError(f"engine {address}: no Spark Connect server answered at {channel.endpoint} "
                          f"within {timeout:g} s; start one (see docs/guide/scale.md) or check the "
                          "address") from None
    finally:
        probe.close()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _spark_backend(session: Any) -> Any:
    backend = _SPARK_BACKENDS.get(id(session))
    if backend is None or backend._session is not session:
        import ibis

        backend = ibis.pyspark.connect(session)
        _SPARK_BACKENDS[id(session)] = backend
    return backend


def default_connection() -> Any:
    """The process-wide backend used when a function is not given one (``MLSTRAT_ENGINE``)."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = connect()
    return _DEFAULT


def use_engine(engine: str | None) -> Any:
    """Make ``engine`` the process-wide default (the CLI's ``--engine``); ``None`` keeps it."""
    global _DEFAULT
    if engine is not None:
        _DEFAULT = connect(engine)
    return default_connection()


def _backend(con: Any) -> Any:
    """The Ibis backend behind ``con``: an Ibis backend, a SparkSession, an Engine or None."""
    if con is None:
        return default_connection()
    if isinstance(con, Engine):
        return con.backend
    if type(con).__module__.startswith("pyspark.sql"):  # a SparkSession (classic or Connect)
        return _spark_backend(con)
    if isinstance(con, str):
        return connect(con)
    if not hasattr(con, "compile") or not hasattr(con, "name"):
        raise ConfigError(f"con: expected an Ibis backend, a SparkSession or an engine name, "
                          f"got a {type(con).__name__}")
    return con


def engine_of(con: Any = None) -> Engine:
    """The :class:`Engine` for ``con`` (see :func:`connect`); the default one when ``None``."""
    if isinstance(con, Engine):
        return con
    backend = _backend(con)
    cls = _BY_BACKEND.get(backend.name)
    if cls is None:
        raise ConfigError(f"con: the Ibis {backend.name!r} backend is not supported; use DuckDB or Spark")
    return cls(backend)


def is_uri(path: Any) -> bool:
    """True for ``s3://``, ``hdfs://``, ``file://``... (not for Windows drive letters)."""
    text = os.fspath(path) if isinstance(path, os.PathLike) else path
    if not isinstance(text, str) or "://" not in text:
        return False
    return len(text.split("://", 1)[0]) > 1


@dataclass(frozen=True)
class Written:
    """Where a table was written: ``directory`` when the engine wrote a folder of part files."""

    path: str
    directory: bool
    format: str
    engine: str


class Engine:
    """What a capability may ask of an engine. One instance wraps one Ibis backend."""

    kind: ClassVar[str] = ""
    label: ClassVar[str] = ""

    def __init__(self, backend: Any) -> None:
        self.backend = backend

    # --- run a query ---------------------------------------------------------------------
    def to_arrow(self, expr: Any) -> Any:
        """The result of ``expr`` as a pyarrow Table (for small results: they reach the driver)."""
        return self.backend.to_pyarrow(expr)

    def rows(self, expr: Any) -> list[tuple[Any, ...]]:
        """The result of ``expr`` as tuples (for small results)."""
        table = self.to_arrow(expr)
        return list(zip(*(col.to_pylist() for col in table.columns))) if table.num_columns else []

    def scalar(self, expr: Any) -> Any:
        return self.rows(expr.as_table())[0][0]

    # --- read ---------------------------------------------------------------------------
    def name(self) -> str:
        return f"mlstrat_e{next(_NAMES)}"

    def register(self, arrow: Any, *, view: str | None = None) -> Any:
        """An in-memory pyarrow Table as an engine table."""
        raise NotImplementedError

    def from_columns(self, columns: dict[str, tuple[str, list[Any]]]) -> Any:
        """A small table from Python lists: ``name -> (type, values)``, types ``boolean``,
        ``string``, ``int64``, ``float64``; all lists of one length."""
        import pyarrow as pa

        types = {"boolean": pa.bool_(), "string": pa.string(), "int64": pa.int64(), "float64": pa.float64()}
        return self.register(pa.table({name: pa.array(values, types[kind])
                                       for name, (kind, values) in columns.items()}))

    def read(self, path: str, fmt: str, *, view: str | None = None,
             text_columns: Sequence[str] = (), columns: ColumnSelection | None = None) -> Any:
        """A file, directory or URI as an engine table (``fmt``: csv, parquet, json).

        ``columns``: the columns the caller will use; an engine may read only those (the others
        may be absent from the table it returns).
        """
        raise NotImplementedError

    # --- materialize, stream, write ----------------------------------------------------
    def materialize(self, expr: Any) -> Any:
        """Compute ``expr`` once and keep it for the session (a temp table; persisted on Spark)."""
        raise NotImplementedError

    def batches(self, expr: Any, *, chunk_size: int) -> Iterator[Any]:
        """Stream ``expr`` as pyarrow RecordBatches of at most ``chunk_size`` rows."""
        raise NotImplementedError

    def write(self, expr: Any, path: str, fmt: str, *, force: bool, keep_order: bool = True) -> Written:
        """Write ``expr`` to ``path`` (``fmt``: parquet, csv, json); ``keep_order=False`` lets
        the writer run in parallel when the row order does not matter."""
        raise NotImplementedError

    # --- hash ---------------------------------------------------------------------------
    def hex_to_int(self, hexits: Any) -> Any:
        """The integer of a string of at most 15 hex digits (an Ibis int64 expression)."""
        raise NotImplementedError

    def hash64(self, value: Any) -> Any:
        """A fast 64-bit hash of a string, for grouping (not stable across engines)."""
        raise NotImplementedError

    def bit_xor(self, column: Any) -> Any:
        """The xor of an integer column (an aggregate): order-independent hash combining."""
        return column.bit_xor()

    def md5_low64_parts(self, text: Any) -> tuple[tuple[Any, int], ...]:
        """Bytes 8..15 of the md5 of ``text`` read little endian, as ``(part, shift)`` pairs.

        The 64-bit number is ``sum(part << shift)``; each part is an integer column the engine
        can ``bit_xor`` (Spark has no unsigned 64-bit type: two 32-bit halves). Portable form:
        from the hex digest (substrings, hex -> integer); an engine with a faster exact form
        overrides it (md5 fixes the number, so every engine and version gives the same one;
        tested against :mod:`hashlib`).
        """
        high, low = self._md5_low64_halves(text)
        return ((high, 32), (low, 0))

    def _md5_low64_halves(self, text: Any) -> tuple[Any, Any]:
        digest = text.cast("string").hexdigest("md5")

        def little_endian(first_byte: int) -> Any:
            parts = [digest.substr(2 * (first_byte + i), 2) for i in (3, 2, 1, 0)]
            return self.hex_to_int(parts[0].concat(*parts[1:]))

        return little_endian(12), little_endian(8)


def unit_hash(engine: Engine, key: Any, salt: str) -> Any:
    """``u = int(md5(f"{key}:{salt}")[:8], 16) / 2**32`` in the engine (docs/method.md §1).

    The salt enters as an Ibis literal, so each dialect quotes it itself: quotes and
    backslashes hash the same on every engine.
    """
    import ibis

    digest = key.cast("string").concat(ibis.literal(f":{salt}", type="string")).hexdigest("md5")
    # a double divided by an integer: Spark reads a literal 4294967296.0 as a DECIMAL
    return engine.hex_to_int(digest.substr(0, 8)).cast("float64") / 4294967296


def hash64_halves(engine: Engine, text: Any) -> tuple[Any, Any]:
    """DuckDB's ``md5_number_lower`` (bytes 8..15 of the md5, little endian) as two 32-bit halves.

    Each half fits a signed 64-bit integer on every engine (Spark has no unsigned type);
    ``(high << 32) | low`` is the 64-bit number.
    """
    return engine._md5_low64_halves(text)


#: from this many columns on, a CSV is read column by column as the command asks (see
#: :meth:`DuckDBEngine.read`), or sniffed once when it needs every column
WIDE_CSV = 256
_SNIFFED: dict[tuple[str, int, int], tuple[list[tuple[str, str]], dict[str, Any]]] = {}
#: (file version, connection, text columns) -> {selected columns: the temp table holding them}
_SELECTED: dict[tuple[Any, ...], dict[tuple[str, ...], str]] = {}
#: (file version, connection, text columns) -> the temp table of a CSV with lines past DuckDB's limit
_LONG_LINES: dict[tuple[Any, ...], str] = {}
#: versions of the files read that way
_LONG_FILES: set[tuple[str, int, int]] = set()


def _header_width(path: Path) -> int:
    """Number of fields in the first line of an uncompressed CSV/TSV (0 for other files)."""
    if path.suffix.lower() not in (".csv", ".tsv", ".txt"):
        return 0
    with open(path, "rb") as fh:
        first = fh.readline(1 << 22)
    return max(first.count(b","), first.count(b"\t")) + 1


def _file_version(path: Path) -> tuple[str, int, int]:
    stat = path.stat()
    return (str(path.resolve()), stat.st_mtime_ns, stat.st_size)


def _sniff(con: Any, path: Path) -> tuple[list[tuple[str, str]], dict[str, Any]]:
    """DuckDB's sniffer run once per file version (it costs seconds on thousands of columns, and a
    view over ``read_csv`` would sniff again on every query)."""
    import sqlglot.expressions as sge

    key = _file_version(path)
    if key not in _SNIFFED:
        literal = sge.Literal.string(str(path)).sql(dialect="duckdb")
        columns, delim, quote, escape, header = con.raw_sql(
            f"SELECT Columns, Delimiter, Quote, Escape, HasHeader FROM sniff_csv({literal})").fetchall()[0]
        options = {"delim": delim, "header": bool(header)}
        for name, value in (("quote", quote), ("escape", escape)):
            options[name] = "" if value in ("(empty)", None) else value
        _SNIFFED[key] = ([(c["name"], c["type"]) for c in columns], options)
    return _SNIFFED[key]


def _read_wide_csv(con: Any, path: Path, view: str, text_columns: list[str]) -> Any:
    """A wide CSV as a view over ``read_csv`` with the sniffed schema: later queries parse only."""
    import sqlglot.expressions as sge

    def lit(text: str) -> str:
        return sge.Literal.string(text).sql(dialect="duckdb")

    columns, options = _sniff(con, path)
    types = {name: ("VARCHAR" if name in text_columns else kind) for name, kind in columns}
    spec = "{" + ", ".join(f"{lit(n)}: {lit(t)}" for n, t in types.items()) + "}"
    opts = ", ".join(f"{k} = {lit(v) if isinstance(v, str) else str(v).lower()}" for k, v in options.items())
    con.raw_sql(f"CREATE OR REPLACE TEMP VIEW {sge.to_identifier(view).sql(dialect='duckdb')} AS "
                f"SELECT * FROM read_csv({lit(str(path))}, columns = {spec}, auto_detect = false, {opts}, "
                f"max_line_size = {MAX_CSV_LINE})").fetchall()
    return con.table(view)


#: DuckDB's default max_line_size, and the largest file searched for a longer line before reading it
_DUCKDB_LINE = 2_097_152
_LONG_LINE_SCAN = 64 << 20


def _has_long_line(path: Path) -> bool:
    """Whether a file of at most 64 MiB has a line longer than DuckDB's default limit (one pass of
    numpy over the bytes: milliseconds). Larger files are not searched: DuckDB's error says it."""
    import numpy as np

    size = path.stat().st_size
    if size <= _DUCKDB_LINE or size > _LONG_LINE_SCAN:
        return False
    data = np.fromfile(path, dtype=np.uint8)
    breaks = np.flatnonzero(data == 10)
    edges = np.concatenate(([-1], breaks, [len(data)]))
    return bool(np.diff(edges).max() > _DUCKDB_LINE)


def _has_quotes(path: Path) -> bool:
    """Whether the file holds a double quote: without one no value can hold a line break, and the
    reader may cut the file at any line break (about twice as fast on a wide file)."""
    with open(path, "rb") as fh:
        return any(b'"' in block for block in iter(lambda: fh.read(1 << 24), b""))


def _selected_as_text(path: Path, header: Any, wanted: list[str]) -> Any:
    """The ``wanted`` columns of a CSV as text (a pyarrow Table): every line is cut into fields,
    only the wanted fields are kept. Empty fields stay empty strings, so that rewritten as CSV
    they read back exactly as the engine reads them in the original file."""
    import pyarrow as pa
    import pyarrow.csv as pcsv

    return pcsv.read_csv(
        path,
        read_options=pcsv.ReadOptions(column_names=list(header.names), skip_rows=1),
        parse_options=pcsv.ParseOptions(delimiter=header.delimiter, quote_char='"', double_quote=True,
                                        newlines_in_values=_has_quotes(path)),
        convert_options=pcsv.ConvertOptions(include_columns=wanted,
                                            column_types=dict.fromkeys(wanted, pa.string()),
                                            strings_can_be_null=False, quoted_strings_can_be_null=False),
    )



class DuckDBEngine(Engine):
    """Embedded DuckDB: files stream through it; outputs are single files."""

    kind = "duckdb"
    label = "DuckDB"

    def register(self, arrow: Any, *, view: str | None = None) -> Any:
        view = view or self.name()
        self.backend.con.register(view, arrow)
        return self.backend.table(view)

    def from_columns(self, columns: dict[str, tuple[str, list[Any]]]) -> Any:
        # Lists bound as parameters and unnested by DuckDB: building an Arrow table in Python
        # imports pandas (pyarrow's conversion checks for pandas objects), a third of a second.
        import sqlglot.expressions as sge

        sql_types = {"boolean": "BOOLEAN", "string": "VARCHAR", "int64": "BIGINT", "float64": "DOUBLE"}
        name = self.name()
        select = ", ".join(f"unnest(${i}::{sql_types[kind]}[]) AS {sge.to_identifier(col, quoted=True).sql('duckdb')}"
                           for i, (col, (kind, _v)) in enumerate(columns.items(), start=1))
        self.backend.con.execute(f"CREATE TEMP TABLE {name} AS SELECT {select}",
                                 [list(values) for _k, values in columns.values()]).fetchall()
        return self.backend.table(name)

    def read(self, path: str, fmt: str, *, view: str | None = None,
             text_columns: Sequence[str] = (), columns: ColumnSelection | None = None) -> Any:
        view = view or self.name()
        con = self.backend
        source = _duckdb_source(path, fmt)
        if fmt == "parquet":
            return con.read_parquet(source, table_name=view)
        if fmt == "json":
            return con.read_json(source, table_name=view)
        if isinstance(source, str) and os.path.isfile(source) and _header_width(Path(source)) > WIDE_CSV:
            header = plain_csv_header(Path(source)) if columns is not None else None
            if header is None:
                return _read_wide_csv(con, Path(source), view, list(text_columns))
            return self._read_selected(Path(source), header, columns, view=view, text_columns=text_columns)
        local = isinstance(source, str) and os.path.isfile(source)
        if local and (_file_version(Path(source)) in _LONG_FILES or _has_long_line(Path(source))):
            # DuckDB's failed first try would cost a parse of the file (13 s for one 20 MB field)
            return self._read_long_lines(Path(source), view=view, text_columns=text_columns)
        try:
            table = con.read_csv(source, table_name=view)
            table.schema()
        except Exception:
            # a line past the default limit (or a real parse error, which fails again below)
            if local:
                return self._read_long_lines(Path(source), view=view, text_columns=text_columns)
            return self._typed_csv(source, view=view, text_columns=text_columns,
                                   options={"max_line_size": MAX_CSV_LINE})
        return self._typed_csv(source, view=view, text_columns=text_columns, options={}, table=table)

    def _typed_csv(self, source: Any, *, view: str, text_columns: Sequence[str], options: dict[str, Any],
                   table: Any = None) -> Any:
        """The CSV read with ``options`` (the larger line limit only where needed, as DuckDB sizes
        its buffers from it), the text columns and worded booleans read as text."""
        con = self.backend
        table = table if table is not None else con.read_csv(source, table_name=view, **options)
        present = [c for c in text_columns if c in table.columns]
        present += _worded_booleans(con, source, table, options, skip=present)
        if not present:
            return table
        return con.read_csv(source, table_name=view, types={c: "VARCHAR" for c in present}, **options)

    def _read_long_lines(self, path: Path, *, view: str, text_columns: Sequence[str]) -> Any:
        """A CSV with a line past DuckDB's default limit (a long document in a cell), parsed once per
        file version into a temp table: a view over the file would parse its long lines again on
        every query of the command (a 20 MB field cost minutes)."""
        import sqlglot.expressions as sge

        key = (_file_version(path), id(self.backend.con), tuple(text_columns))
        table = _LONG_LINES.get(key)
        if table is None or not self._exists(table):
            staged = self._typed_csv(str(path), view=self.name(), text_columns=text_columns,
                                     options={"max_line_size": MAX_CSV_LINE})
            table = self.name()
            self.backend.raw_sql(f"CREATE TEMP TABLE {table} AS SELECT * FROM {staged.get_name()}").fetchall()
            self.backend.raw_sql(f"DROP VIEW {staged.get_name()}").fetchall()
            _LONG_LINES[key] = table
            _LONG_FILES.add(key[0])
        quoted = sge.to_identifier(view).sql(dialect="duckdb")
        self.backend.raw_sql(f"CREATE OR REPLACE TEMP VIEW {quoted} AS SELECT * FROM {table}").fetchall()
        return self.backend.table(view)

    def _read_selected(self, path: Path, header: Any, columns: ColumnSelection, *, view: str,
                       text_columns: Sequence[str]) -> Any:
        """The selected columns of a wide CSV, typed as DuckDB types them in a narrow file.

        The file is cut into fields once per file version and selection (pyarrow's reader, which
        converts only the kept columns); those columns are written to a narrow CSV that DuckDB
        reads as it reads any CSV (its sniffer, its types), kept in a temp table. The cost grows
        with the file's bytes, not with the number of columns.
        """
        import sqlglot.expressions as sge

        wanted = columns.of(header.names) or [header.names[0]]  # the command reports what it misses
        text = [c for c in text_columns if c in wanted]
        # a table loaded earlier with these columns among others serves (same text columns)
        key = (_file_version(path), id(self.backend.con), tuple(text))
        loaded = _SELECTED.setdefault(key, {})
        table = next((t for cols, t in loaded.items() if set(wanted) <= set(cols) and self._exists(t)), None)
        if table is None:
            table = self._load_selected(path, header, wanted, text)
            loaded[tuple(wanted)] = table
        names = ", ".join(sge.to_identifier(c, quoted=True).sql(dialect="duckdb") for c in wanted)
        quoted = sge.to_identifier(view).sql(dialect="duckdb")
        self.backend.raw_sql(f"CREATE OR REPLACE TEMP VIEW {quoted} AS SELECT {names} FROM {table}"
                             ).fetchall()
        _HEADERS[view] = tuple(header.names)
        return self.backend.table(view)

    def _load_selected(self, path: Path, header: Any, wanted: list[str], text: list[str]) -> str:
        import sqlglot.expressions as sge

        folder = spill_directory()
        folder.mkdir(parents=True, exist_ok=True)
        narrow = folder / f"{self.name()}.csv"
        arrow, table = self.name(), self.name()
        try:
            self.backend.con.register(arrow, _selected_as_text(path, header, wanted))
            target = sge.Literal.string(str(narrow)).sql(dialect="duckdb")
            self.backend.raw_sql(f"COPY {arrow} TO {target} (FORMAT CSV, HEADER)").fetchall()
            self.backend.con.unregister(arrow)
            staged = self.read(str(narrow), "csv", text_columns=text)
            self.backend.raw_sql(f"CREATE TEMP TABLE {table} AS SELECT * FROM {staged.get_name()}").fetchall()
            self.backend.raw_sql(f"DROP VIEW {staged.get_name()}").fetchall()
        finally:
            narrow.unlink(missing_ok=True)
        return table

    def _exists(self, table: str) -> bool:
        try:
            self.backend.raw_sql(f"SELECT 1 FROM {table} LIMIT 0").fetchall()
        except Exception:  # dropped, or another connection behind the same id
            return False
        return True

    def materialize(self, expr: Any) -> Any:
        # ibis' cache() drops its table from a finalizer, which DuckDB 2 rejects at exit
        import ibis

        name = self.name()
        self.backend.raw_sql(f"CREATE TEMP TABLE {name} AS {ibis.to_sql(expr, dialect='duckdb')}").fetchall()
        # DuckDB's sum of BIGINT is a HUGEINT where Ibis typed int64: keep Ibis' types
        return self.backend.table(name).cast(expr.schema())

    def batches(self, expr: Any, *, chunk_size: int) -> Iterator[Any]:
        import ibis

        sql = str(ibis.to_sql(expr, dialect="duckdb"))
        # ibis' to_pyarrow_batches calls a cursor method DuckDB 2 no longer has; a relation reader streams
        reader = self.backend.con.sql(sql).to_arrow_reader(chunk_size)
        yield from reader

    def write(self, expr: Any, path: str, fmt: str, *, force: bool, keep_order: bool = True) -> Written:
        con = self.backend
        if not keep_order:
            con.raw_sql("SET preserve_insertion_order = false").fetchall()
        try:
            self._write(expr, path, fmt)
        finally:
            if not keep_order:
                con.raw_sql("RESET preserve_insertion_order").fetchall()
        return Written(path=path, directory=False, format=fmt, engine=self.label)

    def _write(self, expr: Any, path: str, fmt: str) -> None:
        con = self.backend
        if fmt == "parquet":
            con.to_parquet(expr, path)
        elif fmt == "csv":
            con.to_csv(expr, path)
        else:  # ibis has no to_json; DuckDB's COPY writes JSON lines
            import ibis
            import sqlglot

            target = sqlglot.exp.Literal.string(path).sql(dialect="duckdb")
            con.raw_sql(f"COPY ({ibis.to_sql(expr, dialect='duckdb')}) TO {target} (FORMAT JSON)").fetchall()

    def hex_to_int(self, hexits: Any) -> Any:
        import ibis

        return (ibis.literal("0x").concat(hexits)).cast("uint64").cast("int64")

    def hash64(self, value: Any) -> Any:
        return value.hash()

    def md5_low64_parts(self, text: Any) -> tuple[tuple[Any, int], ...]:
        # md5_number is the digest as a little-endian UHUGEINT: its upper 64 bits are bytes 8..15,
        # one UBIGINT DuckDB xors as it is. Five times faster than the hex digest's substrings
        # (and than DuckDB 2's own md5_number_lower); the bytes are md5's, so the number is the
        # portable form's.
        return (((_duckdb_md5_number(text.cast("string")) >> 64).cast("uint64"), 0),)


def _worded_booleans(con: Any, source: Any, table: Any, options: dict[str, Any], *,
                     skip: list[str]) -> list[str]:
    """CSV columns DuckDB sniffed as BOOLEAN from words other than true/false (yes/no, y/n, t/f).

    Such a column is a label ("yes"/"no") that must stay text, as Spark reads it: typed
    BOOLEAN it would print as true/false and no longer match its ``proba_yes`` column.
    """
    flags = [c for c, t in table.schema().items() if t.is_boolean() and c not in skip]
    if not flags:
        return []
    raw = con.read_csv(source, types={c: "VARCHAR" for c in flags}, **options)
    worded = {c: (raw[c].notnull() & ~raw[c].strip().lower().isin(["true", "false"])).any()
              for c in flags}
    found = con.to_pyarrow(raw.aggregate(**worded)).to_pylist()[0]
    return [c for c in flags if found[c]]


def _duckdb_source(path: str, fmt: str) -> Any:
    """DuckDB reads a list of files, not a folder: a directory becomes its part files."""
    if path.startswith("file://"):
        path = path[len("file://"):]
    if is_uri(path) or not Path(path).is_dir():
        return path
    return [str(p) for p in part_files(Path(path), fmt)]


class SparkEngine(Engine):
    """A SparkSession (local, cluster or Spark Connect): heavy work stays on the executors."""

    kind = "spark"
    label = "Spark"

    @property
    def session(self) -> Any:
        return self.backend._session

    def dataframe(self, expr: Any) -> Any:
        return self.session.sql(self.backend.compile(expr))

    def materialize(self, expr: Any) -> Any:
        from pyspark import StorageLevel

        name = self.name()
        self.dataframe(expr).persist(StorageLevel.MEMORY_AND_DISK).createOrReplaceTempView(name)
        return self.backend.table(name)

    def to_arrow(self, expr: Any) -> Any:
        # Spark 4 collects Arrow batches directly (ibis goes through pandas)
        from ibis.formats.pyarrow import PyArrowData

        table = expr.as_table()
        return PyArrowData.convert_table(self.dataframe(table).toArrow(), table.schema())

    def register(self, arrow: Any, *, view: str | None = None) -> Any:
        view = view or self.name()
        schema = None
        if arrow.num_rows == 0:  # Spark Connect cannot infer a schema from no rows
            from pyspark.sql.pandas.types import from_arrow_schema

            schema = from_arrow_schema(arrow.schema)
        self.session.createDataFrame(arrow, schema=schema).createOrReplaceTempView(view)
        return self.backend.table(view)

    def read(self, path: str, fmt: str, *, view: str | None = None,
             text_columns: Sequence[str] = (), columns: ColumnSelection | None = None) -> Any:
        view = view or self.name()
        if not is_uri(path):  # a Spark Connect server resolves a relative path in its own directory
            path = str(Path(path).absolute())
        reader = self.session.read
        if fmt == "parquet":
            frame = reader.parquet(path)
        elif fmt == "json":
            frame = reader.json(path)
        else:
            frame = _spark_csv(self.session, path, text_columns)
        frame.createOrReplaceTempView(view)
        return self.backend.table(view)

    def batches(self, expr: Any, *, chunk_size: int) -> Iterator[Any]:
        """One partition at a time reaches the driver, as Arrow IPC bytes (never the whole table)."""
        import pyarrow as pa

        def to_ipc(batches: Any) -> Any:
            # runs on the executors; defined here so that it travels by value (executors need
            # pyarrow, not mlstrat): each Arrow batch of a partition as one IPC-serialized value
            import pyarrow as pa

            for batch in batches:
                sink = pa.BufferOutputStream()
                with pa.ipc.new_stream(sink, batch.schema) as writer:
                    writer.write_batch(batch)
                yield pa.RecordBatch.from_pydict({"ipc": [sink.getvalue().to_pybytes()]})

        serialized = self.dataframe(expr).mapInArrow(to_ipc, "ipc binary")
        pending: list[Any] = []
        rows = 0
        for row in serialized.toLocalIterator(prefetchPartitions=True):
            for batch in pa.ipc.open_stream(row.ipc):
                pending.append(batch)
                rows += batch.num_rows
                while rows >= chunk_size:
                    table = pa.Table.from_batches(pending)
                    yield from table.slice(0, chunk_size).combine_chunks().to_batches()
                    rest = table.slice(chunk_size)
                    pending, rows = rest.to_batches(), rest.num_rows
        if rows:
            yield from pa.Table.from_batches(pending).combine_chunks().to_batches()

    def write(self, expr: Any, path: str, fmt: str, *, force: bool, keep_order: bool = True) -> Written:
        """Spark writes a directory of part files; a local one appears whole (temp dir + rename)."""
        writer = self.dataframe(expr).write.format(fmt)
        if fmt == "csv":
            writer = writer.option("header", "true")
        if is_uri(path) and not path.startswith("file://"):
            writer.mode("overwrite" if force else "errorifexists").save(path)
            return Written(path=path, directory=True, format=fmt, engine=self.label)
        final = Path(path[len("file://"):] if path.startswith("file://") else path)
        tmp = final.with_name(f".{final.name}.{os.getpid()}.{next(_NAMES)}.tmp")
        try:
            writer.mode("overwrite").save(str(tmp.absolute()))
            if not tmp.is_dir():  # a Spark Connect server on another machine wrote it there
                from mlstrat._exceptions import InputError

                raise InputError(f"{final}: the Spark server wrote this output on its own filesystem, "
                                 "which this machine does not see; give a path both see (a shared "
                                 "mount) or a URI (s3a://, hdfs://, abfss://)")
            if final.is_dir():
                shutil.rmtree(final)
            elif final.exists():
                final.unlink()
            os.replace(tmp, final)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return Written(path=str(final), directory=True, format=fmt, engine=self.label)

    def hex_to_int(self, hexits: Any) -> Any:
        return _spark_conv(hexits, 16, 10).cast("int64")

    def hash64(self, value: Any) -> Any:
        return _spark_xxhash64(value)

    def bit_xor(self, column: Any) -> Any:
        import ibis

        @ibis.udf.agg.builtin(name="bit_xor")
        def bit_xor(value: int) -> int:  # Spark SQL's bit_xor aggregate (Ibis does not compile it)
            ...

        return bit_xor(column)


def _duckdb_md5_number(value: Any) -> Any:
    import ibis

    # typed int64 for Ibis (it has no 128-bit type); only ever shifted and cast to UBIGINT
    @ibis.udf.scalar.builtin(name="md5_number")
    def md5_number(value: str) -> int:  # DuckDB's md5 as a UHUGEINT
        ...

    return md5_number(value)


def _spark_csv(session: Any, path: str, text_columns: Sequence[str]) -> Any:
    """Inferred types like DuckDB's, except the key columns, which stay text ("007" stays "007")."""
    from pyspark.sql.types import StringType, StructField, StructType

    frame = session.read.csv(path, header=True, inferSchema=True)
    keep = set(text_columns) & set(frame.columns)
    if not keep:
        return frame
    schema = StructType([StructField(f.name, StringType() if f.name in keep else f.dataType, True)
                         for f in frame.schema.fields])
    return session.read.csv(path, header=True, schema=schema)


def _spark_conv(value: Any, from_base: int, to_base: int) -> Any:
    import ibis

    @ibis.udf.scalar.builtin(name="conv")
    def conv(num: str, from_base: int, to_base: int) -> str:  # Spark SQL's conv()
        ...

    return conv(value, from_base, to_base)


def _spark_xxhash64(value: Any) -> Any:
    import ibis

    @ibis.udf.scalar.builtin(name="xxhash64")
    def xxhash64(value: str) -> int:  # Spark SQL's 64-bit xxHash
        ...

    return xxhash64(value)


_BY_BACKEND: dict[str, type[Engine]] = {"duckdb": DuckDBEngine, "pyspark": SparkEngine}

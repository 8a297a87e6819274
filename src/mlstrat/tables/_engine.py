"""The engine layer: one small surface over Ibis, with a DuckDB and a Spark implementation.

Capabilities build Ibis expressions and hand them to an :class:`Engine` to run a query
(:meth:`Engine.rows`, :meth:`Engine.to_arrow`), read and write files, materialize an
intermediate result, stream record batches and hash keys. They never import DuckDB or
PySpark: the engine is chosen once (``--engine``, ``MLSTRAT_ENGINE``, ``con=``) and stays
invisible. PySpark is imported only when Spark is asked for, so ``import mlstrat`` and the
CLI start-up never load it.

The layer's files: this one (what every engine offers, and the hashes built on it);
``_connect`` (opening an engine: ``connect``, ``engine_of``, the process-wide default);
``_duckdb_engine`` and ``_spark_engine`` (the two implementations); ``_spark_connect``
(Spark Connect sessions: the first-connection check, call deadlines, bounded retries);
``_spark_session`` (classic sessions: master URLs, ``--conf``, ``SPARK_MASTER``); ``_delta``
and ``_iceberg`` (the live files of a Delta or Iceberg table, which :meth:`Engine.read_files`
reads).
"""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from mlstrat._exceptions import InputError
from mlstrat.tables._columns import ColumnSelection
from mlstrat.tables._files import pid_alive as _pid_alive

__all__ = ["Engine", "Written", "is_uri", "unit_hash", "hash64_halves", "spill_directory", "first_line",
           "unique_number"]

_NAMES = itertools.count(1)
#: longest CSV line read (DuckDB's default is 2 MB): long documents in a text column stay readable
MAX_CSV_LINE = 256 << 20
#: from this many columns on, a CSV is read column by column as the command asks (see
#: :meth:`DuckDBEngine.read`), or sniffed once when it needs every column
WIDE_CSV = 256


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


def unique_number() -> int:
    """A number no other call in this process returns (names of views and temp files)."""
    return next(_NAMES)


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (its type when empty): one-line errors."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


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
        return f"mlstrat_e{unique_number()}"

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

    def read_files(self, files: Sequence[str], *, root: str, view: str | None = None,
                   partitioned: bool = False) -> Any:
        """Parquet ``files`` (absolute paths or URIs) as one engine table, their columns matched
        by name; ``partitioned``: partition columns come from ``col=value/`` folders below ``root``
        (a Delta or Iceberg table's live files, see :mod:`mlstrat.tables._delta` and
        :mod:`mlstrat.tables._iceberg`)."""
        raise NotImplementedError

    def read_catalog(self, name: str, *, view: str | None = None) -> Any:
        """A table of the engine's catalog (``db.table``, ``catalog.db.table``) as an engine table."""
        raise InputError(f"{name}: no such file; a catalog table (catalog.db.table) is read with "
                         "--engine spark (con= a SparkSession); check the path otherwise")

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

    def output_exists(self, path: str) -> bool | None:
        """Whether something exists at the URI ``path`` (``None``: this engine cannot tell before
        it writes). Raises :class:`InputError` when the engine cannot reach the storage at all."""
        return None

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

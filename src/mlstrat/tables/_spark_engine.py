"""A SparkSession (local, cluster or Spark Connect) as an :class:`Engine`: heavy work stays on
the executors; outputs are folders of part files."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from mlstrat._exceptions import InputError
from mlstrat.tables._columns import ColumnSelection
from mlstrat.tables._engine import Engine, Written, first_line, is_uri

__all__ = ["SparkEngine", "TIMESTAMP_SETTINGS", "storage_error"]

#: Parquet timestamps as DuckDB writes them: INT64 microseconds marked UTC (``timestamp[us, UTC]``),
#: not Spark's default INT96, which readers take as ``timestamp[ns]`` without a time zone
TIMESTAMP_SETTINGS = {"spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS"}


@contextlib.contextmanager
def _session_settings(session: Any, settings: dict[str, str]) -> Iterator[None]:
    """``settings`` in force in ``session`` within the block; the session's own values after it."""
    saved = {key: session.conf.get(key, None) for key in settings}
    for key, value in settings.items():
        session.conf.set(key, value)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                session.conf.unset(key)
            else:
                session.conf.set(key, value)


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
            path = _hadoop_literal(str(Path(path).absolute()))
        reader = self.session.read
        if fmt == "parquet":
            frame = reader.parquet(path)
        elif fmt == "json":
            frame = reader.json(path)
        else:
            frame = _spark_csv(self.session, path, text_columns)
        frame.createOrReplaceTempView(view)
        return self.backend.table(view)

    def read_format(self, fmt: str, path: str, *, view: str | None = None) -> Any | None:
        """The table at ``path`` through the session's own data source ``fmt`` (``delta``,
        ``iceberg``) when the cluster has one on its classpath; ``None`` when it has not (then
        the caller reads the table's live files). A cluster's own source knows what reading the
        files cannot: deletion vectors, column mapping, delete files."""
        view = view or self.name()
        location = path if is_uri(path) else _hadoop_literal(str(Path(path).absolute()))
        try:
            frame = self.session.read.format(fmt).load(location)
            frame.schema  # noqa: B018 - Spark Connect looks the source up only when asked
        except Exception as exc:
            if "DATA_SOURCE_NOT_FOUND" in str(exc):
                return None
            raise
        frame.createOrReplaceTempView(view)
        return self.backend.table(view)

    def read_files(self, files: Sequence[str], *, root: str, view: str | None = None,
                   partitioned: bool = False) -> Any:
        view = view or self.name()
        reader = self.session.read.option("mergeSchema", "true")
        if partitioned:  # partition columns from the col=value/ folders below the table's root
            reader = reader.option("basePath", root if is_uri(root) else str(Path(root).absolute()))
        reader.parquet(*(f if is_uri(f) else _hadoop_literal(f) for f in files)).createOrReplaceTempView(view)
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
        """Spark writes a directory of part files at ``path`` (``write_table`` gives a local output
        a temporary folder, renamed into place when whole)."""
        writer = self.dataframe(expr).write.format(fmt)
        if fmt == "csv":
            writer = writer.option("header", "true")
        with _session_settings(self.session, TIMESTAMP_SETTINGS if fmt == "parquet" else {}):
            # "error", not its alias "errorifexists": the Spark Connect client knows only
            # append, overwrite, error and ignore
            writer.mode("overwrite" if force else "error").save(path)
        return Written(path=path, directory=True, format=fmt, engine=self.label)

    def output_exists(self, path: str) -> bool:
        """Asks the storage through the session (classic or Connect alike): a missing path is
        the analyser's PATH_NOT_FOUND; any other failure (no connector for the scheme, no
        credentials, an unknown bucket) is the storage's error, in one line."""
        try:
            self.session.read.format("binaryFile").load(path).schema  # noqa: B018  (analysed now)
        except Exception as exc:  # JVM and Connect errors come in many classes
            if _condition(exc) == "PATH_NOT_FOUND":
                return False
            raise storage_error(path, exc, doing="cannot be reached") from None
        return True

    def read_catalog(self, name: str, *, view: str | None = None) -> Any:
        view = view or self.name()
        try:  # Spark Connect analyses the name only when the view is made
            self.session.table(name).createOrReplaceTempView(view)
        except Exception as exc:  # AnalysisException: TABLE_OR_VIEW_NOT_FOUND and its kin
            if _condition(exc) == "TABLE_OR_VIEW_NOT_FOUND":
                raise InputError(f"{name}: no such file, and no such table in the Spark catalog; "
                                 "check the path or the table name (catalog.db.table)") from None
            raise InputError(f"{name}: the Spark catalog cannot read this table ({first_line(exc)})") from None
        return self.backend.table(view)

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


def _condition(exc: BaseException) -> str | None:
    """The error condition of a Spark error (``PATH_NOT_FOUND``), classic or Connect."""
    get = getattr(exc, "getCondition", None) or getattr(exc, "getErrorClass", None)
    try:
        return get() if get is not None else None
    except Exception:  # an error without a condition
        return None


#: what a storage error's text says -> what fixes it
_CONNECTOR_FIX = ("the Spark session has no connector for this scheme: add its jars (hadoop-aws for "
                  "s3a://, gcs-connector for gs://, hadoop-azure for abfss://) with --conf "
                  "spark.jars.packages=... or spark.jars=...")
_STORAGE_FIXES = (
    ("no filesystem for scheme", _CONNECTOR_FIX),  # a scheme Hadoop does not know
    ("filesystem not found", _CONNECTOR_FIX),  # a known scheme whose class is absent (S3AFileSystem)
    ("classnotfoundexception", "the Spark session lacks a class: add its jars with --conf spark.jars=..."),
    ("access denied", "check the storage credentials the Spark session uses"),
    ("forbidden", "check the storage credentials the Spark session uses"),
    ("credential", "check the storage credentials the Spark session uses"),
)


def storage_error(path: str, exc: BaseException, *, doing: str) -> InputError:
    """One line for a storage failure at ``path``: its first line (no JVM stack), and the fix."""
    text = str(exc).lower()
    fix = next((fix for words, fix in _STORAGE_FIXES if words in text),
               "check the path, the storage connector and its credentials")
    return InputError(f"{path}: {doing} by Spark ({first_line(exc)}); {fix}")


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


def _hadoop_literal(path: str) -> str:
    """``path`` with Hadoop's glob characters escaped: Spark reads ``a[1].csv`` as that file, not a
    pattern."""
    return re.sub(r"([\\{}\[\]*?])", r"\\\1", path)

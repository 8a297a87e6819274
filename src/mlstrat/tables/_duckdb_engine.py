"""Embedded DuckDB as an :class:`Engine`: files stream through it; outputs are single files.

Wide CSVs (:data:`WIDE_CSV` columns and more) are sniffed once per file version and read
column by column as a command asks. Small CSVs (:data:`SMALL_CSV` bytes and less) are parsed
once per file version into a temp table: a view over ``read_csv`` sniffs the file again on
every query, and a command runs a dozen small queries, where the sniffing is most of the cost.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from mlstrat.tables._columns import ColumnSelection, plain_csv_header
from mlstrat._exceptions import InputError
from mlstrat.tables._engine import MAX_CSV_LINE, WIDE_CSV, Engine, Written, first_line, is_uri, spill_directory
from mlstrat.tables._files import HEADERS as _HEADERS
from mlstrat.tables._files import part_files

__all__ = ["DuckDBEngine"]

_SNIFFED: dict[tuple[str, int, int], tuple[list[tuple[str, str]], dict[str, Any]]] = {}
#: (file version, connection, text columns) -> {selected columns: the temp table holding them}
_SELECTED: dict[tuple[Any, ...], dict[tuple[str, ...], str]] = {}
#: (file version, connection, text columns) -> the temp table a CSV was parsed into once: a small
#: one, or one with lines past DuckDB's limit
_KEPT: dict[tuple[Any, ...], str] = {}
#: versions of the files with such long lines
_LONG_FILES: set[tuple[str, int, int]] = set()
#: a local CSV of at most this many bytes is parsed once into a temp table (milliseconds, a few
#: megabytes of memory); larger ones stay views that stream the file
SMALL_CSV = 8 << 20


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
        if local and os.path.getsize(source) <= SMALL_CSV:
            return self._read_kept(Path(source), view=view, text_columns=text_columns,
                                   long_lines=False)
        return self._read_csv(source, view=view, text_columns=text_columns, local=local)

    def _read_csv(self, source: Any, *, view: str, text_columns: Sequence[str], local: bool) -> Any:
        """A CSV as a view over ``read_csv``, read again by every query."""
        con = self.backend
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

    def read_files(self, files: Sequence[str], *, root: str, view: str | None = None,
                   partitioned: bool = False) -> Any:
        return self.backend.read_parquet(list(files), table_name=view or self.name(), union_by_name=True,
                                         hive_partitioning=partitioned)

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
        return self._read_kept(path, view=view, text_columns=text_columns, long_lines=True)

    def _read_kept(self, path: Path, *, view: str, text_columns: Sequence[str],
                   long_lines: bool) -> Any:
        """A local CSV parsed once per file version (and connection, and text columns) into a temp
        table, seen as ``view``; the table has the types the view over the file has."""
        import sqlglot.expressions as sge

        key = (_file_version(path), id(self.backend.con), tuple(text_columns))
        table = _KEPT.get(key)
        if table is None or not self._exists(table):
            if long_lines:
                staged = self._typed_csv(str(path), view=self.name(), text_columns=text_columns,
                                         options={"max_line_size": MAX_CSV_LINE})
            else:
                staged = self._read_csv(str(path), view=self.name(), text_columns=text_columns,
                                        local=True)
            table = self.name()
            self.backend.raw_sql(f"CREATE TEMP TABLE {table} AS SELECT * FROM {staged.get_name()}").fetchall()
            self.backend.raw_sql(f"DROP VIEW {staged.get_name()}").fetchall()
            _KEPT[key] = table
            if long_lines:
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
        import sqlglot

        con = self.backend
        # the path reaches DuckDB as a literal quoted by sqlglot: Ibis' to_csv/to_parquet quote it
        # with Python's repr, which DuckDB reads differently for a backslash or a control character
        target = sqlglot.exp.Literal.string(path).sql(dialect="duckdb")
        options = {"parquet": "FORMAT PARQUET", "csv": "FORMAT CSV, HEADER", "json": "FORMAT JSON"}[fmt]
        con._run_pre_execute_hooks(expr)  # registers in-memory tables, as Ibis' own writers do
        con.raw_sql(f"COPY ({con.compile(expr)}) TO {target} ({options})").fetchall()

    def output_exists(self, path: str) -> bool:
        """Asks the storage through DuckDB's own file system (a listing of the path and of the
        folder a Spark writer would have made there): a URI whose extension is not installed, or
        whose storage refuses the listing, is one line before any work."""
        try:
            found = self.backend.con.execute("SELECT count(*) FROM glob(?)", [path]).fetchone()[0]
            if not found:
                found = self.backend.con.execute("SELECT count(*) FROM glob(?)",
                                                 [path.rstrip("/") + "/*"]).fetchone()[0]
        except Exception as exc:  # DuckDB's IO, HTTP and extension errors come in several classes
            raise _storage_error(path, exc) from None
        return bool(found)

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


def _storage_error(path: str, exc: BaseException) -> InputError:
    """One line for a URI DuckDB cannot reach: what is missing or what failed, and the fix."""
    extension = re.search(r"extension ['\"]?(\w+)", str(exc), flags=re.IGNORECASE)
    if extension:  # nothing is installed from the network (autoinstall_known_extensions is off)
        name = extension.group(1)
        return InputError(f"{path}: cannot be reached by DuckDB (its {name} extension is not installed); "
                          f"install it (INSTALL {name}) or use --engine spark")
    return InputError(f"{path}: cannot be reached by DuckDB ({first_line(exc)}); check the path and the "
                      "storage credentials (DuckDB's CREATE SECRET)")


def _duckdb_source(path: str, fmt: str) -> Any:
    """DuckDB reads a list of files, not a folder: a directory becomes its part files."""
    if path.startswith("file://"):
        path = path[len("file://"):]
    if is_uri(path) or not Path(path).is_dir():
        return path
    return [str(p) for p in part_files(Path(path), fmt)]


def _duckdb_md5_number(value: Any) -> Any:
    import ibis

    # typed int64 for Ibis (it has no 128-bit type); only ever shifted and cast to UBIGINT
    @ibis.udf.scalar.builtin(name="md5_number")
    def md5_number(value: str) -> int:  # DuckDB's md5 as a UHUGEINT
        ...

    return md5_number(value)

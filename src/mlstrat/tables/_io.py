"""File and in-memory readers, atomic writers, fingerprints."""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from mlstrat._exceptions import InputError
from mlstrat._numbers import did_you_mean
from mlstrat.tables._engine import default_connection

__all__ = [
    "READERS", "read_table", "write_table", "require_columns", "check_output_path",
    "atomic_write_text", "atomic_write_bytes", "fingerprint", "describe_source", "protected_kind",
]

# file suffix -> format name; ".csv.gz" style compressions are handled by DuckDB itself
READERS: dict[str, str] = {
    ".csv": "csv", ".tsv": "csv", ".txt": "csv",
    ".parquet": "parquet", ".pq": "parquet",
    ".jsonl": "json", ".ndjson": "json", ".json": "json",
    ".arrow": "arrow", ".feather": "arrow", ".ipc": "arrow",
}
_COMPRESSIONS = (".gz", ".zst")
_WRITERS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".jsonl": "json", ".ndjson": "json"}


def describe_source(source: Any) -> str:
    """A short name for error messages: the path for files, the type for objects."""
    if isinstance(source, (str, os.PathLike)):
        return str(source)
    return f"<{type(source).__module__.split('.')[0]}.{type(source).__name__}>"


def _format_of(path: Path) -> str:
    name = path.name.lower()
    for comp in _COMPRESSIONS:
        if name.endswith(comp):
            name = name[: -len(comp)]
    suffix = os.path.splitext(name)[1]
    if suffix not in READERS:
        known = ", ".join(sorted(READERS))
        raise InputError(f"{path}: unknown file type {suffix or '(none)'!r}; use one of {known}")
    return READERS[suffix]


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
               text_columns: Sequence[str | None] = ()) -> Any:
    """Open ``source`` as an Ibis table on the engine.

    Parameters
    ----------
    source : path-like, pandas.DataFrame, polars.DataFrame, pyarrow.Table, dict or ibis.Table
        A file (``.csv``, ``.tsv``, ``.parquet``, ``.jsonl``/``.ndjson``/``.json``,
        ``.arrow``/``.feather``; ``.gz``/``.zst`` compressed text too) or an in-memory table.
    con : ibis DuckDB backend, default=None
        Connection to register the table on; the process-wide one by default.
    name : str, default=None
        Name of the view to create; a unique one by default.
    text_columns : sequence of str, default=()
        Columns to read as text from CSV files, when present: keys such as ids keep their
        exact spelling (``"007"`` stays ``"007"``, not the integer 7). Other formats carry
        their own types.

    Raises
    ------
    InputError
        When the file is missing, of an unknown type, or cannot be parsed.
    """
    con = con or default_connection()
    if hasattr(source, "schema") and hasattr(source, "execute") and callable(getattr(source, "op", None)):
        return source  # already an Ibis expression
    view = name or f"mlstrat_t{next(_COUNTER)}"
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.exists():
            raise InputError(f"{path}: no such file; check the path")
        if path.is_dir():
            parquet = sorted(path.rglob("*.parquet"))
            if not parquet:
                raise InputError(f"{path}: is a directory without Parquet files; give a file")
            return _wrap(path, "parquet", lambda: con.read_parquet([str(p) for p in parquet], table_name=view))
        fmt = _format_of(path)
        if path.stat().st_size == 0:
            raise InputError(f"{path}: the file is empty; expected a {fmt.upper()} table with a header/schema")
        readers: dict[str, Callable[[], Any]] = {
            "csv": lambda: _read_csv(con, path, view, [c for c in text_columns if c]),
            "parquet": lambda: con.read_parquet(str(path), table_name=view),
            "json": lambda: con.read_json(str(path), table_name=view),
            "arrow": lambda: _read_arrow_file(con, path, view),
        }
        return _wrap(path, fmt, readers[fmt])
    arrow = _to_arrow(source)
    con.con.register(view, arrow)
    return con.table(view)


#: longest CSV line read (DuckDB's default is 2 MB): long documents in a text column stay readable
MAX_CSV_LINE = 256 << 20


#: from this many columns on, a CSV is sniffed once and read with the sniffed schema
WIDE_CSV = 256
_SNIFFED: dict[tuple[str, int, int], tuple[list[tuple[str, str]], dict[str, Any]]] = {}


def _header_width(path: Path) -> int:
    """Number of fields in the first line of an uncompressed CSV/TSV (0 for other files)."""
    if path.suffix.lower() not in (".csv", ".tsv", ".txt"):
        return 0
    with open(path, "rb") as fh:
        first = fh.readline(1 << 22)
    return max(first.count(b","), first.count(b"\t")) + 1


def _sniff(con: Any, path: Path) -> tuple[list[tuple[str, str]], dict[str, Any]]:
    """DuckDB's sniffer run once per file version (it costs seconds on thousands of columns, and a
    view over ``read_csv`` would sniff again on every query)."""
    import sqlglot.expressions as sge

    stat = path.stat()
    key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size)
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


def _read_csv(con: Any, path: Path, view: str, text_columns: list[str]) -> Any:
    if _header_width(path) > WIDE_CSV:
        return _read_wide_csv(con, path, view, text_columns)
    options: dict[str, Any] = {}
    try:
        table = con.read_csv(str(path), table_name=view)
        table.schema()
    except Exception:
        # a line past the default limit (or a real parse error, which fails again below);
        # the larger limit only on this path, as DuckDB sizes its buffers from it
        options = {"max_line_size": MAX_CSV_LINE}
        table = con.read_csv(str(path), table_name=view, **options)
    present = [c for c in text_columns if c in table.columns]
    if not present:
        return table
    return con.read_csv(str(path), table_name=view, types={c: "VARCHAR" for c in present}, **options)


def _read_arrow_file(con: Any, path: Path, view: str) -> Any:
    import pyarrow as pa
    import pyarrow.feather as feather

    try:
        table = feather.read_table(str(path), memory_map=True)
    except (pa.ArrowInvalid, OSError):
        with pa.memory_map(str(path)) as source:
            table = pa.ipc.open_stream(source).read_all()
    con.con.register(view, table)
    return con.table(view)


def _wrap(path: Path, fmt: str, read: Callable[[], Any]) -> Any:
    try:
        table = read()
        table.schema()  # bind now so that parse errors surface here
    except InputError:
        raise
    except Exception as exc:  # the engine's errors come in many classes
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"{path}: cannot be read as {fmt.upper()} ({first}); check that the file is a valid {fmt.upper()} table") from None
    if len(table.columns) == 0:
        raise InputError(f"{path}: no columns found; expected a table with a header")
    return table


def _counter() -> Iterable[int]:
    i = 0
    while True:
        i += 1
        yield i


_COUNTER = iter(_counter())


def require_columns(table: Any, columns: Iterable[str | None], *, source: Any, role: str = "column") -> None:
    """Raise :class:`InputError` naming the first missing column and the available ones."""
    # Ibis tables have .columns (names); pyarrow tables have .column_names
    available = list(table.column_names if hasattr(table, "column_names") else table.columns)
    wanted = [c for c in columns if c is not None]
    # a column that is itself required is no candidate ("missing y_pred, did you mean y_true?")
    candidates = [c for c in available if c not in wanted]
    for col in wanted:
        if col not in available:
            shown = ", ".join(available[:20]) + (", ..." if len(available) > 20 else "")
            raise InputError(
                f"{describe_source(source)}: missing {role} {col!r}{did_you_mean(col, candidates)}; "
                f"available columns: {shown}"
            )


#: kinds of files that ``--force`` never replaces: they hold state a person built up
PROTECTED_KINDS = ("store", "meta")
_SQLITE_MAGIC = b"SQLite format 3\x00"


def protected_kind(path: Path) -> str | None:
    """What ``path`` is, when it is a file ``--force`` must never replace; ``None`` otherwise.

    ``"store"``: a SQLite database (the run store, the tagging UI's working store), known by
    its header bytes whatever its name. ``"meta"``: an error sheet's ``.meta.json``.
    """
    try:
        with open(path, "rb") as fh:
            if fh.read(len(_SQLITE_MAGIC)) == _SQLITE_MAGIC:
                return "store"
    except OSError:
        return None
    if path.name.endswith(".meta.json"):
        return "meta"
    return None


_KIND_TEXT = {"store": "a SQLite store (run history or tagging state)", "meta": "an error sheet's meta file"}


def check_output_path(output: str | os.PathLike, *, inputs: Sequence[Any] = (), force: bool = False,
                      replaces: Sequence[str] = ()) -> Path:
    """Refuse to overwrite an input, a store, or an existing output without ``force``.

    Parameters
    ----------
    replaces : sequence of str, default=()
        Protected kinds (:data:`PROTECTED_KINDS`) this writer owns and may replace with
        ``force`` (``errors sample`` re-creates a sheet's meta file).
    """
    out = Path(output)
    for src in inputs:
        if isinstance(src, (str, os.PathLike)) and _same_file(out, Path(src)):
            raise InputError(f"{out}: the output path is the input file; mlstrat never overwrites "
                             "its input. Choose another -o path")
    if out.is_dir():
        raise InputError(f"{out}: is a folder; give a file path for the output")
    if out.exists():
        kind = protected_kind(out)
        if kind is not None and kind not in replaces:
            raise InputError(f"{out}: is {_KIND_TEXT[kind]}; mlstrat never overwrites it, even with "
                             "--force. Choose another -o path")
        if not force:
            raise InputError(f"{out}: already exists; pass --force (force=True) to overwrite it")
    parent = out.parent
    if not parent.exists():
        raise InputError(f"{out}: the folder {parent} does not exist; create it first")
    if not parent.is_dir():
        raise InputError(f"{out}: {parent} is not a folder; choose another -o path")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(f"{out}: the folder {parent} is not writable; choose another -o path")
    return out


def _same_file(a: Path, b: Path) -> bool:
    if a.exists() and b.exists():
        return os.path.samefile(a, b)
    return a.absolute() == b.absolute()


def _temp_path(final: Path) -> Path:
    """A fresh temporary name beside ``final``: ``.<name>.<pid>.<random>.tmp<suffix>``.

    The process id in the name lets the next writer of the same output remove what a killed
    process left (hundreds of MB for a large split) without touching a live writer's file.
    """
    _remove_stale_temps(final)
    fd, tmp = tempfile.mkstemp(prefix=f".{final.name}.{os.getpid()}.", suffix=".tmp" + final.suffix,
                               dir=final.parent)
    os.close(fd)
    os.unlink(tmp)  # writers want to create the file themselves
    return Path(tmp)


def _remove_stale_temps(final: Path) -> None:
    from mlstrat.tables._engine import _pid_alive

    prefix = f".{final.name}."
    try:
        entries = list(final.parent.iterdir())
    except OSError:
        return
    for entry in entries:
        name = entry.name
        if not (name.startswith(prefix) and ".tmp" in name[len(prefix):]):
            continue
        pid = name[len(prefix):].split(".", 1)[0]
        if pid.isdigit() and not _pid_alive(int(pid)):
            try:
                entry.unlink()
            except OSError:
                pass


def _replace(tmp: Path, final: Path) -> None:
    os.replace(tmp, final)
    try:  # make the rename durable on crash
        dfd = os.open(final.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` via a temporary file + rename: readers never see half a file."""
    final = Path(path)
    tmp = _temp_path(final)
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        _replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)
    return final


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def write_table(data: Any, path: str | os.PathLike, *, con: Any = None, force: bool = False,
                inputs: Sequence[Any] = ()) -> Path:
    """Write an Ibis expression or in-memory table to Parquet/CSV/JSONL, atomically.

    Ibis expressions stream through DuckDB's ``COPY`` (never materialized in Python).
    """
    final = check_output_path(path, inputs=inputs, force=force)
    fmt = _WRITERS.get(final.suffix.lower())
    if fmt is None:
        raise InputError(f"{final}: tables are written as {', '.join(sorted(_WRITERS))}")
    con = con or default_connection()
    expr = read_table(data, con=con) if not _is_expr(data) else data
    tmp = _temp_path(final)
    try:
        if fmt == "parquet":
            con.to_parquet(expr, str(tmp))
        elif fmt == "csv":
            con.to_csv(expr, str(tmp))
        else:
            import ibis
            import sqlglot.expressions as sge

            sql = ibis.to_sql(expr, dialect="duckdb")
            target = sge.Literal.string(str(tmp)).sql(dialect="duckdb")  # quoted by the SQL library
            con.raw_sql(f"COPY ({sql}) TO {target} (FORMAT JSON)").fetchall()
        _replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)
    return final


def _is_expr(obj: Any) -> bool:
    return callable(getattr(obj, "op", None)) and hasattr(obj, "schema")


def fingerprint(path: str | os.PathLike) -> str:
    """``"sha256:<hex>"`` of the file's bytes (streams in 1 MiB chunks)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return f"sha256:{digest.hexdigest()}"

"""Refuse a file whose header names a column twice.

The engines do not refuse such a file the same way: DuckDB renames the second copy
(``y_pred`` becomes ``y_pred_1``, a second ``proba_a`` a made-up class ``a_1``) and a command
would silently use the first; Spark renames CSV copies (``y_pred2``, ``y_pred3``) and refuses
Parquet and JSON ones in its own words. The header is read here, before the engine reads the
file: a Parquet or Arrow schema, the first record of a CSV, the keys of a JSON file's first
object. The cost is one footer or a few lines per file, never the data.
"""

from __future__ import annotations

import csv
import gzip
import json
import re
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from mlstrat._exceptions import InputError
from mlstrat.tables._files import part_files

__all__ = ["refuse_duplicate_columns", "duplicate_column_error"]

#: DuckDB's sniffer tries these delimiters; Spark reads CSV with a comma (the reader's default)
_DUCKDB_DELIMITERS = (",", "\t", ";", "|")
#: the most a header (or a JSON file's first object) may take to be checked
_HEAD_BYTES = 64 << 20
_HEAD_LINES = 200
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def refuse_duplicate_columns(path: Path, fmt: str, *, engine: str) -> None:
    """Raise :class:`InputError` when the header of ``path`` (a file, or the first part file of a
    folder) names a column twice as ``engine`` (``duckdb`` or ``spark``) compares names.

    A header that cannot be read here is left to the engine, which reports its own error.
    """
    first = _first_file(path, fmt)
    if first is None:
        return
    names = _header_names(first, fmt, engine=engine)
    if names is None:
        return
    same = _name_key(fmt, engine)
    groups: dict[str, list[str]] = {}
    for name in names:
        if same(name):  # an empty name is named by its position (column1, _c1): no copy of another
            groups.setdefault(same(name), []).append(name)
    copies = next((spelled for spelled in groups.values() if len(spelled) > 1), None)
    if copies is not None:
        raise _duplicate(first, copies, engine=engine)


def duplicate_column_error(source: object, exc: BaseException) -> InputError | None:
    """The engine's own refusal of a duplicated name (a file not checked beforehand: a URI) as
    mlstrat's line; ``None`` for any other error."""
    text = str(exc)
    found = (re.search(r"COLUMN_ALREADY_EXISTS\] The column `([^`]*)`", text)  # Spark
             or re.search(r'has duplicate key "([^"]*)"', text))  # DuckDB's JSON reader
    if found is None:
        return None
    return InputError(f"{source}: column {found.group(1)!r} appears more than once in the header; "
                      "rename or drop the copies")


def _duplicate(path: Path, copies: list[str], *, engine: str) -> InputError:
    spelled = sorted(set(copies), key=copies.index)
    how = ""
    if len(spelled) > 1:  # the engine takes names that differ in case (or spaces) for one
        label = "Spark" if engine == "spark" else "DuckDB"
        quoted = [repr(n) for n in spelled]
        how = f" (as {', '.join(quoted[:-1])} and {quoted[-1]}, which {label} takes for one name)"
    return InputError(f"{path}: column {copies[0]!r} appears {len(copies)} times in the header{how}; "
                      "rename or drop the copies")


def _name_key(fmt: str, engine: str) -> Callable[[str], str]:
    """How the engine compares names: Spark ignores case (``spark.sql.caseSensitive`` is off by
    default); DuckDB ignores ASCII case only (``É`` and ``é`` stay two columns), and trims the
    names of a CSV header."""
    if engine == "spark":
        return str.lower
    if fmt == "csv":
        return lambda name: name.strip().translate(_ASCII_LOWER)
    return lambda name: name.translate(_ASCII_LOWER)


def _first_file(path: Path, fmt: str) -> Path | None:
    """``path``, or the first part file of a folder (the one both engines take the schema from)."""
    if not path.is_dir():
        return path
    files = part_files(path, fmt)
    return files[0] if files else None


def _header_names(path: Path, fmt: str, *, engine: str) -> Sequence[str] | None:
    readers = {"parquet": _parquet_names, "arrow": _arrow_names, "json": _json_names}
    try:
        if fmt == "csv":
            return _csv_names(path, (",",) if engine == "spark" else _DUCKDB_DELIMITERS)
        return readers[fmt](path) if fmt in readers else None
    except Exception:  # a damaged or unusual file: the engine's reader says what is wrong with it
        return None


def _parquet_names(path: Path) -> Sequence[str]:
    import pyarrow.parquet as pq

    return pq.read_schema(path).names  # the footer only; duplicates are kept


def _arrow_names(path: Path) -> Sequence[str]:
    import pyarrow as pa

    with pa.memory_map(str(path)) as source:
        try:
            return pa.ipc.open_file(source).schema.names
        except pa.ArrowInvalid:  # the stream format
            source.seek(0)
            return pa.ipc.open_stream(source).schema.names


def _text_lines(path: Path) -> Iterator[str]:
    """The file's lines as text (a byte-order mark dropped, as the engines drop it)."""
    name = path.name.lower()
    if name.endswith(".gz"):
        fh = gzip.open(path, "rt", encoding="utf-8-sig", errors="replace", newline="")
    elif name.endswith(".zst"):
        import zstandard  # absent: the header is left to the engine (the caller catches it)

        fh = zstandard.open(path, "rt", encoding="utf-8-sig", errors="replace", newline="")
    else:
        fh = open(path, encoding="utf-8-sig", errors="replace", newline="")
    with fh:
        read = 0
        for line in fh:
            read += len(line)
            if read > _HEAD_BYTES:
                return
            yield line


def _csv_names(path: Path, delimiters: Sequence[str]) -> Sequence[str] | None:
    """The first record cut by the delimiter that cuts it into the most fields, the first of
    ``delimiters`` on a tie (the sniffer's choice, without its cost)."""
    best: list[str] | None = None
    for delimiter in delimiters:
        record = next(csv.reader(_text_lines(path), delimiter=delimiter, quotechar='"', doublequote=True), None)
        if record is not None and (best is None or len(record) > len(best)):
            best = record
    return best


def _json_names(path: Path) -> Sequence[str] | None:
    """The keys of the first object (of a JSON Lines file, or of a JSON array), copies kept."""
    text = "".join(_head_lines(path))
    start = len(text) - len(text.lstrip())
    if text[start:start + 1] == "[":
        start = len(text) - len(text[start + 1:].lstrip())
    keys: list[str] = []

    def collect(pairs: list[tuple[str, object]]) -> dict[str, object]:
        keys[:] = [k for k, _v in pairs]  # the outermost object is decoded last
        return dict(pairs)

    json.JSONDecoder(object_pairs_hook=collect).raw_decode(text, start)
    return keys


def _head_lines(path: Path) -> Iterator[str]:
    """Lines until the first object can be decoded (a JSON Lines record is one line)."""
    decoder = json.JSONDecoder()
    text = ""
    for count, line in enumerate(_text_lines(path)):
        if count == _HEAD_LINES:  # a first object this long is left to the engine
            return
        text += line
        yield line
        body = text.lstrip().lstrip("[").lstrip()
        try:
            decoder.raw_decode(body)
        except ValueError:
            continue
        return

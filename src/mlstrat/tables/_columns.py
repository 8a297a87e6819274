"""Which columns a command reads, and the header of a wide CSV read without parsing its rows.

A command names the columns it needs (:class:`ColumnSelection`); the readers give it a table
of those columns only. For a wide CSV this is what keeps the cost of a command independent of
the columns it does not use: the engine's sniffer and the query compiler both grow with the
number of columns (DuckDB's sniffer takes tens of seconds on 20 000 columns even for one row
of sample), so the header is read here from the first lines, and only the selected columns are
converted (see ``DuckDBEngine.read``).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ColumnSelection", "select_columns", "CsvHeader", "plain_csv_header"]


@dataclass(frozen=True)
class ColumnSelection:
    """The columns a command reads: ``names``, and every name that starts with one of ``prefixes``.

    Absent names are not an error here: the command checks what it requires, with the file's
    full list of columns in its message.
    """

    names: frozenset[str] = frozenset()
    prefixes: tuple[str, ...] = ()

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and (name in self.names or name.startswith(self.prefixes))

    def of(self, header: Iterable[str]) -> list[str]:
        """The selected names of ``header``, in the header's order."""
        return [c for c in header if c in self]

    def plus(self, *names: str | None) -> ColumnSelection:
        return ColumnSelection(self.names | {n for n in names if n}, self.prefixes)


def select_columns(*names: str | None, prefixes: Sequence[str] = ()) -> ColumnSelection:
    """A :class:`ColumnSelection` of ``names`` (``None`` entries skipped) and ``prefixes``."""
    return ColumnSelection(frozenset(n for n in names if n), tuple(prefixes))


@dataclass(frozen=True)
class CsvHeader:
    """The column names and delimiter of a CSV whose header DuckDB reads verbatim."""

    names: tuple[str, ...]
    delimiter: str


#: lines read to find the delimiter: the header and the first rows
_SAMPLE_LINES = 20
_MAX_LINE = 64 << 20
# DuckDB's sniffer tries these delimiters (with the double quote as quote and escape)
_DELIMITERS = (",", "\t", ";", "|")


def plain_csv_header(path: Path) -> CsvHeader | None:
    """The header of ``path`` from its first lines, or ``None`` when it is not plain.

    The delimiter is the candidate (``,``, tab, ``;``, ``|``) that cuts the header and the
    first rows into the same number of fields (more than one). Plain means that DuckDB would
    keep every name as written: none empty, none with surrounding spaces, no two equal ignoring
    case (DuckDB renames those), no byte-order mark, and not every name a number (the first line
    could then be data). Any other file is read by the engine's own sniffer.
    """
    try:
        with open(path, "rb") as fh:
            raw = [fh.readline(_MAX_LINE) for _ in range(_SAMPLE_LINES)]
        # the names must be UTF-8; a bad byte in a row is the business of whoever reads its column
        lines = [raw[0].decode("utf-8")] + [line.decode("utf-8", errors="replace") for line in raw[1:]]
    except (OSError, UnicodeDecodeError):
        return None
    lines = [line for line in lines if line]
    if not lines or any(len(line) >= _MAX_LINE for line in lines):
        return None
    if len(lines) == _SAMPLE_LINES and len(lines) > 2:
        lines = lines[:-1]  # the last line may end inside a quoted field that goes on
    found = [h for h in (_split_with(lines, d) for d in _DELIMITERS) if h is not None]
    if not found:
        return None
    header = max(found, key=lambda h: len(h.names))
    return header if _verbatim(header.names) else None


def _split_with(lines: list[str], delimiter: str) -> CsvHeader | None:
    try:
        records = [r for r in csv.reader(io.StringIO("".join(lines)), delimiter=delimiter, quotechar='"',
                                         doublequote=True, strict=True) if r]
    except csv.Error:
        return None
    widths = {len(r) for r in records}
    if len(widths) != 1 or widths == {1}:
        return None
    return CsvHeader(tuple(records[0]), delimiter)


def _verbatim(names: Sequence[str]) -> bool:
    if any(not n or n != n.strip() or n.startswith("\ufeff") for n in names):
        return False
    if len({n.casefold() for n in names}) != len(names):
        return False
    return not all(_is_number(n) for n in names)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True

"""Sheet cells safe to open in a spreadsheet, and read back exactly as they were.

A cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is a formula to
Excel, LibreOffice and Google Sheets (CSV injection): a data value or a comment such as
``=HYPERLINK(...)`` would run when the sheet is opened. On export such a cell gets a leading
apostrophe (the spreadsheet convention for "text"); on read one leading apostrophe before such
a character is removed. Cells that already start with apostrophes before a trigger get one
more, so the mapping is exactly reversible. Plain numbers (``-0.5``, ``+3``) are left alone.
"""

from __future__ import annotations

import csv
import re
import sys

__all__ = ["neutralize", "restore", "allow_large_fields"]

_TRIGGER = re.compile(r"^'*[=+\-@\t\r]")
_ESCAPED = re.compile(r"^'+[=+\-@\t\r]")
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def neutralize(cell: str) -> str:
    """The cell as written to the CSV (a leading ``'`` before a formula trigger)."""
    if _TRIGGER.match(cell) and not _NUMBER.match(cell):
        return "'" + cell
    return cell


def restore(cell: str) -> str:
    """Inverse of :func:`neutralize`."""
    if _ESCAPED.match(cell) and not _NUMBER.match(cell[1:]):
        return cell[1:]
    return cell


def allow_large_fields() -> None:
    """Lift the csv module's 131 072-character field limit (long documents, long comments)."""
    limit = sys.maxsize
    while True:
        try:
            csv.field_size_limit(limit)
            return
        except OverflowError:  # C long is 32 bits on some platforms
            limit //= 2

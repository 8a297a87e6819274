"""Each table cell of the report names its column (``data-label``), so that on a phone the
stylesheet can show a row as a stack of "column: value" lines instead of a table whose
figures lie off the right edge of the screen (the page stays script-free for mail).

The page is the report template's own output: user text in it is already escaped, so a
``<td`` or ``<table`` in the markup can only be the template's.
"""

from __future__ import annotations

import html as _html
import re

__all__ = ["label_cells"]

_TABLE = re.compile(r"<table\b.*?</table>", re.S)
_HEAD = re.compile(r"<thead>(.*?)</thead>", re.S)
_HEADER_CELL = re.compile(r"<th\b[^>]*>(.*?)</th>", re.S)
_ROW = re.compile(r"<tr\b[^>]*>.*?</tr>", re.S)
_CELL = re.compile(r"<td\b")
_TAG = re.compile(r"<[^>]+>")


def _header_labels(head: str) -> list[str]:
    """The text of each ``<th>``, as an attribute value (markup dropped, quotes escaped)."""
    texts = (_html.unescape(_TAG.sub("", cell)).strip() for cell in _HEADER_CELL.findall(head))
    return [_html.escape(text, quote=True) for text in texts]


def _label_row(row: str, labels: list[str]) -> str:
    names = iter(labels)
    return _CELL.sub(lambda _: f'<td data-label="{next(names, "")}"', row)


def _label_table(table: str) -> str:
    head = _HEAD.search(table)
    if head is None:
        return table
    labels = _header_labels(head.group(1))
    body = _ROW.sub(lambda row: _label_row(row.group(0), labels), table[head.end():])
    return table[:head.end()] + body


def label_cells(page: str) -> str:
    """``page`` with ``data-label="<column header>"`` on every body cell of every table."""
    return _TABLE.sub(lambda table: _label_table(table.group(0)), page)

"""The error-analysis sheet: its CSV format, its meta file, and reading it back as a person left
it (the tags, the comments, which rows were reviewed).

The sheet is a plain CSV (it must open in any spreadsheet program); what the summary needs
besides the tags (the split's error, the predictions' fingerprint, ...) lives in
``<sheet>.meta.json`` beside it.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlstrat._constants import SPLITS
from mlstrat._exceptions import ConfigError, InputError
from mlstrat._numbers import did_you_mean
from mlstrat.errors._categories import TAGGED_MARKS, UNTAGGED_MARKS
from mlstrat.errors._csvsafe import allow_large_fields, neutralize, restore

__all__ = [
    "Sheet",
    "read_sheet",
    "meta_path",
    "read_meta",
    "is_loss_sheet",
    "write_sheet_csv",
    "SHEET_FORMAT",
    "REVIEWED",
]

SHEET_FORMAT = "mlstrat-error-sheet/1"
_COMMENT = "comment"
#: optional column: whether a row has been examined (the UI fills it; absent = all were)
REVIEWED = "reviewed"
_SAMPLED_AS = "sampled_as"


def meta_path(sheet: str | os.PathLike) -> Path:
    """``sheet.csv`` -> ``sheet.csv.meta.json``."""
    sheet = Path(sheet)
    return sheet.with_name(sheet.name + ".meta.json")


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise ConfigError(
            f"split: unknown split {split!r}{did_you_mean(split, SPLITS)}; "
            f"allowed: {', '.join(SPLITS)}"
        )


def write_sheet_csv(header: list[str], rows: list[dict[str, str]]) -> str:
    """The sheet as CSV text (RFC 4180 quoting, ``\\n`` line ends)."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=header, lineterminator="\n", extrasaction="ignore")
    writer.writerow({k: neutralize(k) for k in header})
    for row in rows:
        writer.writerow({k: neutralize(str(row.get(k, ""))) for k in header})
    return buf.getvalue()


@dataclass(frozen=True)
class Sheet:
    """A sheet as a person left it.

    Attributes
    ----------
    path : Path
    meta : dict
        The ``.meta.json`` content.
    header : list of str
        Columns in file order.
    fixed : list of str
        Non-category columns (from the meta file) present in the header.
    categories : list of str
        Category columns: every column that is neither fixed nor ``comment`` nor
        ``reviewed`` (new columns added while tagging are categories).
    rows : list of dict
        Raw cell text per row.
    marks : list of frozenset of str
        Tagged categories per row.
    is_error : list of bool
        Whether each row was sampled as a misclassified row.
    reviewed : list of bool or None
        The ``reviewed`` column's marks; ``None`` when the sheet has no such column (then
        every row counts as reviewed).
    """

    path: Path
    meta: dict[str, Any]
    header: list[str]
    fixed: list[str]
    categories: list[str]
    rows: list[dict[str, str]] = field(repr=False)
    marks: list[frozenset[str]] = field(repr=False)
    is_error: list[bool] = field(repr=False)
    reviewed: list[bool] | None = field(default=None, repr=False)


def parse_mark(value: str | None, *, where: str) -> bool:
    """``True`` for a tagged mark, ``False`` for an empty one; :class:`InputError` otherwise."""
    text = (value or "").strip()
    key = text.lower()
    if key in TAGGED_MARKS:
        return True
    if key in UNTAGGED_MARKS:
        return False
    raise InputError(
        f"{where}: unknown mark {text!r}; use 1, x, yes, true or ✓ for tagged "
        "and leave it empty (or 0, no) for not tagged"
    )


def is_loss_sheet(sheet: str | os.PathLike) -> bool:
    """Whether ``sheet`` is a loss sheet (``errors sample --metric``): its meta file records a
    ``total_loss``. False when the sheet or its meta file cannot be read; :func:`read_sheet`
    says what is wrong with them."""
    sheet = Path(sheet)
    if not sheet.is_file():
        return False
    path = meta_path(sheet)
    if not path.exists():
        return False
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, OSError):
        return False
    return isinstance(doc, dict) and "total_loss" in doc


def read_meta(sheet: Path) -> dict[str, Any]:
    """The validated content of ``sheet``'s meta file.

    Raises
    ------
    InputError
        The meta file is missing, is not JSON, or lacks or mangles the keys the summary needs.
    """
    mpath = meta_path(sheet)
    if not mpath.exists():
        raise InputError(
            f"{sheet}: its meta file {mpath.name} is missing (it records the split's error that the "
            "ceilings need); re-create the sheet with 'mlstrat errors sample PREDICTIONS --split dev "
            f"-o {sheet.name}' and copy your tags into it"
        )
    try:
        meta = json.loads(mpath.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(
            f"{mpath}: is not valid JSON ({exc}); re-create it with 'mlstrat errors sample'"
        ) from None
    required = ("split", "split_error", "columns")
    missing = [k for k in required if k not in meta] if isinstance(meta, dict) else list(required)
    if missing:
        raise InputError(
            f"{mpath}: not an error-sheet meta file (missing {', '.join(missing) or 'keys'}); "
            "re-create it with 'mlstrat errors sample'"
        )
    _check_meta_values(mpath, meta)
    return meta


def _check_meta_values(mpath: Path, meta: dict[str, Any]) -> None:
    """The values the summary computes with: a hand-edited meta file fails here, in one line."""
    error = meta["split_error"]
    number = not isinstance(error, bool) and isinstance(error, (int, float)) and math.isfinite(error)
    if "total_loss" in meta:  # a loss sheet (errors sample --metric): the figure is in the metric's unit
        if not number:
            raise InputError(f"{mpath}: split_error is {error!r}; it must be a finite number (the split's "
                             "metric). Re-create the meta file with 'mlstrat errors sample'")
    elif not number or not 0 <= error <= 1:
        raise InputError(f"{mpath}: split_error is {error!r}; it must be a number from 0 to 1 (the "
                         "split's error rate). Re-create the meta file with 'mlstrat errors sample'")
    if not isinstance(meta["split"], str):
        raise InputError(f"{mpath}: split is {meta['split']!r}; it must be a split name such as 'dev'")
    columns = meta["columns"]
    if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
        raise InputError(f"{mpath}: columns must be a list of column names")


def read_sheet(sheet: str | os.PathLike) -> Sheet:
    """Read and validate a sheet and its meta file.

    Raises
    ------
    InputError
        Missing sheet or meta file, no ``id`` column, duplicate column names, or a mark that
        is neither tagged nor empty (the message names row, column and value).
    """
    path = Path(sheet)
    if not path.exists():
        raise InputError(f"{path}: no such file; check the path")
    if not path.is_file():
        raise InputError(f"{path}: is not a file; give the sheet's CSV file")
    meta = read_meta(path)
    try:
        text = path.read_text(encoding="utf-8-sig")  # spreadsheet programs add a BOM
    except UnicodeDecodeError:
        raise InputError(f"{path}: is not UTF-8 text; save the sheet as CSV UTF-8") from None
    allow_large_fields()
    reader = (list(map(restore, cells)) for cells in csv.reader(io.StringIO(text)))
    header = _read_header(path, reader)
    known_fixed = set(meta.get("columns") or [])
    fixed = [h for h in header if h in known_fixed]
    categories = [
        h for h in header if h and h not in known_fixed and h not in (_COMMENT, REVIEWED)
    ]
    has_reviewed = REVIEWED in header
    rows, marks, is_error, reviewed = _read_rows(path, reader, header, categories)
    return Sheet(
        path=path,
        meta=meta,
        header=header,
        fixed=fixed,
        categories=categories,
        rows=rows,
        marks=marks,
        is_error=is_error,
        reviewed=reviewed if has_reviewed else None,
    )


def _read_header(path: Path, reader: Iterator[list[str]]) -> list[str]:
    """The header row: no duplicate names (case aside), an ``id`` column."""
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise InputError(f"{path}: the file is empty; expected the sheet's header") from None
    seen: dict[str, int] = {}
    for h in header:
        key = h.lower()
        if key in seen and h:
            raise InputError(
                f"{path}: column {h!r} appears twice in the header (duplicate category "
                "name); rename or merge one of them"
            )
        seen[key] = 1
    if "id" not in header:
        for sep, name in ((";", "semicolons"), ("\t", "tabs")):
            if len(header) == 1 and "id" in (h.strip() for h in header[0].split(sep)):
                # a spreadsheet whose regional setting uses the comma as the decimal mark saves
                # "CSV" with semicolons
                raise InputError(f"{path}: its columns are separated by {name}, not commas; save the sheet "
                                 "as CSV UTF-8 (comma-delimited)")
        raise InputError(
            f"{path}: missing column 'id'; the sheet's columns are {', '.join(header)}"
        )
    return header


def _read_rows(
    path: Path, reader: Iterator[list[str]], header: list[str], categories: list[str]
) -> tuple[list[dict[str, str]], list[frozenset[str]], list[bool], list[bool]]:
    """(cells per row, tagged categories per row, whether sampled as an error, the ``reviewed``
    marks: empty without that column); blank lines are skipped."""
    has_reviewed = REVIEWED in header
    rows: list[dict[str, str]] = []
    marks: list[frozenset[str]] = []
    is_error: list[bool] = []
    reviewed: list[bool] = []
    for number, cells in enumerate(reader, start=1):
        if not any(c.strip() for c in cells):
            continue  # blank line
        cells = cells + [""] * (len(header) - len(cells))
        row = {h: cells[i] for i, h in enumerate(header) if h}
        rows.append(row)
        tagged = set()
        for cat in categories:
            where = f"{path}: row {number} (id {row['id']!r}), column {cat!r}"
            if parse_mark(row.get(cat), where=where):
                tagged.add(cat)
        marks.append(frozenset(tagged))
        if has_reviewed:
            where = f"{path}: row {number} (id {row['id']!r}), column {REVIEWED!r}"
            reviewed.append(parse_mark(row.get(REVIEWED), where=where))
        kind = row.get(_SAMPLED_AS, "error").strip().lower() or "error"
        is_error.append(kind != "correct")
    return rows, marks, is_error, reviewed

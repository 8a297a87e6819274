"""The UI's working store: SQLite (WAL) beside the sheet, the CSV re-exported after each change.

Durability contract: a change is acknowledged only after its SQLite transaction committed
(``synchronous=FULL``) and the CSV was rewritten atomically (temp file + rename). A SIGKILL
at any point therefore loses no acknowledged change:

- killed after the commit, before the export: on restart the CSV still matches the last
  export's fingerprint, so the database (newer) wins and the CSV is re-exported;
- killed after the export, before its fingerprint was recorded: the CSV differs from the
  recorded fingerprint and is re-imported; it holds every committed change.

A CSV edited by hand while the UI was stopped is detected the same way and re-imported.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import sqlite3
import threading
from pathlib import Path
from typing import Any

from mlstrat._exceptions import ConfigError, InputError
from mlstrat.errors._categories import parse_categories
from mlstrat.errors._csvsafe import allow_large_fields, neutralize
from mlstrat.errors._sheet import REVIEWED, read_sheet
from mlstrat.errors._summary import ErrorSummary, summarize_marks
from mlstrat.sealing._ledger import rollback

__all__ = ["TagStore", "store_path"]

_COMMENT = "comment"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS rows (pos INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS categories (pos INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS tags (id TEXT NOT NULL, category TEXT NOT NULL, PRIMARY KEY (id, category));
CREATE TABLE IF NOT EXISTS comments (id TEXT PRIMARY KEY, text TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS reviewed (id TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS unowned (id TEXT PRIMARY KEY, cells TEXT NOT NULL);
"""
# A column with an empty header is kept in the header under this prefix plus its position; its
# cells, and cells beyond the header, are data the UI does not own: written back as they came.
_UNNAMED = "\x00"


def _unowned_cells(text: str, header: list[str]) -> list[dict[str, Any]]:
    """Per data row (blank lines skipped as :func:`read_sheet` skips them): the cells of the
    columns without a header name, by placeholder, and the cells beyond the header."""
    allow_large_fields()
    reader = csv.reader(io.StringIO(text))
    next(reader, None)
    out = []
    for cells in reader:
        if not any(c.strip() for c in cells):
            continue
        named = {f"{_UNNAMED}{i}": cells[i] for i, h in enumerate(header) if not h and i < len(cells)}
        out.append({"at": named, "tail": cells[len(header):]})
    return out


def store_path(sheet: str | os.PathLike) -> Path:
    """``sheet.csv`` -> ``sheet.csv.ui.sqlite``."""
    sheet = Path(sheet)
    return sheet.with_name(sheet.name + ".ui.sqlite")


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class TagStore:
    """Tags, comments and categories of one sheet, durable in SQLite.

    Parameters
    ----------
    sheet : path-like
        The CSV sheet (its ``.meta.json`` must be beside it).
    mislabeled : str, default="mislabeled"
        The category that splits the error for the live summary.
    """

    def __init__(self, sheet: str | os.PathLike, *, mislabeled: str = "mislabeled") -> None:
        self.sheet = Path(sheet)
        self.mislabeled = mislabeled
        data = read_sheet(self.sheet)  # validates the path, the meta file and every mark
        self.path = store_path(self.sheet)
        self._lock = threading.Lock()
        self.meta = data.meta
        self._con = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._con.execute("PRAGMA journal_mode=WAL")
        self._con.execute("PRAGMA synchronous=FULL")
        self._con.executescript(_SCHEMA)
        with self._lock:
            current = _digest(self.sheet.read_bytes())
            if self._state("exported") != current:
                self._import(data)
            self._export()

    # ----- reading -----------------------------------------------------------------------
    def _state(self, key: str, default: str | None = None) -> str | None:
        row = self._con.execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
        return row[0] if row else default

    @property
    def header(self) -> list[str]:
        return json.loads(self._state("header") or "[]")

    @property
    def fixed(self) -> list[str]:
        return json.loads(self._state("fixed") or "[]")

    def categories(self) -> list[str]:
        return [r[0] for r in self._con.execute("SELECT name FROM categories ORDER BY pos")]

    def rows(self) -> list[dict[str, Any]]:
        """Every row: its cells plus ``tags`` (list), ``comment`` and ``reviewed`` (bool).

        A row is reviewed once tagged, or marked "no category" (:meth:`set_tag` with
        ``OTHER_CAUSES``); looking at it is not enough.
        """
        seen = {r[0] for r in self._con.execute("SELECT id FROM reviewed")}
        tags: dict[str, list[str]] = {}
        order = {c: i for i, c in enumerate(self.categories())}
        for rid, cat in self._con.execute("SELECT id, category FROM tags"):
            tags.setdefault(rid, []).append(cat)
        comments = dict(self._con.execute("SELECT id, text FROM comments").fetchall())
        out = []
        for pos, rid, data in self._con.execute("SELECT pos, id, data FROM rows ORDER BY pos"):
            cells = json.loads(data)
            out.append(
                {
                    "pos": pos,
                    "id": rid,
                    "cells": cells,
                    "tags": sorted(tags.get(rid, []), key=lambda c: order.get(c, 1 << 30)),
                    "comment": comments.get(rid, ""),
                    "reviewed": rid in seen or rid in tags,
                }
            )
        return out

    def row(self, pos: int) -> dict[str, Any] | None:
        rows = self.rows()
        return rows[pos] if 0 <= pos < len(rows) else None

    def position(self) -> int:
        return int(self._state("position", "0") or 0)

    def summary(self) -> ErrorSummary:
        rows = self.rows()
        return summarize_marks(
            split=str(self.meta["split"]),
            split_error=float(self.meta["split_error"]),
            categories=self.categories(),
            marks=[frozenset(r["tags"]) for r in rows],
            is_error=[
                r["cells"].get("sampled_as", "error").strip().lower() != "correct" for r in rows
            ],
            ids=[r["id"] for r in rows],
            reviewed=[r["reviewed"] for r in rows],
            mislabeled=self.mislabeled,
        )

    def progress(self) -> dict[str, int]:
        rows = self.rows()
        return {
            "tagged": sum(1 for r in rows if r["tags"]),
            "reviewed": sum(1 for r in rows if r["reviewed"]),
            "total": len(rows),
        }

    # ----- writing (each public method = one transaction, then the CSV export) --------------
    def _import(self, data: Any) -> None:
        ids = [r["id"] for r in data.rows]
        dup = next((i for i in ids if ids.count(i) > 1), None)
        if dup is not None:
            raise InputError(
                f"{self.sheet}: id {dup!r} appears more than once; every row needs its own id"
            )
        con = self._con
        con.execute("BEGIN IMMEDIATE")
        try:
            for table in ("rows", "categories", "tags", "comments", "unowned", "reviewed"):
                con.execute(f"DELETE FROM {table}")
            drop = set(data.categories) | {_COMMENT, REVIEWED}
            text = self.sheet.read_text(encoding="utf-8-sig")
            unowned = _unowned_cells(text, data.header)
            for pos, row in enumerate(data.rows):
                cells = {k: v for k, v in row.items() if k not in drop}
                con.execute(
                    "INSERT INTO rows VALUES (?, ?, ?)", (pos, row["id"], json.dumps(cells))
                )
                if unowned[pos]["at"] or unowned[pos]["tail"]:
                    con.execute("INSERT INTO unowned VALUES (?, ?)", (row["id"], json.dumps(unowned[pos])))
                for cat in data.marks[pos]:
                    con.execute("INSERT INTO tags VALUES (?, ?)", (row["id"], cat))
                if row.get(_COMMENT, "").strip():
                    con.execute("INSERT INTO comments VALUES (?, ?)", (row["id"], row[_COMMENT]))
                # without a reviewed column, rows someone tagged or commented were looked at
                looked = (
                    data.reviewed[pos]
                    if data.reviewed is not None
                    else bool(data.marks[pos] or row.get(_COMMENT, "").strip())
                )
                if looked:
                    con.execute("INSERT OR IGNORE INTO reviewed VALUES (?)", (row["id"],))
            for pos, cat in enumerate(data.categories):
                con.execute("INSERT INTO categories VALUES (?, ?)", (pos, cat))
            header = [h or f"{_UNNAMED}{i}" for i, h in enumerate(data.header)]
            if _COMMENT not in header:
                header.append(_COMMENT)
            if REVIEWED not in header:
                header.append(REVIEWED)
            self._set("header", json.dumps(header))
            self._set("fixed", json.dumps(data.fixed))
            position = int(self._state("position", "0") or 0)
            self._set("position", str(min(position, max(len(data.rows) - 1, 0))))
            con.execute("COMMIT")
        except BaseException:
            rollback(con)
            raise

    def _set(self, key: str, value: str) -> None:
        self._con.execute(
            "INSERT INTO state VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    def _export(self) -> None:
        from mlstrat.tables import atomic_write_bytes

        cats = self.categories()
        header = self.header
        unowned = {rid: json.loads(v) for rid, v in self._con.execute("SELECT id, cells FROM unowned")}
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(["" if h.startswith(_UNNAMED) else neutralize(h) for h in header])
        for r in self.rows():
            cells = dict(r["cells"])
            cells.update({c: ("1" if c in r["tags"] else "") for c in cats})
            cells[_COMMENT] = r["comment"]
            cells[REVIEWED] = "1" if r["reviewed"] else ""
            kept = unowned.get(r["id"], {"at": {}, "tail": []})
            writer.writerow([kept["at"].get(h, "") if h.startswith(_UNNAMED) else neutralize(str(cells.get(h, "")))
                             for h in header] + kept["tail"])
        data = buf.getvalue().encode("utf-8")
        atomic_write_bytes(self.sheet, data)
        self._con.execute("BEGIN IMMEDIATE")
        self._set("exported", _digest(data))
        self._con.execute("COMMIT")

    def _transaction(self, statements: list[tuple[str, tuple[Any, ...]]]) -> None:
        con = self._con
        con.execute("BEGIN IMMEDIATE")
        try:
            for sql, args in statements:
                con.execute(sql, args)
            con.execute("COMMIT")
        except BaseException:
            rollback(con)
            raise

    def _require_row(self, row_id: str) -> None:
        if self._con.execute("SELECT 1 FROM rows WHERE id = ?", (row_id,)).fetchone() is None:
            raise InputError(f"unknown row id {row_id!r}")

    def set_tag(self, row_id: str, category: str, on: bool) -> None:
        """Tag (``on=True``) or untag a row; durable when this returns.

        The category :data:`~mlstrat.errors._summary.OTHER_CAUSES` is the explicit "no
        category" mark: it makes an untagged row count as reviewed (``on=False`` takes it back).
        """
        from mlstrat.errors._summary import OTHER_CAUSES

        with self._lock:
            self._require_row(row_id)
            if category == OTHER_CAUSES:
                sql = "INSERT OR IGNORE INTO reviewed VALUES (?)" if on else "DELETE FROM reviewed WHERE id = ?"
                self._transaction([(sql, (row_id,))])
                self._export()
                return
            if category not in self.categories():
                raise InputError(f"unknown category {category!r}; add it first")
            sql = (
                "INSERT OR IGNORE INTO tags VALUES (?, ?)"
                if on
                else "DELETE FROM tags WHERE id = ? AND category = ?"
            )
            self._transaction([(sql, (row_id, category))])
            self._export()

    def set_comment(self, row_id: str, text: str) -> None:
        """Set a row's comment; durable when this returns."""
        with self._lock:
            self._require_row(row_id)
            text = text.replace("\r\n", "\n")
            if text.strip():
                stmt = (
                    "INSERT INTO comments VALUES (?, ?) ON CONFLICT(id) DO UPDATE SET text = excluded.text",
                    (row_id, text),
                )
            else:
                stmt = ("DELETE FROM comments WHERE id = ?", (row_id,))
            self._transaction([stmt])
            self._export()

    def add_category(self, name: str) -> str:
        """Add a category column (before ``comment``); durable when this returns."""
        with self._lock:
            existing = self.categories()
            clash = next((c for c in existing if c.lower() == name.strip().lower()), None)
            if clash is not None:
                raise ConfigError(f"category {name.strip()!r} already exists (as {clash!r})")
            parsed = parse_categories([name], reserved=tuple(self.header))
            if not parsed:
                raise ConfigError("category: the name is empty; type a name such as 'blurry'")
            if len(parsed[0]) > 80:
                raise ConfigError("category: names are at most 80 characters")
            cat = parsed[0]
            header = self.header
            at = header.index(_COMMENT) if _COMMENT in header else len(header)
            header.insert(at, cat)
            self._transaction(
                [
                    (
                        "INSERT INTO categories VALUES ((SELECT COALESCE(MAX(pos), -1) + 1 FROM categories), ?)",
                        (cat,),
                    ),
                    (
                        "INSERT INTO state VALUES ('header', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                        (json.dumps(header),),
                    ),
                ]
            )
            self._export()
            return cat

    def set_position(self, pos: int) -> None:
        """Remember where the user is (restart resumes there).

        Moving never marks a row reviewed: only a tag or the explicit "no category" mark does
        (a row glanced at on the way back is not an error of "other causes").
        """
        with self._lock:
            n = self._con.execute("SELECT COUNT(*) FROM rows").fetchone()[0]
            pos = max(0, min(int(pos), max(n - 1, 0)))
            self._transaction([
                (
                    "INSERT INTO state VALUES ('position', ?) ON CONFLICT(key) "
                    "DO UPDATE SET value = excluded.value",
                    (str(pos),),
                )
            ])

    def close(self) -> None:
        self._con.close()

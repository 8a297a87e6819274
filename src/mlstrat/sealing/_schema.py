"""The SQLite schema of the run store and its migrations.

Every database records the migrations applied to it in ``schema_version`` (one row per
version). Opening a store applies the missing ones in order, inside one ``BEGIN IMMEDIATE``
transaction, so two processes opening the same old database migrate it exactly once.
A new version appends one entry to :data:`MIGRATIONS`; entries are never edited afterwards.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Callable
from datetime import datetime, timezone

__all__ = ["SCHEMA_VERSION", "MIGRATIONS", "current_version", "migrate", "config_hash"]


def config_hash(config: object) -> str | None:
    """``"sha256:<hex>"`` of the canonical JSON of ``config`` (key order does not matter)."""
    if config is None:
        return None
    text = json.dumps(config, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def _v1(conn: sqlite3.Connection) -> None:
    # The first layout: one row per run, JSON documents as text.
    conn.execute("""
        CREATE TABLE runs (
            id TEXT PRIMARY KEY,
            created_at TEXT NOT NULL,
            kind TEXT NOT NULL,
            config TEXT,
            data_fingerprint TEXT,
            metrics TEXT,
            diagnosis TEXT,
            artifacts TEXT,
            note TEXT
        )""")
    conn.execute("CREATE INDEX runs_created ON runs (created_at)")


def _v2(conn: sqlite3.Connection) -> None:
    # v2: config hashes (compare configs without reading them), the test-set fingerprint of
    # each run and the per-fingerprint counter of test evaluations (the test-reuse guard).
    conn.execute("ALTER TABLE runs ADD COLUMN config_hash TEXT")
    conn.execute("ALTER TABLE runs ADD COLUMN test_fingerprint TEXT")
    conn.execute("ALTER TABLE runs ADD COLUMN test_evaluations INTEGER")
    # created_at has one-second resolution in v1; seq keeps the insertion order exact
    conn.execute("ALTER TABLE runs ADD COLUMN seq INTEGER")
    conn.execute("UPDATE runs SET seq = rowid")
    rows = conn.execute("SELECT id, config FROM runs WHERE config IS NOT NULL").fetchall()
    for run_id, config in rows:
        conn.execute("UPDATE runs SET config_hash = ? WHERE id = ?",
                     (config_hash(json.loads(config)), run_id))
    conn.execute("""
        CREATE TABLE test_evaluations (
            test_fingerprint TEXT PRIMARY KEY,
            count INTEGER NOT NULL,
            first_at TEXT NOT NULL,
            last_at TEXT NOT NULL
        )""")
    conn.execute("CREATE INDEX runs_seq ON runs (seq)")


#: version -> function that upgrades a database from version - 1 to version
MIGRATIONS: dict[int, Callable[[sqlite3.Connection], None]] = {1: _v1, 2: _v2}

#: The version this code writes.
SCHEMA_VERSION: int = max(MIGRATIONS)


def current_version(conn: sqlite3.Connection) -> int:
    """The schema version of an open database (0 for an empty one)."""
    exists = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'").fetchone()
    if not exists:
        return 0
    row = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
    return int(row[0] or 0)


def migrate(conn: sqlite3.Connection, *, target: int = SCHEMA_VERSION) -> list[int]:
    """Apply the missing migrations up to ``target``; return the versions applied.

    The caller holds a write transaction (``BEGIN IMMEDIATE``).
    """
    conn.execute("CREATE TABLE IF NOT EXISTS schema_version "
                 "(version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)")
    applied = []
    for version in range(current_version(conn) + 1, target + 1):
        MIGRATIONS[version](conn)
        conn.execute("INSERT INTO schema_version (version, applied_at) VALUES (?, ?)",
                     (version, datetime.now(timezone.utc).isoformat(timespec="seconds")))
        applied.append(version)
    return applied

"""The test-look ledger: the run store's SQLite file, opened with its schema, and the count of
evaluations of each test set in it.

The ledger sits below the metrics that count a look; the run store
(:class:`mlstrat.runs.RunStore`) is a ledger that also records runs, and counts a look inside
the same transaction that records the run.
"""

from __future__ import annotations

import os
import sqlite3
import time
import warnings
from datetime import datetime, timezone
from pathlib import Path

from mlstrat._exceptions import ConfigError, InputError, MlstratWarning
from mlstrat.sealing._schema import SCHEMA_VERSION, current_version, migrate

__all__ = ["LookLedger", "ReusedTestSetWarning", "DEFAULT_STORE", "DEFAULT_TEST_REUSE_THRESHOLD",
           "THRESHOLD_ENV", "STORE_ENV", "closing", "now"]

#: Where the store lives, relative to the working directory.
DEFAULT_STORE = Path(".mlstrat") / "runs.db"
#: Environment variable naming the store used when no path is given.
STORE_ENV = "MLSTRAT_STORE"
#: Evaluations of one test set allowed before the reuse warning.
DEFAULT_TEST_REUSE_THRESHOLD = 5
#: Environment variable that overrides the threshold (the CLI has no flag for it).
THRESHOLD_ENV = "MLSTRAT_TEST_REUSE_THRESHOLD"


class ReusedTestSetWarning(MlstratWarning):
    """The same test set was evaluated more often than the threshold: decisions overfit it."""


def now() -> str:
    """The current UTC time as stored (ISO 8601, milliseconds)."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def _threshold(value: int | None) -> int:
    source = "test_reuse_threshold"
    if value is None:
        raw = os.environ.get(THRESHOLD_ENV)
        if raw is None or not raw.strip():
            return DEFAULT_TEST_REUSE_THRESHOLD
        source = THRESHOLD_ENV
        try:
            value = int(raw)
        except ValueError:
            raise ConfigError(f"{THRESHOLD_ENV}={raw!r} is not a whole number; give e.g. 5") from None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{source}: {value!r} must be a whole number >= 1 (default 5)")
    return value


class LookLedger:
    """The run store's file as a ledger of test looks (the parameters of :class:`mlstrat.runs.RunStore`).

    Every operation opens its own connection (WAL journal, ``BEGIN IMMEDIATE`` for writes), so
    any number of processes count looks in the same file at once.
    """

    def __init__(self, path: str | os.PathLike | None = None, *, test_reuse_threshold: int | None = None,
                 timeout: float = 30.0) -> None:
        if path is None:
            path = os.environ.get(STORE_ENV) or Path.cwd() / DEFAULT_STORE
        self.path = Path(path)
        self.test_reuse_threshold = _threshold(test_reuse_threshold)
        self.timeout = float(timeout)
        self._ready = False

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.path)!r})"

    # -- connections -------------------------------------------------------------------------

    def _connect(self, *, create: bool) -> sqlite3.Connection | None:
        """An open connection with the current schema, or ``None`` when the file is absent and
        ``create`` is false."""
        if not self.path.exists():
            if not create:
                return None
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise InputError(f"{self.path}: cannot create the run store folder ({exc.strerror}); "
                                 "pass another --store") from None
        if self.path.is_dir():
            raise InputError(f"{self.path}: is a directory; --store takes the database file "
                             f"(e.g. {self.path / 'runs.db'})")
        try:
            conn = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None)
        except sqlite3.Error as exc:
            raise InputError(f"{self.path}: cannot open the run store ({exc})") from None
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(self.timeout * 1000)}")
            if not self._ready:
                self._prepare_retrying(conn)
        except (sqlite3.DatabaseError, UnicodeDecodeError) as exc:
            # a damaged header can make even a PRAGMA's text undecodable
            conn.close()
            from mlstrat.tables._outputs import is_no_space, no_space_error

            if is_no_space(exc):  # a full disk while creating the schema is no sign of a foreign file
                raise no_space_error(self.path, fix="pass another --store") from None
            raise InputError(f"{self.path}: is not an mlstrat run store ({sqlite_reason(exc)}); "
                             "pass another --store") from None
        except BaseException:
            conn.close()
            raise
        return conn

    def _writer(self) -> sqlite3.Connection:
        conn = self._connect(create=True)
        if conn is None:  # unreachable: create=True makes the file
            raise InputError(f"{self.path}: cannot create the run store")
        return conn

    def _prepare_retrying(self, conn: sqlite3.Connection) -> None:
        """:meth:`_prepare`, waiting out the lock when another process creates the store:
        switching a fresh file to WAL can fail with "database is locked" without going
        through SQLite's busy handler."""
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                return self._prepare(conn)
            except sqlite3.OperationalError as exc:
                busy = "locked" in str(exc) or "busy" in str(exc)
                if not busy or time.monotonic() > deadline:
                    raise
                time.sleep(0.02)

    def _prepare(self, conn: sqlite3.Connection) -> None:
        if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
            conn.execute("PRAGMA journal_mode = WAL")
        version = current_version(conn)
        if version > SCHEMA_VERSION:
            raise InputError(f"{self.path}: run store schema version {version} is newer than this "
                             f"mlstrat understands ({SCHEMA_VERSION}); upgrade mlstrat")
        if version < SCHEMA_VERSION:
            conn.execute("BEGIN IMMEDIATE")
            try:
                version = current_version(conn)  # another process may have migrated meanwhile
                if version == 0 and conn.execute(
                        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0]:
                    raise InputError(f"{self.path}: is a SQLite database but not an mlstrat run "
                                     "store (no schema_version table); pass another --store")
                migrate(conn)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        self._ready = True

    @property
    def schema_version(self) -> int:
        """The schema version of the file (0 when it does not exist yet)."""
        conn = self._connect(create=False)
        if conn is None:
            return 0
        with closing(conn):
            return current_version(conn)

    @staticmethod
    def _increment(conn: sqlite3.Connection, test_fingerprint: str, now: str) -> int:
        conn.execute(
            "INSERT INTO test_evaluations (test_fingerprint, count, first_at, last_at) VALUES (?, 1, ?, ?) "
            "ON CONFLICT (test_fingerprint) DO UPDATE SET count = count + 1, last_at = excluded.last_at",
            (test_fingerprint, now, now))
        return int(conn.execute("SELECT count FROM test_evaluations WHERE test_fingerprint = ?",
                                (test_fingerprint,)).fetchone()[0])

    def count_test_evaluation(self, test_fingerprint: str) -> int:
        """Count one more evaluation of the test set ``test_fingerprint``; return the new total.

        The count lives in the store, so it adds up across processes and sessions.

        Warns
        -----
        ReusedTestSetWarning
            When the total exceeds ``test_reuse_threshold``.
        """
        if not isinstance(test_fingerprint, str) or not test_fingerprint:
            raise InputError(f"test_fingerprint: expected a non-empty string, got {test_fingerprint!r}")
        from mlstrat.tables._outputs import reporting_full_disk

        with reporting_full_disk(self.path, fix="pass another --store"), closing(self._writer()) as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                count = self._increment(conn, test_fingerprint, now())
                conn.execute("COMMIT")
            except BaseException:
                rollback(conn)
                raise
        self._warn_reuse(test_fingerprint, count)
        return count

    def known_test_fingerprint(self, data_fingerprint: str) -> str | None:
        """The test-set fingerprint stored with the latest diagnosis run of the predictions file
        whose bytes have ``data_fingerprint`` (``"sha256:..."``); ``None`` when there is none.

        Only ``diagnose`` runs: theirs is the fingerprint of the diagnosed file itself (a
        training run's data fingerprint is its manifest's, its test fingerprint its predictions').
        """
        conn = self._connect(create=False)
        if conn is None:
            return None
        with closing(conn):
            row = conn.execute(
                "SELECT test_fingerprint FROM runs WHERE kind = 'diagnose' "
                "AND data_fingerprint = ? AND test_fingerprint IS NOT NULL "
                "ORDER BY seq DESC LIMIT 1", (data_fingerprint,)).fetchone()
        return row[0] if row else None

    def test_evaluation_count(self, test_fingerprint: str) -> int:
        """How many evaluations of ``test_fingerprint`` were counted (without counting one)."""
        conn = self._connect(create=False)
        if conn is None:
            return 0
        with closing(conn):
            row = conn.execute("SELECT count FROM test_evaluations WHERE test_fingerprint = ?",
                               (test_fingerprint,)).fetchone()
        return int(row[0]) if row else 0

    def _warn_reuse(self, test_fingerprint: str, count: int) -> None:
        if count > self.test_reuse_threshold:
            shown = test_fingerprint[7:19] if test_fingerprint.startswith("sha256:") else test_fingerprint
            warnings.warn(ReusedTestSetWarning(
                f"the test set {shown} has been evaluated {count} times (threshold "
                f"{self.test_reuse_threshold}): decisions made while looking at it are overfitting "
                "the test set, so its error is no longer an unbiased estimate. Decide on dev, and "
                "get a fresh test set for the final estimate"), stacklevel=3)


def sqlite_reason(exc: BaseException) -> str:
    """SQLite's complaint, for a message. Python decodes SQLite's error text as UTF-8, so a
    damaged file whose schema names hold other bytes raises UnicodeDecodeError instead."""
    if isinstance(exc, UnicodeDecodeError):
        return "damaged: its schema holds bytes that are not UTF-8 text"
    return str(exc)


def rollback(conn: sqlite3.Connection) -> None:
    """Undo the open transaction, if SQLite has not already (it rolls back by itself on a full
    disk): a failing ROLLBACK must not hide the error that caused it."""
    if conn.in_transaction:
        try:
            conn.execute("ROLLBACK")
        except sqlite3.Error:
            pass


class closing:
    """``with closing(conn) as conn``: the connection is closed on the way out."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        return self.conn

    def __exit__(self, *exc: object) -> None:
        self.conn.close()

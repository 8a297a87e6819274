"""The run store: SQLite (WAL) under ``.mlstrat/runs.db``, safe for several writing processes."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import uuid
import warnings
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from mlstrat._exceptions import ConfigError, InputError, MlstratWarning
from mlstrat._json import to_jsonable
from mlstrat.runs._compare import DEFAULT_IGNORE, Comparison, compare_runs
from mlstrat.runs._run import Run
from mlstrat.sealing._ledger import (
    DEFAULT_STORE,
    DEFAULT_TEST_REUSE_THRESHOLD,
    STORE_ENV,
    THRESHOLD_ENV,
    LookLedger,
    ReusedTestSetWarning,
    closing,
    now,
    rollback,
    sqlite_reason,
)
from mlstrat.sealing._schema import config_hash

__all__ = ["RunStore", "ReusedTestSetWarning", "DEFAULT_STORE", "DEFAULT_TEST_REUSE_THRESHOLD",
           "THRESHOLD_ENV", "STORE_ENV"]

_KIND = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
_ID = re.compile(r"^[0-9a-f]{6,32}$")
_COLUMNS = ("id, seq, created_at, kind, config, config_hash, data_fingerprint, metrics, diagnosis, "
            "artifacts, note, test_fingerprint, test_evaluations")


def _document(value: Any, name: str) -> dict[str, Any] | None:
    """A JSON document from a mapping, a result object with ``to_dict()`` or a JSON/TOML file."""
    if value is None:
        return None
    if isinstance(value, (str, os.PathLike)):
        path = Path(value)
        if not path.is_file():
            raise InputError(f"{name}: {path} is not a file; give a mapping or a JSON/TOML file")
        try:
            if path.suffix.lower() == ".toml":
                value = _load_toml(path)
            else:
                value = json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:  # TOMLDecodeError and JSONDecodeError are ValueErrors
            raise InputError(f"{name}: {path} cannot be parsed ({exc}); give valid JSON or TOML") from None
    doc = to_jsonable(value)
    if not isinstance(doc, dict):
        raise InputError(f"{name}: expected a mapping (JSON object), got {type(value).__name__}")
    return doc


def _load_toml(path: Path) -> Any:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        raise InputError(f"{path}: reading TOML needs Python 3.11 or later; pass the config as a "
                         "mapping or a JSON file") from None
    return tomllib.loads(path.read_text(encoding="utf-8"))


def _evaluates_test(metrics: Mapping[str, Any] | None, diagnosis: Mapping[str, Any] | None) -> bool:
    """Whether a run's documents contain the test split (no documents: the caller says so)."""
    if metrics is None and diagnosis is None:
        return True
    in_metrics = "test" in ((metrics or {}).get("splits") or {})
    in_diagnosis = "test" in ((diagnosis or {}).get("errors") or {})
    return in_metrics or in_diagnosis


class RunStore(LookLedger):
    """The history of runs, in one SQLite file.

    Parameters
    ----------
    path : path-like, default=None
        The database file; ``$MLSTRAT_STORE`` when set, else ``.mlstrat/runs.db`` under the
        working directory.
        Created (with its folder) on the first write; reading a store that does not exist
        yet finds no runs.
    test_reuse_threshold : int, default=None
        Evaluations of one test set allowed before :class:`ReusedTestSetWarning`; from the
        environment variable ``MLSTRAT_TEST_REUSE_THRESHOLD`` when not given, else 5.
    timeout : float, default=30.0
        Seconds a writer waits for another process's transaction before giving up.

    Notes
    -----
    Every operation opens its own connection (WAL journal, ``BEGIN IMMEDIATE`` for writes), so
    any number of processes and threads can record runs into the same file at once.

    Examples
    --------
    >>> store = RunStore(tmp_path / "runs.db")                        # doctest: +SKIP
    >>> run = store.record("train", config={"lr": 0.01}, note="baseline")  # doctest: +SKIP
    >>> store.get(run.id[:4]).note                                    # doctest: +SKIP
    'baseline'
    """

    @property
    def artifacts_root(self) -> Path:
        """``.mlstrat/runs/`` beside the database: where run artifacts go by default."""
        return self.path.parent / "runs"

    # -- writing -----------------------------------------------------------------------------

    def record(self, kind: str, *, config: Mapping[str, Any] | str | os.PathLike | None = None,
               data_fingerprint: str | None = None, metrics: Any = None, diagnosis: Any = None,
               artifacts: str | os.PathLike | None = None, note: str | None = None,
               test_fingerprint: str | None = None, run_id: str | None = None,
               count_test: bool = True) -> Run:
        """Record one run and return it.

        Parameters
        ----------
        kind : str
            What produced the run: ``"train"``, ``"diagnose"``, ``"demo"`` (lowercase word).
        config : mapping, path to a TOML/JSON file, or None
            The configuration; stored with its hash so that :meth:`compare` can say which keys
            changed.
        data_fingerprint : str, default=None
            Fingerprint of the data used (:func:`mlstrat.tables.fingerprint`).
        metrics, diagnosis : mapping, result object with ``to_dict()``, JSON file, or None
            The metrics and diagnosis JSON.
        artifacts : path-like, default=None
            The run directory (stored as an absolute path).
        note : str, default=None
            Free text.
        test_fingerprint : str, default=None
            Fingerprint of the test set. When given and the run's metrics or diagnosis contain
            the ``test`` split (or neither document is given), this counts as one evaluation
            of that test set (:meth:`count_test_evaluation`).
        run_id : str, default=None
            The id to record under, from :meth:`new_id` (so that the artifacts can be written
            to ``artifacts_root / run_id`` before the run is recorded); a fresh one by default.
        count_test : bool, default=True
            ``False`` when the look at the test set was already counted (the diagnosis or the
            metrics counted it when they computed the test figures): the run then keeps the
            current count without adding one.

        Warns
        -----
        ReusedTestSetWarning
            When the test set has now been evaluated more than ``test_reuse_threshold`` times.
        """
        if not isinstance(kind, str) or not _KIND.match(kind):
            raise ConfigError(f"kind: {kind!r} must be a short lowercase word like 'train' or 'diagnose'")
        if run_id is not None and (not isinstance(run_id, str) or not _ID.match(run_id)):
            raise ConfigError(f"run_id: {run_id!r} must be 6 to 32 lowercase hexadecimal characters "
                              "(use RunStore.new_id())")
        config_doc = _document(config, "config")
        metrics_doc = _document(metrics, "metrics")
        diagnosis_doc = _document(diagnosis, "diagnosis")
        artifacts_text = str(Path(artifacts).absolute()) if artifacts is not None else None
        counts = test_fingerprint is not None and _evaluates_test(metrics_doc, diagnosis_doc)
        created = now()
        from mlstrat.tables._outputs import reporting_full_disk

        with reporting_full_disk(self.path, fix="pass another --store"), closing(self._writer()) as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                evaluations = None
                if counts and count_test:
                    evaluations = self._increment(conn, test_fingerprint, created)
                elif counts:
                    row = conn.execute("SELECT count FROM test_evaluations WHERE test_fingerprint = ?",
                                       (test_fingerprint,)).fetchone()
                    evaluations = int(row[0]) if row else None
                seq = conn.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM runs").fetchone()[0]
                if run_id is None:
                    run_id = self._new_id(conn)
                elif conn.execute("SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone():
                    raise ConfigError(f"run_id: {run_id!r} is already recorded in {self.path}; "
                                      "use RunStore.new_id() for a fresh one")
                conn.execute(
                    f"INSERT INTO runs ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (run_id, seq, created, kind, _dump(config_doc), config_hash(config_doc),
                     data_fingerprint, _dump(metrics_doc), _dump(diagnosis_doc), artifacts_text,
                     note, test_fingerprint, evaluations))
                conn.execute("COMMIT")
            except BaseException:
                rollback(conn)
                raise
        if evaluations is not None and count_test:
            self._warn_reuse(test_fingerprint, evaluations)
        return Run(id=run_id, seq=seq, created_at=created, kind=kind, config=config_doc,
                   config_hash=config_hash(config_doc), data_fingerprint=data_fingerprint,
                   metrics=metrics_doc, diagnosis=diagnosis_doc, artifacts=artifacts_text, note=note,
                   test_fingerprint=test_fingerprint, test_evaluations=evaluations)

    @staticmethod
    def new_id() -> str:
        """A fresh run id (12 hexadecimal characters) to pass to :meth:`record` as ``run_id``."""
        return uuid.uuid4().hex[:12]

    @classmethod
    def _new_id(cls, conn: sqlite3.Connection) -> str:
        while True:
            run_id = cls.new_id()
            if not conn.execute("SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone():
                return run_id

    # -- reading -----------------------------------------------------------------------------

    def list(self, *, kind: str | None = None, limit: int | None = None) -> list[Run]:
        """Runs oldest first; ``limit`` keeps the most recent ones, ``kind`` filters."""
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
            raise ConfigError(f"limit: {limit!r} must be a whole number >= 1")
        conn = self._connect(create=False)
        if conn is None:
            return []
        where, params = ("WHERE kind = ?", [kind]) if kind else ("", [])
        sql = f"SELECT {_COLUMNS} FROM runs {where} ORDER BY seq DESC"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        with closing(conn):
            rows = self._fetch(conn, sql, params)
        return [_run(row) for row in reversed(rows)]

    def _fetch(self, conn: sqlite3.Connection, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        try:
            return conn.execute(sql, params).fetchall()
        except (sqlite3.DatabaseError, UnicodeDecodeError) as exc:
            raise InputError(f"{self.path}: the run store cannot be read ({sqlite_reason(exc)}); it is damaged or "
                             "not an mlstrat run store. Pass another --store") from None

    def __len__(self) -> int:
        conn = self._connect(create=False)
        if conn is None:
            return 0
        with closing(conn):
            return int(self._fetch(conn, "SELECT COUNT(*) FROM runs")[0][0])

    def get(self, run_id: str) -> Run:
        """The run whose id is ``run_id`` or starts with it.

        ``"latest"`` names the most recent run, ``"latest~1"`` the one before it.

        Raises
        ------
        InputError
            When no run or several runs match.
        """
        text = str(run_id).strip().lower()
        conn = self._connect(create=False)
        if conn is None:
            raise InputError(f"{self.path}: no run store here yet (no runs recorded); "
                             "record runs with `mlstrat train`/`mlstrat diagnose` or pass --store")
        with closing(conn):
            latest = re.fullmatch(r"latest(?:~(\d+))?", text)
            if latest:
                back = int(latest.group(1) or 0)
                found = self._fetch(conn, f"SELECT {_COLUMNS} FROM runs ORDER BY seq DESC LIMIT 1 OFFSET ?",
                                    (back,))
                row = found[0] if found else None
                if row is None:
                    total = self._fetch(conn, "SELECT COUNT(*) FROM runs")[0][0]
                    raise InputError(f"{run_id!r}: the store {self.path} has only {total} run(s)")
                return _run(row)
            if not re.fullmatch(r"[0-9a-f]+", text):
                raise InputError(f"{run_id!r} is not a run id (hexadecimal, e.g. 3f2a9c1b); "
                                 "`mlstrat runs list` shows them")
            rows = self._fetch(conn, f"SELECT {_COLUMNS} FROM runs WHERE id LIKE ? ORDER BY seq LIMIT 6",
                               (text + "%",))
        if len(rows) == 1:
            return _run(rows[0])
        if not rows:
            raise InputError(f"no run {run_id!r} in {self.path}; `mlstrat runs list` shows the ids")
        shown = ", ".join(r[0][:12] for r in rows[:5]) + (", ..." if len(rows) > 5 else "")
        raise InputError(f"run id prefix {run_id!r} is ambiguous ({shown}); give more characters")

    def compare(self, run_ids: Sequence[str], *, ignore: Iterable[str] = DEFAULT_IGNORE) -> Comparison:
        """Compare runs in the order given: errors and components side by side, the change
        from each run to the next, and which config keys differ.

        Warns (in :attr:`Comparison.warnings`) when a step changed several knobs at once: the
        method's orthogonalization is one knob at a time. Each step's dev change is paired on
        the runs' kept per-row dev results when both have them on the same rows.
        """
        if isinstance(run_ids, str):
            run_ids = [run_ids]
        return compare_runs([self.get(r) for r in run_ids], ignore=ignore, rows=self.dev_rows)

    def dev_rows(self, run: Run | str) -> Any:
        """The run's per-row dev results (:class:`~mlstrat.runs._rows.DevRows`, with its dev
        fingerprint), kept in ``artifacts_root / <run_id> / dev_rows.parquet``; ``None`` when
        the run did not keep them."""
        from mlstrat.runs._rows import dev_rows_path, read_dev_rows

        run_id = run.id if isinstance(run, Run) else self.get(run).id
        return read_dev_rows(dev_rows_path(self, run_id))


def _dump(doc: dict[str, Any] | None) -> str | None:
    return None if doc is None else json.dumps(doc, ensure_ascii=False, allow_nan=False)


def _load(text: Any, run_id: str, column: str) -> dict[str, Any] | None:
    """A JSON document cell; a damaged one (not JSON, not an object) is dropped with a warning
    naming the run, so the rest of the run and of the store stays readable."""
    if text is None:
        return None
    try:
        doc = json.loads(text)
    except (json.JSONDecodeError, TypeError, UnicodeDecodeError, RecursionError):
        doc = None
    if not isinstance(doc, dict):
        warnings.warn(f"run {run_id}: its {column} is damaged in the store (not a JSON object); "
                      "shown without it", MlstratWarning, stacklevel=4)
        return None
    return doc


def _text_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def _run(row: Sequence[Any]) -> Run:
    (run_id, seq, created, kind, config, chash, data_fp, metrics, diagnosis, artifacts, note,
     test_fp, evaluations) = row
    run_id = str(run_id)
    try:
        seq = int(seq or 0)
    except (TypeError, ValueError):
        seq = 0
    try:
        evaluations = None if evaluations is None else int(evaluations)
    except (TypeError, ValueError):
        evaluations = None
    return Run(id=run_id, seq=seq, created_at=str(created or ""), kind=str(kind or "?"),
               config=_load(config, run_id, "config"), config_hash=_text_or_none(chash),
               data_fingerprint=_text_or_none(data_fp), metrics=_load(metrics, run_id, "metrics"),
               diagnosis=_load(diagnosis, run_id, "diagnosis"), artifacts=_text_or_none(artifacts),
               note=_text_or_none(note), test_fingerprint=_text_or_none(test_fp),
               test_evaluations=evaluations)

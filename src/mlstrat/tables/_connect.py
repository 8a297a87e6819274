"""Opening an engine: ``connect`` (``--engine``, ``MLSTRAT_ENGINE``), ``engine_of`` (``con=``)
and the process-wide default connection."""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator, Mapping
from typing import Any

from mlstrat._exceptions import ConfigError
from mlstrat.tables._duckdb_engine import DuckDBEngine
from mlstrat.tables._engine import Engine, first_line, spill_directory
from mlstrat.tables._spark_connect import connect_failure, forget_session, remote_session
from mlstrat.tables._spark_engine import SparkEngine
from mlstrat.tables._spark_session import classic_session, is_master, master_of, parse_conf

__all__ = ["ENGINES", "connect", "default_connection", "engine_of", "spark_settings", "use_engine"]

#: Engine names accepted by ``--engine`` besides a Spark master URL (``spark://HOST:PORT``,
#: ``yarn``, ``k8s://...``, ``local[N]``) and a Spark Connect address ``sc://HOST:PORT``.
ENGINES = ("duckdb", "spark")

_DEFAULT: Any = None
_SPARK_BACKENDS: dict[int, Any] = {}  # id(SparkSession) -> its Ibis backend (one per session)
# DuckDB's own grammar for sizes ("2GB", "512 MiB", "80%"); checked before the engine sees it so a
# bad value is one clear line, and settings travel through the engine's config API, never SQL text
_MEMORY = re.compile(r"^\s*\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB|%)?\s*$", re.IGNORECASE)
_MAX_THREADS = 4096
_BY_BACKEND: dict[str, type[Engine]] = {"duckdb": DuckDBEngine, "pyspark": SparkEngine}
_SCOPED_CONF: dict[str, str] = {}  # the CLI's --conf settings, for the engine its command opens


def _engine_kind(spec: str) -> str:
    """``"duckdb"``, ``"spark"`` (a master URL too) or ``"connect"`` for an ``--engine`` value;
    ConfigError otherwise."""
    text = str(spec).strip()
    if text.lower() in ENGINES:
        return text.lower()
    if text.startswith("sc://") and len(text) > len("sc://"):
        return "connect"
    if is_master(text):
        return "spark"
    raise ConfigError(f"engine: unknown engine {spec!r}; use duckdb, spark, a Spark master (spark://HOST:PORT, "
                      "yarn, k8s://https://HOST:PORT, local[N]) or a Spark Connect address sc://HOST:PORT "
                      "(--engine or MLSTRAT_ENGINE)")


@contextlib.contextmanager
def spark_settings(conf: Mapping[str, str]) -> Iterator[None]:
    """Within the block, :func:`connect` applies ``conf`` when it is given none (the CLI's ``--conf``)."""
    saved = dict(_SCOPED_CONF)
    _SCOPED_CONF.clear()
    _SCOPED_CONF.update(conf)
    try:
        yield
    finally:
        _SCOPED_CONF.clear()
        _SCOPED_CONF.update(saved)


def connect(engine: str | None = None, *, memory_limit: str | None = None, threads: int | None = None,
            temp_directory: str | None = None, timeout: float | None = None,
            conf: Mapping[str, Any] | None = None) -> Any:
    """Open an engine and return its Ibis backend (what every ``con=`` argument accepts).

    Parameters
    ----------
    engine : str, default=None
        ``"duckdb"`` (embedded, the default); ``"spark"`` (starts or reuses a SparkSession
        whose master comes from the usual Spark configuration: ``spark-submit --master``,
        ``PYSPARK_SUBMIT_ARGS``, ``MASTER``, else the ``SPARK_MASTER`` environment
        variable); a Spark master URL (``"spark://HOST:PORT"``, ``"yarn"``,
        ``"k8s://https://HOST:PORT"``, ``"local[4]"``); or ``"sc://HOST:PORT"`` (Spark
        Connect). Defaults to the ``MLSTRAT_ENGINE`` environment variable, else DuckDB.
    memory_limit : str, default=None
        DuckDB only: memory limit such as ``"2GB"``; beyond it DuckDB spills to
        ``temp_directory``. Defaults to ``MLSTRAT_MEMORY_LIMIT``, else DuckDB's default.
    threads : int, default=None
        DuckDB only: worker threads; defaults to DuckDB's choice (all cores).
    temp_directory : str, default=None
        DuckDB only: where it spills; defaults to a per-process folder under the system
        temporary directory (see :func:`spill_directory`).
    timeout : float, default=None
        Spark only; defaults to ``MLSTRAT_SPARK_TIMEOUT``, else 300. Spark Connect: seconds
        one call to the server may take before it fails with one line naming the address
        (fixed when the address is first connected in the process). A session started on a
        cluster master: seconds a job may wait with no executor (its master or workers gone)
        before it is cancelled and the call fails with one line naming the master.
    conf : mapping of str to str, default=None
        Spark only: settings for the session (``{"spark.executor.memory": "8g"}``, the CLI's
        ``--conf KEY=VALUE``). A session already running takes only runtime settings.

    Raises
    ------
    ConfigError
        An unknown engine, a memory limit that is not a size (``"2GB"``, ``"512MiB"``,
        ``"80%"``), a thread count outside 1..4096, Spark settings for DuckDB, a standalone
        master that does not answer within 10 s, or a Spark that refuses to start.

    Examples
    --------
    >>> con = mlstrat.connect("spark")            # doctest: +SKIP
    >>> mlstrat.diagnose("s3://lake/preds/", con=con)  # doctest: +SKIP
    """
    kind = _engine_kind(engine or os.environ.get("MLSTRAT_ENGINE") or "duckdb")
    settings = parse_conf(conf) if conf is not None else dict(_SCOPED_CONF)
    if kind == "duckdb":
        if settings:
            raise ConfigError("--conf (conf=) passes Spark settings and the engine is DuckDB; choose Spark "
                              "with --engine spark or a master URL, or size DuckDB with --memory-limit")
        return _connect_duckdb(memory_limit=memory_limit, threads=threads, temp_directory=temp_directory)
    if memory_limit or threads or temp_directory:
        raise ConfigError("memory_limit, threads and temp_directory (--memory-limit) apply to DuckDB; "
                          "size a Spark job with Spark's own configuration (spark.executor.memory, ...)")
    spec = str(engine or os.environ["MLSTRAT_ENGINE"]).strip()
    session = _spark_session(spec, kind, timeout=timeout, conf=settings)
    try:
        return _spark_backend(session)  # Ibis asks the server for its settings: a first query
    except Exception as exc:
        if kind == "connect":
            forget_session(spec)  # the next connect() starts afresh
            if (failure := connect_failure(exc, address=spec)) is not None:
                raise failure from None
        raise


def _connect_duckdb(*, memory_limit: str | None, threads: int | None, temp_directory: str | None) -> Any:
    from mlstrat.tables._duckdb import duckdb_backend_class

    config: dict[str, Any] = {}
    memory_limit = memory_limit or os.environ.get("MLSTRAT_MEMORY_LIMIT")
    if memory_limit:
        if not _MEMORY.match(str(memory_limit)):
            raise ConfigError(f"memory limit {memory_limit!r} is not a size; use e.g. 2GB, 512MiB or 80%")
        config["memory_limit"] = str(memory_limit).strip()
    if threads:
        if not 1 <= int(threads) <= _MAX_THREADS:
            raise ConfigError(f"threads = {threads} is out of range; use 1 to {_MAX_THREADS}")
        config["threads"] = int(threads)
    config["temp_directory"] = str(temp_directory or spill_directory())
    # nothing is fetched from the network: an extension that is not installed is an error to
    # report, never a download
    config["autoinstall_known_extensions"] = False
    try:
        backend = duckdb_backend_class()().connect(**config)
    except Exception as exc:  # the engine refuses a setting: name it
        raise ConfigError(f"the engine refused its settings ({first_line(exc)})") from None
    _quiet_progress_bar(backend)
    return backend


def _quiet_progress_bar(backend: Any) -> None:
    """DuckDB draws a progress bar on stdout for long queries, piped or not: it would corrupt
    ``--json`` output and interleave with mlstrat's own bars (stderr, terminals only). In a
    notebook DuckDB draws a widget instead and refuses the setting when ipywidgets is missing:
    nothing reaches stdout there, so the refusal is harmless."""
    import duckdb

    try:
        backend.raw_sql("SET enable_progress_bar = false")
    except duckdb.Error:
        pass


def _spark_session(spec: str, kind: str, *, timeout: float | None = None,
                   conf: Mapping[str, str] | None = None) -> Any:
    try:
        import pyspark.sql  # noqa: F401
    except ImportError:
        raise ConfigError("engine: Spark needs pyspark; install mlstrat[spark] "
                          "(pip install 'mlstrat[spark]')") from None
    if kind == "connect":
        session = remote_session(spec, timeout)
        for key, value in (conf or {}).items():
            try:
                session.conf.set(key, value)
            except Exception as exc:  # a static setting, or one the server does not know
                raise ConfigError(f"--conf {key}: the Spark Connect server {spec} refuses it ({first_line(exc)}); "
                                  "set it where the server starts") from None
        return session
    # the master named, else the user's Spark configuration (spark-submit, spark-defaults.conf,
    # SPARK_MASTER); an active session (a notebook, a test) is reused
    return classic_session(master_of(spec), conf or {}, timeout=timeout)


def _spark_backend(session: Any) -> Any:
    backend = _SPARK_BACKENDS.get(id(session))
    if backend is None or backend._session is not session:
        import ibis

        backend = ibis.pyspark.connect(session)
        _SPARK_BACKENDS[id(session)] = backend
    return backend


def default_connection() -> Any:
    """The process-wide backend used when a function is not given one (``MLSTRAT_ENGINE``)."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = connect()
    return _DEFAULT


def use_engine(engine: str | None) -> Any:
    """Make ``engine`` the process-wide default (the CLI's ``--engine``); ``None`` keeps it."""
    global _DEFAULT
    if engine is not None or _SCOPED_CONF:
        _DEFAULT = connect(engine)
    return default_connection()


def _backend(con: Any) -> Any:
    """The Ibis backend behind ``con``: an Ibis backend, a SparkSession, an Engine or None."""
    if con is None:
        return default_connection()
    if isinstance(con, Engine):
        return con.backend
    if type(con).__module__.startswith("pyspark.sql"):  # a SparkSession (classic or Connect)
        return _spark_backend(con)
    if isinstance(con, str):
        return connect(con)
    if not hasattr(con, "compile") or not hasattr(con, "name"):
        raise ConfigError(f"con: expected an Ibis backend, a SparkSession or an engine name, "
                          f"got a {type(con).__name__}")
    return con


def engine_of(con: Any = None) -> Engine:
    """The :class:`Engine` for ``con`` (see :func:`connect`); the default one when ``None``."""
    if isinstance(con, Engine):
        return con
    backend = _backend(con)
    cls = _BY_BACKEND.get(backend.name)
    if cls is None:
        raise ConfigError(f"con: the Ibis {backend.name!r} backend is not supported; use DuckDB or Spark")
    return cls(backend)

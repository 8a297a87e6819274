"""Classic Spark sessions: the master an ``--engine`` value names, the ``--conf`` settings,
and a session built from them.

``--engine`` takes Spark's own master URLs (``spark://HOST:PORT``, ``yarn``, ``k8s://...``,
``local[N]``); ``--engine spark`` names none, and then ``SPARK_MASTER`` does when nothing
else (``spark-submit --master``, ``PYSPARK_SUBMIT_ARGS``, ``MASTER``) did. A standalone
master that does not answer is found before Spark starts: Spark's own client retries it
three times twenty seconds, then leaves the session start waiting without end.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import threading
from collections.abc import Iterable, Mapping
from typing import Any

from mlstrat._exceptions import ConfigError
from mlstrat.tables._engine import first_line
from mlstrat.tables._spark_watchdog import watch

__all__ = ["SPARK_LOG_VARIABLE", "MASTER_TIMEOUT", "SESSION_DEFAULTS", "classic_session", "is_master", "master_of", "parse_conf"]

#: seconds a standalone master (``spark://``) has to accept a connection before the command fails
MASTER_TIMEOUT = 10.0
#: the master URLs Spark's session builder takes (Spark's own grammar, case as Spark spells it)
_MASTER = re.compile(
    r"^(?:spark://[^\s/]+|k8s://\S+|yarn|local|local\[(?:\d+|\*)(?:,\s*\d+)?\]"
    r"|local-cluster\[\d+,\s*\d+,\s*\d+\])$"
)
_STANDALONE_PORT = 7077
#: set to 1 to see Spark's own log (its Java stack) when the session fails to start
SPARK_LOG_VARIABLE = "MLSTRAT_SPARK_LOG"
#: settings of a session mlstrat starts (before ``--conf``): timestamps as DuckDB reads and writes them
SESSION_DEFAULTS = {"spark.sql.session.timeZone": "UTC",
                    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS"}


def is_master(text: str) -> bool:
    """Whether ``text`` is a Spark master URL (``spark://h:7077``, ``yarn``, ``k8s://...``, ``local[4]``)."""
    return bool(_MASTER.match(text))


def _submitted_master() -> bool:
    """Whether spark-submit, ``PYSPARK_SUBMIT_ARGS`` or ``MASTER`` already names the master."""
    return bool(os.environ.get("PYSPARK_GATEWAY_PORT") or os.environ.get("MASTER")
                or "--master" in os.environ.get("PYSPARK_SUBMIT_ARGS", ""))


def master_of(spec: str) -> str | None:
    """The master for an ``--engine`` value: the URL itself, or for ``spark`` the ``SPARK_MASTER``
    environment variable (when spark-submit and its variables name none); ``None``: Spark's
    own configuration decides."""
    if spec.lower() != "spark":
        return spec
    env = os.environ.get("SPARK_MASTER", "").strip()
    if not env or _submitted_master():
        return None
    if not is_master(env):
        raise ConfigError(f"SPARK_MASTER {env!r} is not a Spark master URL; use spark://HOST:PORT, yarn, "
                          "k8s://https://HOST:PORT or local[N]")
    return env


def parse_conf(items: Iterable[str] | Mapping[str, Any] | None) -> dict[str, str]:
    """Spark settings from ``KEY=VALUE`` texts (``--conf``) or a mapping; the value may hold ``=``.

    Raises
    ------
    ConfigError
        A text without ``=`` or with an empty key.
    """
    if items is None:
        return {}
    if isinstance(items, Mapping):
        pairs = [(str(k), "" if v is None else str(v)) for k, v in items.items()]
    else:
        pairs = []
        for item in items:
            key, sep, value = str(item).partition("=")
            if not sep or not key.strip():
                raise ConfigError(f"--conf {item!r} is not KEY=VALUE; write e.g. --conf spark.executor.memory=8g")
            pairs.append((key.strip(), value))
    for key, _value in pairs:
        if not key.strip() or any(c.isspace() for c in key.strip()):
            raise ConfigError(f"--conf key {key!r} is not a Spark setting name; write e.g. "
                              "--conf spark.executor.memory=8g")
    return {key.strip(): value for key, value in pairs}


def _standalone_endpoints(master: str) -> list[tuple[str, int]]:
    """``(host, port)`` of each master in ``spark://h1:7077,h2:7077`` (port 7077 when left out)."""
    endpoints = []
    for part in master[len("spark://"):].split(","):
        host, sep, port = part.rpartition(":")
        if not sep or not port.isdigit():
            host, port = part, str(_STANDALONE_PORT)
        endpoints.append((host.strip("[]"), int(port)))
    return endpoints


def require_reachable(master: str, *, timeout: float = MASTER_TIMEOUT) -> None:
    """Fail in seconds, naming the address, when no standalone master of ``master`` accepts a
    connection (Spark would try for a minute, then wait without end)."""
    reasons = []
    for host, port in _standalone_endpoints(master):
        try:
            with socket.create_connection((host, port), timeout=timeout):
                return
        except OSError as exc:
            reasons.append(f"{host}:{port}: {exc.strerror or type(exc).__name__}")
    raise ConfigError(f"engine {master}: no Spark master answers ({'; '.join(reasons)}); start it "
                      "(sbin/start-master.sh) or check the address")


def _java_message(exc: BaseException) -> str:
    """The JVM's own first line for a Py4J error (its first line names only the Java call)."""
    java = getattr(exc, "java_exception", None)
    if java is not None:
        try:
            return first_line(RuntimeError(str(java.toString())))
        except Exception:  # the gateway itself is gone
            pass
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    detail = next((ln[2:] for ln in lines if ln.startswith(": ")), None)
    return detail or first_line(exc)


def _builder() -> Any:
    from pyspark.sql import SparkSession

    return SparkSession.builder


def _active_session() -> Any:
    from pyspark.sql import SparkSession

    return SparkSession.getActiveSession()


def classic_session(master: str | None, conf: Mapping[str, str], *, timeout: float | None = None) -> Any:
    """A SparkSession on ``master`` (``None``: Spark's configuration decides) with ``conf`` set.

    An active session (a notebook's, spark-submit's) is reused, with ``conf`` applied as
    runtime settings; naming another master than its own is an error, as one process holds
    one Spark driver. A session started here on a cluster is watched: a job left with no
    executor for ``timeout`` seconds is cancelled (:mod:`mlstrat.tables._spark_watchdog`).

    Raises
    ------
    ConfigError
        No standalone master answers; another session runs on another master; Spark refuses
        to start (a setting it rejects, a cluster manager it cannot reach).
    """
    active = _active_session()
    if active is not None:
        running = active.sparkContext.master
        if master is not None and master != running:
            raise ConfigError(f"engine {master}: this process already runs a Spark session on {running}; "
                              "use --engine spark to work in it, or start a new process")
        for key, value in conf.items():
            _set_runtime(active, key, value)
        watch(active, timeout, started_here=False)
        return active
    if master is not None and master.startswith("spark://"):
        require_reachable(master)
    settings = {"spark.app.name": "mlstrat", "spark.ui.showConsoleProgress": "false", **SESSION_DEFAULTS,
                **({"spark.master": master} if master is not None else {}), **conf}
    startup = _launch_gateway(settings)
    # Spark's console progress bars would interleave with mlstrat's own on stderr; timestamps read
    # and written as DuckDB does (UTC, Parquet INT64 microseconds); --conf may say otherwise
    builder = _builder().appName("mlstrat").config("spark.ui.showConsoleProgress", "false")
    for key, value in SESSION_DEFAULTS.items():
        builder = builder.config(key, value)
    if master is not None:
        builder = builder.master(master)
    for key, value in conf.items():
        builder = builder.config(key, value)
    try:
        session = builder.getOrCreate()
    except Exception as exc:  # py4j, pyspark and OS errors: one line naming the master
        raise ConfigError(f"engine {master or 'spark'}: Spark did not start ({_startup_reason(exc, startup)}); "
                          "check the master (--engine) and the Spark settings (--conf)") from None
    if startup is not None:
        startup.release()
    watch(session, timeout, started_here=True)
    return session


class StartupLog:
    """The driver JVM's stderr, held back while Spark starts and passed on to this process's
    stderr once it has: a failed start is mlstrat's one line, not Spark's ERROR log and Java
    stack (``MLSTRAT_SPARK_LOG=1`` prints it too)."""

    def __init__(self, stream: Any) -> None:
        self._lock = threading.Lock()
        self._held: list[bytes] = []
        self._passing = False
        self._thread = threading.Thread(target=self._drain, args=(stream,), daemon=True, name="spark-stderr")
        self._thread.start()

    def _drain(self, stream: Any) -> None:
        for line in iter(stream.readline, b""):
            with self._lock:
                if self._passing:
                    _to_stderr(line)
                else:
                    self._held.append(line)

    def release(self) -> None:
        """Pass what was held, and everything after it, to stderr."""
        with self._lock:
            for line in self._held:
                _to_stderr(line)
            self._held.clear()
            self._passing = True

    def wait_closed(self, bound: float = 30.0) -> None:
        """Wait until the JVM (which exited) closed its stderr and all of it was read."""
        self._thread.join(bound)

    def text(self) -> str:
        """What the JVM wrote so far (while held back)."""
        with self._lock:
            return b"".join(self._held).decode(errors="replace")


def _to_stderr(data: bytes) -> None:
    try:
        os.write(2, data)  # where the JVM itself would have written it
    except OSError:
        pass


def _launch_gateway(settings: Mapping[str, str]) -> StartupLog | None:
    """Start the driver JVM (pyspark's own launcher, given ``settings`` as spark-submit
    ``--conf``s) with its stderr held by a :class:`StartupLog`; ``None`` where pyspark will not
    start one (a JVM is up already, or spark-submit started this process)."""
    from pyspark import SparkConf, SparkContext
    from pyspark.java_gateway import launch_gateway

    if SparkContext._gateway is not None or "PYSPARK_GATEWAY_PORT" in os.environ:
        return None
    spark_conf = SparkConf(loadDefaults=False)
    for key, value in settings.items():
        spark_conf.set(key, value)
    captured: dict[str, Any] = {}

    class _Popen(subprocess.Popen):  # the one place pyspark lets a caller touch the JVM's process
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            captured["log"] = StartupLog(self.stderr)

    try:
        gateway = _launch_with(launch_gateway, spark_conf, _Popen)
    except Exception as exc:
        log = captured.get("log")
        raise ConfigError(f"engine {settings.get('spark.master', 'spark')}: Spark did not start "
                          f"({_startup_reason(exc, log)}); check the master (--engine) and the Spark "
                          "settings (--conf)") from None
    SparkContext._ensure_initialized(gateway=gateway)
    return captured.get("log")


def _launch_with(launch: Any, spark_conf: Any, popen: type) -> Any:
    """pyspark's ``launch_gateway`` with the JVM's stderr a pipe read by a :class:`StartupLog`."""
    import pyspark.java_gateway as java_gateway

    saved = java_gateway.Popen
    java_gateway.Popen = popen
    try:
        return launch(spark_conf, popen_kwargs={"stderr": subprocess.PIPE})
    finally:
        java_gateway.Popen = saved


def _startup_reason(exc: BaseException, log: StartupLog | None) -> str:
    """Why Spark did not start: the JVM's own message; for a JVM that exited before answering,
    the last line it wrote. Spark's full log goes to stderr with ``MLSTRAT_SPARK_LOG=1``."""
    exited = "JAVA_GATEWAY_EXITED" in _java_message(exc)
    if exited and log is not None:
        log.wait_closed()
    text = log.text() if log is not None else ""
    if text and os.environ.get(SPARK_LOG_VARIABLE, "").strip() not in ("", "0"):
        _to_stderr(text.encode())
    reason = _java_message(exc)
    if exited:
        said = [ln.strip() for ln in text.splitlines() if ln.strip() and not _CHATTER.match(ln.strip())]
        if said:
            reason = f"its JVM exited: {said[0]}"
    return reason


#: lines of a JVM's start that say nothing about why it stopped
_CHATTER = re.compile(r"^(?:WARNING: |Using Spark's default log4j profile|\S+ \S+ (?:INFO|WARN) )")


def _set_runtime(session: Any, key: str, value: str) -> None:
    """``key`` set in a running session; a setting it already holds (a static one the same
    command gave when the session started) is left as it is."""
    try:
        if session.conf.get(key, None) == value:
            return
    except Exception:  # a setting the session cannot read back: try to set it
        pass
    try:
        session.conf.set(key, value)
    except Exception as exc:  # a static setting (spark.executor.memory) cannot change in a running session
        raise ConfigError(f"--conf {key}: the running Spark session refuses it ({_java_message(exc)}); "
                          "set it when the session starts (spark-submit --conf)") from None

"""Spark Connect sessions: one per address, checked when first connected, every call with a
deadline and bounded retries, and a failure on the wire told in one line naming the address.

pyspark's Connect client has no deadline of its own and retries an unavailable server for
over ten minutes; a server that dies or stops answering mid-query would keep a command
waiting without end. A gRPC interceptor gives each call a deadline (``MLSTRAT_SPARK_TIMEOUT``)
and the retry policy is bounded by it.
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import re
from typing import Any

from mlstrat._exceptions import ConfigError
from mlstrat.tables._engine import first_line

__all__ = ["CONNECT_TIMEOUT", "SPARK_TIMEOUT", "connect_failure", "forget_session", "remote_session",
           "spark_timeout", "wire_failure"]

_CONNECT_SESSIONS: dict[str, Any] = {}  # sc://... -> its Spark Connect session
#: seconds a Spark Connect server has to accept the connection before --engine sc://... fails
CONNECT_TIMEOUT = 10.0
#: seconds one call to a Spark Connect server may take (``MLSTRAT_SPARK_TIMEOUT``): a query's
#: results stream in calls the server ends every two minutes, so a healthy one never nears it
SPARK_TIMEOUT = 300.0
_TIMEOUTS: dict[str, float] = {}  # sc://... -> the call deadline of its session
_LAST_ADDRESS: str | None = None  # the Spark Connect server of the latest call


def remote_session(address: str, timeout: float | None = None) -> Any:
    """A Spark Connect session on ``address`` (one per address in this process).

    The Connect builder is used directly: ``pyspark.sql.SparkSession.builder.remote`` refuses
    to start while a classic session runs in the process and, with ``getOrCreate``, returns
    the session of whichever address came first. Every call the session makes carries a
    deadline (:func:`spark_timeout`) and retries for at most half of it, so a server that dies
    or stops answering mid-query is an error in bounded time, not a wait without end.
    """
    try:
        from pyspark.sql.connect.client import DefaultChannelBuilder
        from pyspark.sql.connect.session import SparkSession as ConnectSession
    except ImportError as exc:
        raise ConfigError(f"engine {address}: Spark Connect needs its client libraries ({exc}); "
                          "pip install 'mlstrat[spark]'") from None
    session = _CONNECT_SESSIONS.get(address)
    if session is not None and not session.is_stopped:
        return session
    seconds = spark_timeout(timeout)
    try:
        # no keepalive pings: Spark's server (grpc-java) answers pings more often than every five
        # minutes with GOAWAY; a host that vanished is caught by the deadline instead
        builder = DefaultChannelBuilder(address)
    except Exception as exc:
        raise ConfigError(f"engine {address}: not a Spark Connect address ({first_line(exc)}); "
                          "use sc://HOST:PORT") from None
    builder.add_interceptor(_deadline_interceptor(address, seconds))
    _require_server(address, builder)
    session = ConnectSession.builder.channelBuilder(builder).create()
    session.client.set_retry_policies([_bounded_retries(seconds)])
    _TIMEOUTS[address] = seconds
    _CONNECT_SESSIONS[address] = session
    try:
        session.version  # noqa: B018 - the first call: is this a Spark Connect server at all?
    except Exception as exc:
        _CONNECT_SESSIONS.pop(address, None)
        raise connect_failure(exc, address=address) or ConfigError(
            f"engine {address}: the server there does not answer as Spark Connect does ({first_line(exc)}); "
            "check the address and port") from None
    return session


def forget_session(address: str) -> None:
    """Drop the session of ``address``: the next :func:`remote_session` opens a new one."""
    _CONNECT_SESSIONS.pop(address, None)


def spark_timeout(timeout: float | None = None) -> float:
    """Seconds one call to a Spark Connect server may take: ``timeout``, else
    ``$MLSTRAT_SPARK_TIMEOUT``, else :data:`SPARK_TIMEOUT`."""
    raw: Any = timeout if timeout is not None else os.environ.get("MLSTRAT_SPARK_TIMEOUT") or SPARK_TIMEOUT
    try:
        seconds = float(raw)
    except (TypeError, ValueError):
        seconds = math.nan
    if not (math.isfinite(seconds) and seconds > 0):
        raise ConfigError(f"Spark timeout {raw!r} is not a positive number of seconds; "
                          f"set MLSTRAT_SPARK_TIMEOUT to e.g. {SPARK_TIMEOUT:g}")
    return seconds


def _bounded_retries(seconds: float) -> Any:
    """pyspark's retry policy with its waits summing to at most half of ``seconds``, and a
    minute at most (its default retries an unavailable server for over ten minutes)."""
    from pyspark.sql.connect.client.retries import DefaultPolicy

    budget_ms = min(seconds * 500, 60_000.0)
    cap_ms, waits, wait = budget_ms / 2, 0, 50.0
    total = 0.0
    while total + min(wait, cap_ms) <= budget_ms and waits < 15:
        total += min(wait, cap_ms)
        waits += 1
        wait *= 4
    return DefaultPolicy(max_retries=waits, max_backoff=int(cap_ms), jitter=0)


class _Deadline:
    """A gRPC client interceptor giving every call without one a deadline of ``seconds``."""

    def __init__(self, address: str, seconds: float) -> None:
        self.address, self.seconds = address, seconds

    def _with_deadline(self, details: Any) -> Any:
        global _LAST_ADDRESS
        _LAST_ADDRESS = self.address  # the server a failure that surfaces next most likely came from
        if details.timeout is not None:
            return details
        return _call_details_class()(details.method, self.seconds, details.metadata, details.credentials,
                            getattr(details, "wait_for_ready", None), getattr(details, "compression", None))

    def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        return continuation(self._with_deadline(details), request)

    def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        return continuation(self._with_deadline(details), request)

    def intercept_stream_unary(self, continuation: Any, details: Any, requests: Any) -> Any:
        return continuation(self._with_deadline(details), requests)

    def intercept_stream_stream(self, continuation: Any, details: Any, requests: Any) -> Any:
        return continuation(self._with_deadline(details), requests)


def _deadline_interceptor(address: str, seconds: float) -> Any:
    """A :class:`_Deadline` that gRPC accepts as an interceptor of every kind of call."""
    import grpc

    kinds = (grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor,
             grpc.StreamUnaryClientInterceptor, grpc.StreamStreamClientInterceptor)
    return type("DeadlineInterceptor", (_Deadline, *kinds), {})(address, seconds)


@functools.lru_cache(maxsize=1)
def _call_details_class() -> Any:
    """``grpc.ClientCallDetails`` as a named tuple (built on first use: grpc is imported only
    with Spark Connect)."""
    import collections

    import grpc

    fields = ("method", "timeout", "metadata", "credentials", "wait_for_ready", "compression")
    return type("_CallDetails", (collections.namedtuple("_Fields", fields), grpc.ClientCallDetails), {})


def connect_failure(exc: BaseException, *, address: str | None = None) -> ConfigError | None:
    """One line for a Spark Connect call that failed on the wire, else ``None``.

    ``exc`` is what pyspark raised (a gRPC status wrapped in its own exceptions); the
    address is the session's (the only one open, when not given).
    """
    status = _grpc_status(exc)
    if status is None:
        return None
    address = address or _LAST_ADDRESS
    if address is None:  # no Spark Connect call was made in this process
        return None
    seconds = _TIMEOUTS.get(address, spark_timeout())
    if status == "DEADLINE_EXCEEDED":
        what = f"did not answer within {seconds:g} s"
    elif status == "UNIMPLEMENTED":
        return ConfigError(f"engine {address}: the service there is not a Spark Connect server (it does not "
                           "implement Spark Connect's calls); check the address and port")
    elif status == "UNAVAILABLE":
        what = "stopped answering (unavailable)"
    else:
        what = f"failed ({status})"
    return ConfigError(f"engine {address}: the Spark Connect server {what}; check that it is running, or "
                       f"allow more time with --timeout or MLSTRAT_SPARK_TIMEOUT (now {seconds:g} s)")


def wire_failure(exc: BaseException) -> ConfigError | None:
    """:func:`connect_failure` where a Spark Connect session may have been opened (grpc loaded),
    else ``None`` without importing anything."""
    import sys

    return connect_failure(exc) if "grpc" in sys.modules else None


def _grpc_status(exc: BaseException) -> str | None:
    """The gRPC status name behind ``exc`` or its causes (``"DEADLINE_EXCEEDED"``, ...)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        code = getattr(current, "code", None)
        if callable(code) and type(current).__module__.startswith("grpc"):
            with contextlib.suppress(Exception):
                return str(code().name)
        found = re.search(r"StatusCode\.([A-Z_]+)", str(current))
        if found:
            return found.group(1)
        current = current.__cause__ or current.__context__
    return None


def _require_server(address: str, channel: Any) -> None:
    """Fail in seconds when nothing answers: the client would retry for minutes in silence."""
    import grpc

    timeout = CONNECT_TIMEOUT
    probe = channel.toChannel()
    try:
        grpc.channel_ready_future(probe).result(timeout=timeout)
    except grpc.FutureTimeoutError:
        raise ConfigError(f"engine {address}: no Spark Connect server answered at {channel.endpoint} "
                          f"within {timeout:g} s; start one (see docs/guide/scale.md) or check the "
                          "address") from None
    finally:
        probe.close()

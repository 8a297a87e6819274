"""``--engine sc://HOST:PORT`` against servers that fail: every Spark Connect call has a deadline
and bounded retries, and each failure is one line naming the address, exit 2, never a wait
without end.

The servers are fakes on ports the kernel picks: a socket that accepts and never answers, one
that answers bytes of no protocol, a gRPC server with no Spark Connect service, and a gRPC
server that answers the client's first question (the Spark version) and then never answers
again or answers "unavailable" (a Connect server dying mid-query; the real one in
tests/conftest.py is shared and stays up)."""

from __future__ import annotations

import threading
from concurrent import futures

import pytest
from typer.testing import CliRunner

from mlstrat.cli import app
from tests._servers import garbage_server, silent_server
from tests.conftest import _skip_or_fail

try:
    import grpc
    from pyspark.sql.connect.proto import base_pb2 as pb2
except ImportError as exc:  # under CI=true a missing Connect client fails, as every Spark test does
    _skip_or_fail(f"the Spark Connect client is not installed ({exc}; pip install -e '.[spark]')")

_SERVICE = "/spark.connect.SparkConnectService/"


class _DyingConnectServer(grpc.GenericRpcHandler):
    """Answers AnalyzePlan (the version) like Spark Connect; every other call blocks until
    released, or fails UNAVAILABLE when ``unavailable``."""

    def __init__(self, *, unavailable: bool) -> None:
        self.unavailable = unavailable
        self.release = threading.Event()

    def service(self, details):
        if not details.method.startswith(_SERVICE):
            return None
        if details.method == _SERVICE + "AnalyzePlan":
            return grpc.unary_unary_rpc_method_handler(
                self._version, request_deserializer=pb2.AnalyzePlanRequest.FromString,
                response_serializer=pb2.AnalyzePlanResponse.SerializeToString)
        return grpc.unary_unary_rpc_method_handler(self._fail if self.unavailable else self._never)

    @staticmethod
    def _version(request, context):
        return pb2.AnalyzePlanResponse(session_id=request.session_id, server_side_session_id="fake",
                                       spark_version=pb2.AnalyzePlanResponse.SparkVersion(version="4.0.0"))

    def _never(self, request, context):
        self.release.wait()
        context.abort(grpc.StatusCode.CANCELLED, "the test is over")

    @staticmethod
    def _fail(request, context):
        context.abort(grpc.StatusCode.UNAVAILABLE, "shutting down")


def _grpc_server(*handlers):
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8), handlers=list(handlers))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    return server, port


@pytest.fixture
def preds(tmp_path):
    path = tmp_path / "preds.csv"
    path.write_text("id,split,y_true,y_pred\n1,dev,1,1\n2,dev,0,1\n")
    return path


def _metrics_line(preds, address: str) -> str:
    r = CliRunner().invoke(app, ["metrics", str(preds), "--engine", address])
    assert r.exit_code == 2, r.output
    return " ".join(r.output.split())


@pytest.mark.parametrize("unavailable", [False, True])
def test_a_server_that_stops_answering_mid_query_is_one_line(preds, monkeypatch, unavailable):
    monkeypatch.setenv("MLSTRAT_SPARK_TIMEOUT", "1")
    fake = _DyingConnectServer(unavailable=unavailable)
    server, port = _grpc_server(fake)
    try:
        line = _metrics_line(preds, f"sc://127.0.0.1:{port}")
    finally:
        fake.release.set()
        server.stop(0)
    what = "stopped answering (unavailable)" if unavailable else "did not answer within 1 s"
    assert line == (f"Error: engine sc://127.0.0.1:{port}: the Spark Connect server {what}; check that it "
                    "is running, or allow more time with --timeout or MLSTRAT_SPARK_TIMEOUT (now 1 s)")


def test_every_call_of_a_session_has_a_deadline(monkeypatch):
    """A query on a session that connected fine, then the server stops answering."""
    from mlstrat.tables import _spark_connect

    fake = _DyingConnectServer(unavailable=False)
    server, port = _grpc_server(fake)
    address = f"sc://127.0.0.1:{port}"
    try:
        session = _spark_connect.remote_session(address, 1)
        with pytest.raises(Exception) as caught:
            session.range(3).count()
    finally:
        fake.release.set()
        server.stop(0)
        _spark_connect.forget_session(address)
    assert str(_spark_connect.connect_failure(caught.value)) == (
        f"engine {address}: the Spark Connect server did not answer within 1 s; check that it is running, "
        "or allow more time with --timeout or MLSTRAT_SPARK_TIMEOUT (now 1 s)")


def test_another_grpc_service_is_one_line(preds):
    server, port = _grpc_server()  # gRPC, but no Spark Connect service
    try:
        line = _metrics_line(preds, f"sc://127.0.0.1:{port}")
    finally:
        server.stop(0)
    assert line == (f"Error: engine sc://127.0.0.1:{port}: the service there is not a Spark Connect server "
                    "(it does not implement Spark Connect's calls); check the address and port")


@pytest.mark.parametrize("fake", [silent_server, garbage_server])
def test_a_socket_that_is_not_grpc_is_one_line(preds, monkeypatch, fake):
    from mlstrat.tables import _spark_connect

    monkeypatch.setattr(_spark_connect, "CONNECT_TIMEOUT", 0.5)
    with fake() as port:
        line = _metrics_line(preds, f"sc://127.0.0.1:{port}")
    assert line == (f"Error: engine sc://127.0.0.1:{port}: no Spark Connect server answered at "
                    f"127.0.0.1:{port} within 0.5 s; start one (see docs/guide/scale.md) or check the address")


@pytest.mark.parametrize("value", ["soon", "0", "-5", "nan", "inf"])
def test_a_timeout_that_is_not_seconds_is_one_line(preds, monkeypatch, value):
    monkeypatch.setenv("MLSTRAT_SPARK_TIMEOUT", value)
    assert _metrics_line(preds, "sc://127.0.0.1:1") == (
        f"Error: Spark timeout {value!r} is not a positive number of seconds; set "
        "MLSTRAT_SPARK_TIMEOUT to e.g. 300")


@pytest.mark.parametrize(("seconds", "budget"), [(1, 0.5), (10, 5), (300, 60), (3600, 60)])
def test_retries_wait_at_most_half_the_timeout_and_a_minute(seconds, budget):
    from mlstrat.tables._spark_connect import _bounded_retries

    policy = _bounded_retries(seconds)
    waits, wait = [], policy.initial_backoff
    for _ in range(policy.max_retries):  # pyspark's schedule: initial * multiplier^k, capped
        waits.append(min(wait, policy.max_backoff))
        wait *= policy.backoff_multiplier
    assert policy.jitter == 0 and policy.max_retries >= 2
    assert sum(waits) / 1000 <= budget
    assert sum(waits) / 1000 + policy.max_backoff / 1000 > budget or policy.max_retries == 15  # no waste



def test_the_timeout_flag_bounds_every_call(preds, monkeypatch):
    monkeypatch.delenv("MLSTRAT_SPARK_TIMEOUT", raising=False)
    fake = _DyingConnectServer(unavailable=False)
    server, port = _grpc_server(fake)
    try:
        r = CliRunner().invoke(app, ["metrics", str(preds), "--engine", f"sc://127.0.0.1:{port}",
                                     "--timeout", "1.5"])
    finally:
        fake.release.set()
        server.stop(0)
    assert r.exit_code == 2, r.output
    assert " ".join(r.output.split()) == (
        f"Error: engine sc://127.0.0.1:{port}: the Spark Connect server did not answer within 1.5 s; check "
        "that it is running, or allow more time with --timeout or MLSTRAT_SPARK_TIMEOUT (now 1.5 s)")
    assert "MLSTRAT_SPARK_TIMEOUT" not in __import__("os").environ  # the flag's setting ends with the command


@pytest.mark.parametrize(("value", "message"), [
    ("0", "Invalid value for '--timeout': 0 is not a positive number of seconds; e.g. --timeout 300"),
    ("-3", "Invalid value for '--timeout': -3 is not a positive number of seconds; e.g. --timeout 300"),
    ("soon", "Invalid value for '--timeout': Input should be a valid number, unable to parse string as a number"),
])
def test_a_timeout_flag_that_is_not_positive_seconds_is_a_usage_error(preds, value, message):
    r = CliRunner().invoke(app, ["metrics", str(preds), "--timeout", value])
    assert r.exit_code == 2
    text = " ".join(r.output.replace("│", " ").split())  # Typer's usage box, wrapped at 80 columns
    assert message in text, r.output

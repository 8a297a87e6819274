"""A real Spark Connect server, in a process of its own, killed (SIGKILL) while a ``mlstrat``
command's query runs on it: the command ends with one line naming the address, exit 2, in
bounded time. (tests/tables/test_connect_timeouts.py covers the same with fake servers; the
shared test server of tests/conftest.py stays up.)

"Running" is read from the server's own log (a task of the command's query started), never
guessed from the clock.
"""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tests._spark_cluster import daemon_env, spark_home
from tests.processes import DEADLINE_S, env, finish, kill_session, wait_until

pytestmark = [pytest.mark.spark, pytest.mark.slow, pytest.mark.xdist_group("spark")]

_SERVER = "org.apache.spark.sql.connect.service.SparkConnectServer"
_TIMEOUT_S = 60  # the command's own Spark Connect deadline; the test waits up to DEADLINE_S (240 s)


def _log(path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""


@pytest.fixture
def connect_server(tmp_path):
    """``(address, process, log path)`` of a Spark Connect server on a kernel-chosen port."""
    log_path = tmp_path / "connect-server.log"
    with open(log_path, "wb") as log:
        server = subprocess.Popen(
            [str(spark_home() / "bin" / "spark-submit"), "--class", _SERVER, "--master", "local[1]",
             "--conf", "spark.connect.grpc.binding.address=127.0.0.1", "--conf", "spark.connect.grpc.binding.port=0",
             "--conf", "spark.ui.enabled=false", "--conf", "spark.driver.host=127.0.0.1",
             "--conf", "spark.driver.bindAddress=127.0.0.1", "spark-internal"],
            env=daemon_env("connect-server"), cwd=tmp_path, stdin=subprocess.DEVNULL, stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        def started() -> str | None:
            found = re.search(r"Spark Connect server started at: 127\.0\.0\.1:(\d+)", _log(log_path))
            if found is None and server.poll() is not None:
                raise AssertionError(f"the Connect server ended ({server.returncode}): {_log(log_path)[-3000:]}")
            return found and found.group(1)

        port = wait_until(started, "the Spark Connect server is up")
        yield f"sc://127.0.0.1:{port}", server, log_path
    finally:
        kill_session(server)


def test_a_connect_server_killed_mid_query_is_one_line_exit_2(tmp_path, connect_server):
    import duckdb

    address, server, log_path = connect_server
    preds = tmp_path / "preds.parquet"
    duckdb.sql("COPY (SELECT i AS id, CASE WHEN i % 4 = 0 THEN 'dev' ELSE 'train' END AS split, "
               "(i * 7) % 3 AS y_true, (i * 11) % 3 AS y_pred FROM range(3000000) t(i)) "
               f"TO '{preds}' (FORMAT parquet)")
    before = len(_log(log_path))
    command = subprocess.Popen([sys.executable, "-m", "mlstrat", "metrics", str(preds), "--engine", address],
                               env=env(MLSTRAT_SPARK_TIMEOUT=str(_TIMEOUT_S)), cwd=tmp_path, start_new_session=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: "INFO Executor: Running task" in _log(log_path)[before:],
                   "a task of the command's query runs on the server", proc=command)
        kill_session(server)  # SIGKILL, the server's whole session
        code, err = finish(command)  # fails the test past DEADLINE_S, well above the command's own deadline
    finally:
        kill_session(command)
    assert code == 2
    assert err.splitlines() == [
        f"Error: engine {address}: the Spark Connect server stopped answering (unavailable); check that it is "
        f"running, or allow more time with --timeout or MLSTRAT_SPARK_TIMEOUT (now {_TIMEOUT_S} s)"]

"""``--engine sc://HOST:PORT`` runs the table commands through Spark Connect, with the results
DuckDB gives: split row for row, counts exactly, floats to 1e-12 relative.

The server is a real Spark Connect endpoint on loopback (the shared session's
``SparkConnectPlugin``, tests/conftest.py; ``MLSTRAT_TEST_SPARK_CONNECT`` names another one);
the client talks gRPC to it like any remote client.
"""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

import mlstrat
from mlstrat.cli import app
from mlstrat.tables import engine_of, read_table
from tests.spark._compare import assert_same
from tests.spark.test_capabilities import _predictions
from tests.spark.test_split import _assignment, _manifest

pytestmark = [pytest.mark.spark, pytest.mark.xdist_group("spark")]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("spark-connect")
    _predictions().to_csv(folder / "preds.csv", index=False)
    pq.write_table(_manifest(), folder / "manifest.parquet")
    return folder


def _cli(*args: str) -> dict:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_metrics_and_diagnose_through_connect_match_duckdb(inputs, spark_connect, monkeypatch):
    # a relative path: the server resolves paths in its own working directory, so the client
    # must hand it an absolute one
    monkeypatch.chdir(inputs)
    src = "preds.csv"
    for command in (["metrics", src, "--weight", "weight"],
                    ["diagnose", src, "--human", "experts=2%", "--no-record"]):
        on_duck = _cli(*command, "--json", "--engine", "duckdb")
        on_connect = _cli(*command, "--json", "--engine", spark_connect)
        assert_same(on_duck, on_connect)
    assert on_duck["errors"]["dev"]["n"] > 100  # a real table, not an empty comparison


def test_split_through_connect_matches_duckdb_row_for_row(inputs, spark_connect, tmp_path):
    common = ["split", str(inputs / "manifest.parquet"), "--label", "label", "--group", "user",
              "--salt", "o'brien\\n \"x\"", "--dev-size", "150", "--test-size", "10%", "--json"]
    duck_out, connect_out = tmp_path / "duck.parquet", tmp_path / "connect.parquet"
    on_duck = _cli(*common, "-o", str(duck_out), "--engine", "duckdb")
    on_connect = _cli(*common, "-o", str(connect_out), "--engine", spark_connect)
    assert on_duck.pop("output") == str(duck_out)
    assert on_connect.pop("output") == f"{connect_out} (a Parquet directory written by Spark)"
    assert_same(on_duck, on_connect)
    duck_rows = _assignment(pq.read_table(duck_out))
    connect_rows = _assignment(read_table(str(connect_out), con=mlstrat.connect("duckdb")).to_pyarrow())
    assert duck_rows == connect_rows and len(duck_rows) == 3000


def test_python_api_takes_a_connect_session(inputs, spark_connect, spark_session):
    """``mlstrat.connect("sc://...")`` and ``con=`` a Connect SparkSession, beside a classic session."""
    from pyspark.sql.connect.session import SparkSession as ConnectSession

    from mlstrat.metrics import compute_metrics

    backend = mlstrat.connect(spark_connect)
    assert isinstance(backend._session, ConnectSession)
    assert mlstrat.connect(spark_connect) is backend  # one session and backend per address
    src = str(inputs / "preds.csv")
    expected = compute_metrics(src, con=mlstrat.connect("duckdb"), store=False).to_dict()
    assert_same(expected, compute_metrics(src, con=backend._session, store=False).to_dict())
    assert engine_of(backend._session).kind == "spark"
    assert spark_session.range(3).count() == 3  # the classic session still works beside it


def test_no_server_is_one_line_exit_2(inputs, monkeypatch):
    from mlstrat.tables import _spark_connect

    monkeypatch.setattr(_spark_connect, "CONNECT_TIMEOUT", 0.5)
    r = CliRunner().invoke(app, ["metrics", str(inputs / "preds.csv"), "--engine", "sc://127.0.0.1:9"])
    assert r.exit_code == 2
    assert " ".join(r.output.split()) == (
        "Error: engine sc://127.0.0.1:9: no Spark Connect server answered at 127.0.0.1:9 within "
        "0.5 s; start one (see docs/guide/scale.md) or check the address")


def test_a_connect_session_has_deadlines_and_bounded_retries(inputs, spark_connect):
    """The real server through the same interceptor and retry policy as the fakes of
    tests/tables/test_connect_timeouts.py: queries pass, and nothing retries for minutes."""
    from mlstrat.tables import _spark_connect

    session = mlstrat.connect(spark_connect)._session
    (policy,) = session.client.get_retry_policies()
    assert policy.max_backoff <= 30_000 and policy.max_retries < 15 and policy.jitter == 0
    assert _spark_connect._TIMEOUTS[spark_connect] == _spark_connect.SPARK_TIMEOUT
    assert session.range(5).count() == 5

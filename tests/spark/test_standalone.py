"""``--engine spark://HOST:PORT`` on a real standalone cluster: a master and a worker started
from the pyspark package by the test (tests/_spark_cluster.py), the commands in a process of
their own (one JVM holds one Spark driver), the results DuckDB gives, and no JVM of the
cluster left once it is torn down."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pyarrow.parquet as pq
import pytest

import mlstrat
from mlstrat.tables import read_table
from tests._spark_cluster import standalone_cluster, tear_down
from tests.processes import DEADLINE_S, wait_until
from tests.spark._compare import assert_same
from tests.spark.test_capabilities import _predictions
from tests.spark.test_split import _assignment, _manifest

pytestmark = [pytest.mark.spark, pytest.mark.slow, pytest.mark.xdist_group("spark")]

# both commands in one driver: the session the first starts on the cluster serves the second
_SCRIPT = """
import json, sys
from mlstrat.cli import app
from pyspark.sql import SparkSession

commands = json.loads(sys.argv[1])
for args in commands:
    code = app(args, standalone_mode=False)
    if code:
        sys.exit(code)
print("MASTER", SparkSession.getActiveSession().sparkContext.master)
"""
# the driver on loopback, no UI of its own, executors small enough for a 1 GB worker
_DRIVER = ["--conf", "spark.driver.host=127.0.0.1", "--conf", "spark.driver.bindAddress=127.0.0.1",
           "--conf", "spark.ui.enabled=false", "--conf", "spark.executor.memory=512m"]


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("SPARK_MASTER", "MASTER", "PYSPARK_SUBMIT_ARGS", "MLSTRAT_ENGINE")}
    return {**env, "PYSPARK_PYTHON": sys.executable}


def _documents(text: str) -> list[dict]:
    """The JSON documents printed one after another."""
    decoder, found, at = json.JSONDecoder(), [], 0
    while text[at:].strip():
        at += len(text[at:]) - len(text[at:].lstrip())
        document, at = decoder.raw_decode(text, at)
        found.append(document)
    return found


def _on_duckdb(*args: str) -> dict:
    done = subprocess.run([sys.executable, "-m", "mlstrat", *args, "--json", "--engine", "duckdb"],
                          capture_output=True, text=True, env=_env(), timeout=DEADLINE_S)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def test_metrics_and_split_on_a_standalone_cluster_match_duckdb(tmp_path):
    preds, manifest = tmp_path / "preds.csv", tmp_path / "manifest.parquet"
    _predictions().to_csv(preds, index=False)
    pq.write_table(_manifest(), manifest)
    split = ["split", str(manifest), "--label", "label", "--group", "user", "--salt", "s",
             "--dev-size", "150", "--test-size", "10%", "--json", "--force"]
    metrics = ["metrics", str(preds), "--weight", "weight", "--json"]
    with standalone_cluster(tmp_path / "cluster") as cluster:
        engine = ["--engine", cluster.url, *_DRIVER]
        commands = [[*metrics, *engine], [*split, "-o", str(tmp_path / "spark.parquet"), *engine]]
        done = subprocess.run([sys.executable, "-c", _SCRIPT, json.dumps(commands)], capture_output=True,
                              text=True, env=_env(), timeout=2 * DEADLINE_S)
        assert done.returncode == 0, done.stderr[-3000:]
        # the driver's JVM tells the master from its shutdown hook, after this process has ended
        (app,) = wait_until(lambda: cluster.status()["completedapps"], "the application ended on the master")
    assert (app["name"], app["state"]) == ("mlstrat", "FINISHED")  # it ran on this cluster, and ended
    assert cluster.survivors() == []  # master, worker and executor JVMs all gone

    lines = done.stdout.splitlines()
    assert lines[-1] == f"MASTER {cluster.url}"
    on_metrics, on_split = _documents("\n".join(lines[:-1]))
    assert_same(_on_duckdb(*metrics), on_metrics)
    on_duck = _on_duckdb(*split, "-o", str(tmp_path / "duck.parquet"))
    assert on_split.pop("output") == f"{tmp_path / 'spark.parquet'} (a Parquet directory written by Spark)"
    on_duck.pop("output")
    assert_same(on_duck, on_split)
    duck_rows = _assignment(pq.read_table(tmp_path / "duck.parquet"))
    spark_rows = _assignment(read_table(str(tmp_path / "spark.parquet"), con=mlstrat.connect("duckdb")).to_pyarrow())
    assert duck_rows == spark_rows and len(duck_rows) == 3000


# a driver that starts its session on the cluster (its application registered), waits for the
# file "go" while the test kills the cluster, then runs one command with a short --timeout
_AFTER_THE_CLUSTER_IS_GONE = """
import json, os, sys, time
import mlstrat
from mlstrat.cli import app

folder, engine, conf, args = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), sys.argv[4:]
mlstrat.connect(engine, conf=conf)
open(os.path.join(folder, "ready"), "w").close()
while not os.path.exists(os.path.join(folder, "go")):
    time.sleep(0.05)
app([*args, "--engine", engine, "--timeout", "5"])
"""


def test_a_cluster_gone_mid_session_fails_in_one_line_not_a_wait_without_end(tmp_path):
    # with its master and workers gone, a job has no executor: Spark's standalone client would
    # wait for the master without end; the watchdog cancels the job after --timeout seconds
    preds = tmp_path / "preds.csv"
    _predictions().to_csv(preds, index=False)
    metrics = ["metrics", str(preds), "--json"]
    with standalone_cluster(tmp_path / "cluster") as cluster:
        conf = dict(item.split("=", 1) for item in _DRIVER[1::2])
        driver = subprocess.Popen([sys.executable, "-c", _AFTER_THE_CLUSTER_IS_GONE, str(tmp_path), cluster.url,
                                   json.dumps(conf), *metrics], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True, env=_env())
        try:
            wait_until(lambda: (tmp_path / "ready").exists(), "the session started on the cluster", proc=driver)
            tear_down(cluster)
            (tmp_path / "go").touch()
            _, err = driver.communicate(timeout=DEADLINE_S)
        finally:
            driver.kill()
    assert driver.returncode == 2, err[-3000:]
    errors = [line for line in err.splitlines() if line.startswith("Error:")]
    assert errors == [f"Error: engine {cluster.url}: a Spark job waited 5 s with no executor to run it (the "
                      "cluster's master or workers are gone, or it has no free cores), so it was cancelled; "
                      "check the cluster, or allow more time with --timeout or MLSTRAT_SPARK_TIMEOUT (now 5 s)"]
    assert "Traceback" not in err

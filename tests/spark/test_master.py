"""A master URL and ``--conf`` start a real Spark driver (in a process of its own: one JVM holds one
Spark driver, and the shared test session runs in this one)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytestmark = [pytest.mark.spark, pytest.mark.slow, pytest.mark.xdist_group("spark")]

_SCRIPT = """
import json, sys
from mlstrat.cli import app
from pyspark.sql import SparkSession

code = app(sys.argv[1:], standalone_mode=False)
session = SparkSession.getActiveSession()
print(json.dumps({"master": session.sparkContext.master,
                  "partitions": session.conf.get("spark.sql.shuffle.partitions")}))
sys.exit(code or 0)
"""


def test_local_master_and_conf_start_the_session(tmp_path):
    preds = tmp_path / "preds.csv"
    preds.write_text("id,split,y_true,y_pred\n" + "".join(
        f"{i},{'dev' if i % 2 else 'train'},a,{'a' if i % 3 else 'b'}\n" for i in range(30)))
    env = {k: v for k, v in os.environ.items()
           if k not in ("SPARK_MASTER", "MASTER", "PYSPARK_SUBMIT_ARGS", "MLSTRAT_ENGINE")}
    env["SPARK_MASTER"] = "local[2]"  # an engine naming the master wins over SPARK_MASTER
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT, "metrics", str(preds), "--json", "--engine", "local[1]",
         "--conf", "spark.sql.shuffle.partitions=3", "--conf", "spark.ui.enabled=false",
         "--conf", "spark.driver.bindAddress=127.0.0.1", "--conf", "spark.driver.host=127.0.0.1"],
        capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    *report, session = done.stdout.strip().splitlines()
    assert json.loads(session) == {"master": "local[1]", "partitions": "3"}
    dev = json.loads("\n".join(report))["splits"]["dev"]
    # rows 1, 3, ..., 29 are dev; y_pred is "b" where i is a multiple of 3: 3, 9, 15, 21, 27
    assert (dev["n"], dev["errors"]) == (15, 5)

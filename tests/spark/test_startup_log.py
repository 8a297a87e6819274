"""A Spark session that fails to start is mlstrat's one line on stderr, not Spark's ERROR log and
Java stack before it; ``MLSTRAT_SPARK_LOG=1`` shows Spark's own log too. Real driver JVMs, each
in a ``python -m mlstrat`` process of its own."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.processes import DEADLINE_S

pytestmark = [pytest.mark.spark, pytest.mark.slow, pytest.mark.xdist_group("spark")]

_TAIL = "; check the master (--engine) and the Spark settings (--conf)"


def _metrics(tmp_path, conf: str, **env: str) -> tuple[int, str, str]:
    preds = tmp_path / "preds.csv"
    preds.write_text("id,split,y_true,y_pred\n1,dev,a,a\n2,dev,a,b\n")
    settings = {k: v for k, v in os.environ.items()
                if k not in ("SPARK_MASTER", "MASTER", "PYSPARK_SUBMIT_ARGS", "MLSTRAT_ENGINE", "MLSTRAT_SPARK_LOG")}
    done = subprocess.run([sys.executable, "-m", "mlstrat", "metrics", str(preds), "--engine", "local[1]",
                           "--conf", "spark.ui.enabled=false", "--conf", conf],
                          capture_output=True, text=True, env={**settings, **env}, timeout=DEADLINE_S)
    return done.returncode, done.stdout, done.stderr


def test_a_setting_spark_rejects_at_start_is_one_line(tmp_path):
    code, out, err = _metrics(tmp_path, "spark.plugins=no.such.Plugin")
    assert (code, out) == (2, "")
    assert err.splitlines() == [
        "Error: engine local[1]: Spark did not start (java.lang.ClassNotFoundException: no.such.Plugin)" + _TAIL]


def test_spark_log_shows_spark_s_own_error_and_stack_before_the_line(tmp_path):
    code, _, err = _metrics(tmp_path, "spark.plugins=no.such.Plugin", MLSTRAT_SPARK_LOG="1")
    assert code == 2
    assert "ERROR SparkContext: Error initializing SparkContext.\njava.lang.ClassNotFoundException: no.such.Plugin\n\tat " in err
    assert err.splitlines()[-1] == (
        "Error: engine local[1]: Spark did not start (java.lang.ClassNotFoundException: no.such.Plugin)" + _TAIL)


@pytest.mark.parametrize("spark_log", ["", "1"])
def test_a_jvm_that_exits_at_start_names_its_own_reason(tmp_path, spark_log):
    code, out, err = _metrics(tmp_path, "spark.driver.memory=lots", MLSTRAT_SPARK_LOG=spark_log)
    line = "Error: engine local[1]: Spark did not start (its JVM exited: Invalid maximum heap size: -Xmxlots)" + _TAIL
    assert (code, out) == (2, "")
    if spark_log:  # the JVM's own words, then the line
        assert err.splitlines()[-4:] == ["Invalid maximum heap size: -Xmxlots",
                                         "Error: Could not create the Java Virtual Machine.",
                                         "Error: A fatal exception has occurred. Program will exit.", line]
    else:
        assert err.splitlines() == [line]

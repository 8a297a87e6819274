"""Suite-wide set-up."""

import os
import tempfile

import pytest


def pytest_configure(config):
    """Commands that record runs write to a throwaway store, never into the checkout
    (module-scoped fixtures run before function-scoped ones, so this is set for the session)."""
    # recorded runs are logged to MLflow when this is set: only the tests that ask for it do
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    if "MLSTRAT_STORE" not in os.environ:
        os.environ["MLSTRAT_STORE"] = os.path.join(tempfile.mkdtemp(prefix="mlstrat-store-"), "runs.db")


def _spark_missing() -> str | None:
    import shutil

    try:
        import pyspark  # noqa: F401
    except ImportError:
        return "pyspark is not installed (pip install -e '.[spark]')"
    if not (os.environ.get("JAVA_HOME") or shutil.which("java")):
        return "Java is not installed (Spark needs a JRE 17+)"
    return None


@pytest.fixture(scope="session")
def spark_session():
    """One local[2] SparkSession per test worker, shared by every Spark test.

    Starting Spark costs 10-25 s, so it starts once; small shuffles, no UI, loopback only.
    Under ``CI=true`` a missing Java or pyspark fails the tests instead of skipping them.
    """
    reason = _spark_missing()
    if reason:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason + "; CI must run the Spark tests")
        pytest.skip(reason)
    import sys

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[2]").appName("mlstrat-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.default.parallelism", "2")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.driver.extraJavaOptions", "-Dlog4j2.level=error")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="session")
def spark(spark_session):
    """The Ibis backend on the shared SparkSession (what ``con=`` takes)."""
    from mlstrat.tables import connect  # noqa: F401  (the engine layer caches one backend per session)
    from mlstrat.tables._engine import _backend

    return _backend(spark_session)

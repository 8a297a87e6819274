"""Suite-wide set-up."""

import os
import tempfile

import pytest


def pytest_configure(config):
    """Commands that record runs write to a throwaway store, never into the checkout
    (module-scoped fixtures run before function-scoped ones, so this is set for the session)."""
    # recorded runs are logged to MLflow when this is set: only the tests that ask for it do
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    # one fixed clock for every time written into an output (report pages, sheets): two
    # renderings of the same inputs are then identical whatever minute each ran in
    os.environ["SOURCE_DATE_EPOCH"] = "1767225600"  # 2026-01-01 00:00 UTC
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


def _skip_or_fail(reason: str, *, tests: str = "the Spark tests") -> None:
    """Under ``CI=true`` a missing Java, pyspark, Connect client (or another dependency of
    ``tests``) fails instead of skipping (in a fixture, a test or at the top of a test module)."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason}; CI must run {tests}")
    pytest.skip(reason, allow_module_level=True)


def _connect_address(session) -> str:
    """``sc://127.0.0.1:PORT`` of the shared session's Connect server (it bound a free port: 0 asked)."""
    env = os.environ.get("MLSTRAT_TEST_SPARK_CONNECT")
    if env:
        return env
    service = getattr(session._jvm, "org.apache.spark.sql.connect.service.SparkConnectService$")
    return f"sc://127.0.0.1:{getattr(service, 'MODULE$').localPort()}"


@pytest.fixture(scope="session")
def spark_session():
    """One local[2] SparkSession per test worker, shared by every Spark test.

    Starting Spark costs 10-25 s, so it starts once; small shuffles, no UI, loopback only.
    The same JVM serves Spark Connect on a free loopback port (Spark's own
    ``SparkConnectPlugin``, the server ``start-connect-server.sh`` runs): the Connect tests
    cost no second JVM. Under ``CI=true`` a missing Java or pyspark fails the tests.
    """
    reason = _spark_missing()
    if reason:
        _skip_or_fail(reason)
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
        .config("spark.plugins", "org.apache.spark.sql.connect.SparkConnectPlugin")
        .config("spark.connect.grpc.binding.address", "127.0.0.1")
        .config("spark.connect.grpc.binding.port", "0")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="session")
def spark_connect(spark_session):
    """The address ``sc://127.0.0.1:PORT`` of a Spark Connect server.

    ``MLSTRAT_TEST_SPARK_CONNECT`` points the tests at a server started apart (e.g. with
    ``spark-submit --class org.apache.spark.sql.connect.service.SparkConnectServer``);
    otherwise the shared session's own Connect endpoint.
    """
    try:
        import pyspark.sql.connect.session  # noqa: F401  (checks grpcio & co.)
    except ImportError as exc:
        _skip_or_fail(f"the Spark Connect client is not installed ({exc}; pip install -e '.[spark]')")
    return _connect_address(spark_session)


@pytest.fixture(scope="session")
def spark(spark_session):
    """The Ibis backend on the shared SparkSession (what ``con=`` takes).

    ``MLSTRAT_TEST_SPARK=connect`` runs every Spark test through Spark Connect instead.
    """
    from mlstrat.tables import engine_of

    if os.environ.get("MLSTRAT_TEST_SPARK") == "connect":
        import mlstrat

        return mlstrat.connect(_connect_address(spark_session))
    return engine_of(spark_session).backend  # one backend per session, cached by the engine layer


@pytest.fixture
def commands():
    """Start commands in sessions of their own (``commands.start``); whatever of them still runs
    when the test ends, passed or failed, is killed with its process group."""
    from tests.processes import Commands

    started = Commands()
    yield started
    started.close()

"""Naming the Spark cluster: master URLs as ``--engine``, ``--conf KEY=VALUE`` and ``SPARK_MASTER``.

The session builder is replaced by a recorder: what reaches it is what Spark would be given,
without starting a cluster (``yarn`` and ``k8s://`` have none here). A real ``local[1]`` start
is in tests/spark/test_master.py.
"""

from __future__ import annotations

import socket

import pytest
from typer.testing import CliRunner

from mlstrat._exceptions import ConfigError
from mlstrat.cli import app
from mlstrat.tables import _connect, _spark_session, connect, parse_spark_conf


class RecordingBuilder:
    """What ``SparkSession.builder`` was told; ``getOrCreate`` returns a marker or raises ``fails``."""

    def __init__(self, fails: Exception | None = None) -> None:
        self.masters: list[str] = []
        self.settings: dict[str, str] = {}
        self.fails = fails
        self.created = 0

    def appName(self, name):  # noqa: N802 - pyspark's spelling
        self.settings["spark.app.name"] = name
        return self

    def master(self, url):
        self.masters.append(url)
        return self

    def config(self, key, value):
        self.settings[key] = value
        return self

    def getOrCreate(self):  # noqa: N802
        self.created += 1
        if self.fails is not None:
            raise self.fails
        return "the session"


@pytest.fixture
def builder(monkeypatch):
    """A recording builder, no active session, and no master named by the environment."""
    recorder = RecordingBuilder()
    monkeypatch.setattr(_spark_session, "_builder", lambda: recorder)
    monkeypatch.setattr(_spark_session, "_active_session", lambda: None)
    monkeypatch.setattr(_spark_session, "_launch_gateway", lambda settings: None)  # no JVM
    monkeypatch.setattr(_connect, "_spark_backend", lambda session: ("backend of", session))
    for name in ("SPARK_MASTER", "MASTER", "PYSPARK_GATEWAY_PORT", "PYSPARK_SUBMIT_ARGS", "MLSTRAT_ENGINE"):
        monkeypatch.delenv(name, raising=False)
    saved = _connect._DEFAULT
    yield recorder
    _connect._DEFAULT = saved


@pytest.fixture
def preds(tmp_path):
    path = tmp_path / "preds.csv"
    path.write_text("id,split,y_true,y_pred\n1,dev,a,a\n2,dev,a,b\n3,train,b,b\n")
    return path


def one_line(result) -> str:
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert len(lines) == 1, result.output
    return lines[0]


@pytest.mark.parametrize("master", ["yarn", "k8s://https://k8s.example:6443", "local[3]", "local[*]",
                                    "local[2,4]", "local"])
def test_a_master_url_reaches_the_builder_with_the_settings(builder, master):
    backend = connect(master, conf={"spark.executor.memory": "2g", "spark.sql.shuffle.partitions": "7"})
    assert backend == ("backend of", "the session")
    assert builder.masters == [master]
    assert builder.settings["spark.executor.memory"] == "2g"
    assert builder.settings["spark.sql.shuffle.partitions"] == "7"


def test_cli_master_and_repeated_conf_reach_the_builder(builder, preds):
    builder.fails = RuntimeError("When running with master 'yarn' either HADOOP_CONF_DIR or YARN_CONF_DIR "
                                 "must be set in the environment.")
    result = CliRunner().invoke(app, ["metrics", str(preds), "--engine", "yarn",
                                      "--conf", "spark.executor.instances=3",
                                      "--conf", "spark.driver.extraJavaOptions=-Da=b -Dc=d"])
    assert result.exit_code == 2
    assert builder.masters == ["yarn"]
    assert builder.settings["spark.executor.instances"] == "3"
    assert builder.settings["spark.driver.extraJavaOptions"] == "-Da=b -Dc=d"  # a value may hold "="
    assert one_line(result) == (
        "Error: engine yarn: Spark did not start (When running with master 'yarn' either HADOOP_CONF_DIR "
        "or YARN_CONF_DIR must be set in the environment.); check the master (--engine) and the Spark "
        "settings (--conf)")


def test_spark_master_is_honoured_when_the_engine_names_none(builder, monkeypatch):
    monkeypatch.setenv("SPARK_MASTER", "spark-not-a-url")
    with pytest.raises(ConfigError, match=r"^SPARK_MASTER 'spark-not-a-url' is not a Spark master URL; use "):
        connect("spark")
    monkeypatch.setenv("SPARK_MASTER", "local[3]")
    connect("spark")
    assert builder.masters == ["local[3]"]
    monkeypatch.setenv("MASTER", "local[2]")  # spark-submit's own variable names the master: Spark decides
    connect("spark")
    assert builder.masters == ["local[3]"]
    assert builder.created == 2


def test_without_a_master_spark_configuration_decides(builder):
    connect("spark", conf={"spark.sql.shuffle.partitions": "5"})
    assert builder.masters == []
    assert builder.settings["spark.sql.shuffle.partitions"] == "5"


def test_a_new_session_keeps_timestamps_as_duckdb_does_unless_conf_says_otherwise(builder):
    connect("spark")
    assert builder.settings["spark.sql.session.timeZone"] == "UTC"
    assert builder.settings["spark.sql.parquet.outputTimestampType"] == "TIMESTAMP_MICROS"
    connect("local[2]", conf={"spark.sql.session.timeZone": "Europe/Paris"})
    assert builder.settings["spark.sql.session.timeZone"] == "Europe/Paris"


@pytest.mark.parametrize("given", ["foo", "=value", " =x"])
def test_a_conf_without_key_and_value_is_one_line(given, preds):
    result = CliRunner().invoke(app, ["metrics", str(preds), "--engine", "spark", "--conf", given])
    assert result.exit_code == 2
    assert one_line(result) == f"Error: --conf {given!r} is not KEY=VALUE; write e.g. --conf spark.executor.memory=8g"
    with pytest.raises(ConfigError, match="is not KEY=VALUE"):
        parse_spark_conf([given])


def test_conf_with_duckdb_is_refused(preds):
    result = CliRunner().invoke(app, ["metrics", str(preds), "--engine", "duckdb", "--conf", "a=b"])
    assert result.exit_code == 2
    assert one_line(result).startswith("Error: --conf (conf=) passes Spark settings and the engine is DuckDB;")


def test_an_unknown_engine_lists_the_master_urls():
    with pytest.raises(ConfigError, match=r"unknown engine 'YARN'; use duckdb, spark, a Spark master "
                                          r"\(spark://HOST:PORT, yarn, k8s://https://HOST:PORT, local\[N\]\)"):
        connect("YARN")


def test_an_unreachable_standalone_master_fails_in_one_line_before_spark_starts(builder, preds):
    with socket.socket() as sock:  # a port that was free a moment ago and has no listener now
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    master = f"spark://127.0.0.1:{port}"
    result = CliRunner().invoke(app, ["metrics", str(preds), "--engine", master])
    assert result.exit_code == 2
    assert one_line(result) == (f"Error: engine {master}: no Spark master answers (127.0.0.1:{port}: Connection "
                                "refused); start it (sbin/start-master.sh) or check the address")
    assert builder.created == 0  # Spark's own client would retry for a minute, then wait without end


def test_a_standalone_master_that_answers_reaches_the_builder(builder):
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        dead = closed.getsockname()[1]
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(2)
        port = listener.getsockname()[1]
        master = f"spark://127.0.0.1:{dead},127.0.0.1:{port}"  # the second of two masters answers
        connect(master)
    assert builder.masters == [master]


def test_another_master_than_the_running_session_is_refused(builder, monkeypatch):
    class Running:
        class sparkContext:  # noqa: N801 - pyspark's attribute
            master = "local[2]"

        class conf:  # noqa: N801
            seen: dict[str, str] = {"spark.ui.enabled": "false"}

            @classmethod
            def get(cls, key, default=None):
                return cls.seen.get(key, default)

            @classmethod
            def set(cls, key, value):
                if key == "spark.ui.enabled":
                    raise RuntimeError('[CANNOT_MODIFY_CONFIG] Cannot modify the value of the Spark config: '
                                       '"spark.ui.enabled".')
                cls.seen[key] = value

    monkeypatch.setattr(_spark_session, "_active_session", lambda: Running)
    with pytest.raises(ConfigError, match=r"^engine yarn: this process already runs a Spark session on "
                                          r"local\[2\]; use --engine spark to work in it"):
        connect("yarn")
    # a static setting the session already holds is no change (the command's second connect)
    conf = {"spark.sql.shuffle.partitions": "3", "spark.ui.enabled": "false"}
    assert connect("spark", conf=conf) == ("backend of", Running)
    assert Running.conf.seen == {"spark.ui.enabled": "false", "spark.sql.shuffle.partitions": "3"}
    with pytest.raises(ConfigError, match=r'^--conf spark.ui.enabled: the running Spark session refuses it '
                                          r'\(\[CANNOT_MODIFY_CONFIG\] Cannot modify the value of the Spark '
                                          r'config: "spark.ui.enabled".\); set it when the session starts'):
        connect("spark", conf={"spark.ui.enabled": "true"})
    assert builder.created == 0


def test_a_conf_key_with_spaces_is_no_setting_name():
    with pytest.raises(ConfigError, match=r"^--conf key 'spark executor.memory' is not a Spark setting name; "):
        parse_spark_conf(["spark executor.memory=8g"])
    with pytest.raises(ConfigError, match=r"^--conf key '' is not a Spark setting name; "):
        parse_spark_conf({"": "8g"})
    assert parse_spark_conf({" spark.a ": 1, "spark.b": None}) == {"spark.a": "1", "spark.b": ""}

"""Writes through Spark Connect: the save mode its client accepts, an existing or unreachable
output refused before the work in one line, and a storage error at write time in one line
naming the path (no JVM stack)."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

import mlstrat
from mlstrat._exceptions import InputError
from mlstrat.cli import app
from mlstrat.tables import engine_of, read_table, write_table
from mlstrat.tables._spark_engine import SparkEngine
from tests.spark.test_split import _manifest

pytestmark = [pytest.mark.spark, pytest.mark.xdist_group("spark")]

_NO_CONNECTOR = ("the Spark session has no connector for this scheme: add its jars (hadoop-aws for "
                 "s3a://, gcs-connector for gs://, hadoop-azure for abfss://) with --conf "
                 "spark.jars.packages=... or spark.jars=...")


def _one_line(text: str) -> str:
    return " ".join(text.split())


def test_a_connect_write_without_force_uses_a_mode_the_client_accepts(spark_connect, tmp_path):
    """The Connect client knows "error", not its alias "errorifexists" (that was a
    PySparkValueError once the whole job had run)."""
    engine = engine_of(mlstrat.connect(spark_connect))
    uri = (tmp_path / "out.parquet").as_uri()
    engine.write(engine.register(pa.table({"a": [1, 2, 3]})), uri, "parquet", force=False)
    assert sorted(read_table(str(tmp_path / "out.parquet"), con=mlstrat.connect("duckdb"))
                  .a.execute().tolist()) == [1, 2, 3]


def test_connect_tells_an_existing_output_from_a_missing_one(spark_connect, tmp_path):
    engine = engine_of(mlstrat.connect(spark_connect))
    (tmp_path / "there.parquet").mkdir()
    assert engine.output_exists((tmp_path / "there.parquet").as_uri()) is True
    assert engine.output_exists((tmp_path / "missing.parquet").as_uri()) is False


def test_an_unreachable_output_is_refused_before_the_split_runs(spark_connect, tmp_path, monkeypatch):
    import mlstrat.splits

    pq.write_table(_manifest(n=200), tmp_path / "manifest.parquet")

    def must_not_run(*args, **kwargs):
        raise AssertionError("the split ran before the output was checked")

    monkeypatch.setattr(mlstrat.splits, "split", must_not_run)
    result = CliRunner().invoke(app, ["split", str(tmp_path / "manifest.parquet"), "--label", "label",
                                      "-o", "s3a://bucket/out.parquet", "--engine", spark_connect])
    assert result.exit_code == 2, result.output
    line = _one_line(result.output)
    assert line.startswith("Error: s3a://bucket/out.parquet: cannot be reached by Spark (")
    assert "S3AFileSystem not found" in line and line.endswith(_NO_CONNECTOR)
    assert len(result.output.strip().splitlines()) <= 3  # one line, however the terminal wraps it


def test_a_storage_error_while_writing_is_one_line_naming_the_path(spark_connect, monkeypatch):
    backend = mlstrat.connect(spark_connect)
    monkeypatch.setattr(SparkEngine, "output_exists", lambda self, path: False)  # fails at the write
    with pytest.raises(InputError) as caught:
        write_table(pa.table({"a": [1, 2]}), "s3a://bucket/out.parquet", con=backend, force=True)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("s3a://bucket/out.parquet: cannot be written by Spark (")
    assert "S3AFileSystem not found" in message and message.endswith(_NO_CONNECTOR)

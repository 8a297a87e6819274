"""Spark outputs: exact paths whatever their characters, folders replaced only with --force, and
no temporary folder left by a failed or killed write."""

from __future__ import annotations

import subprocess
import sys

import pyarrow as pa
import pytest
from typer.testing import CliRunner

from mlstrat.cli import app
from mlstrat.tables import read_table, write_table

pytestmark = [pytest.mark.spark, pytest.mark.xdist_group("spark")]


def test_glob_characters_and_force_on_a_spark_output_folder(spark, tmp_path):
    """Hadoop reads ``[``, ``{`` and ``*`` as a pattern: ``m[1].csv`` was "Path does not exist"."""
    folder = tmp_path / "d[1]{a,b}*"
    folder.mkdir()
    manifest = folder / "m[1].csv"
    manifest.write_text("id,label\n" + "".join(f"ex{i},{'ab'[i % 2]}\n" for i in range(60)))
    (folder / "m1.csv").write_text("id,label\nother,a\n")  # what the pattern m[1].csv would match
    assert read_table(str(manifest), con=spark).count().execute() == 60
    out = folder / "o[1].parquet"
    args = ["split", str(manifest), "-o", str(out), "--engine", "spark", "--json"]
    runner = CliRunner()
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    again = runner.invoke(app, args)
    assert again.exit_code == 2
    assert f"{out}: already exists; pass --force (force=True) to overwrite it" in " ".join(again.output.split())
    forced = runner.invoke(app, [*args, "--force"])
    assert forced.exit_code == 0, forced.output
    assert read_table(str(out), con=spark).count().execute() == 60
    assert sorted(p.name for p in folder.iterdir()) == ["m1.csv", "m[1].csv", "o[1].parquet"]


def test_temporary_folders_of_failed_and_killed_spark_writes_are_removed(spark, tmp_path, monkeypatch):
    from mlstrat.tables._spark_engine import SparkEngine

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f".o.parquet.{dead.pid}.abc.tmp"  # what a killed writer leaves
    stale.mkdir()
    (stale / "part-00000.parquet").write_bytes(b"x" * 1000)
    table = pa.table({"a": [1, 2, 3]})
    real = SparkEngine.write

    def fails_after_writing(self, expr, path, fmt, **options):
        real(self, expr, path, fmt, **options)
        raise RuntimeError("the executor was lost")

    monkeypatch.setattr(SparkEngine, "write", fails_after_writing)
    with pytest.raises(RuntimeError, match="the executor was lost"):
        write_table(table, tmp_path / "o.parquet", con=spark)
    assert list(tmp_path.iterdir()) == []
    monkeypatch.setattr(SparkEngine, "write", real)
    write_table(table, tmp_path / "o.parquet", con=spark)
    assert [p.name for p in tmp_path.iterdir()] == ["o.parquet"]
    not_a_table = tmp_path / "notes.parquet"
    not_a_table.mkdir()
    (not_a_table / "mine.txt").write_text("keep")
    with pytest.raises(Exception, match="is a folder; give a file path for the output"):
        write_table(table, not_a_table, con=spark, force=True)
    assert (not_a_table / "mine.txt").read_text() == "keep"


def _never(*_args, **_kwargs):
    raise AssertionError("the work ran before the output was checked")


def test_labels_and_mismatch_check_a_spark_output_before_the_work(spark, tmp_path, monkeypatch):
    import mlstrat.mismatch
    from tests.tables.test_remote_outputs import write_predictions

    preds = write_predictions(tmp_path)
    monkeypatch.setattr("mlstrat.cli.labels._find_suspects", _never)
    monkeypatch.setattr(mlstrat.mismatch, "analyze_mismatch", _never)
    runner = CliRunner()
    commands = (["labels", str(preds)], ["mismatch", str(preds), "--domain", "domain", "--target", "app",
                                         "--features", "f1"])
    for command in commands:
        result = runner.invoke(app, [*command, "-o", "s3a://bucket/out.parquet", "--engine", "spark"])
        assert result.exit_code == 2, result.output
        line = " ".join(result.output.split())
        assert line.startswith("Error: s3a://bucket/out.parquet: cannot be reached by Spark (")
        assert line.endswith("with --conf spark.jars.packages=... or spark.jars=...")
        (tmp_path / "there.parquet").mkdir(exist_ok=True)
        (tmp_path / "there.parquet" / "part-00000.parquet").write_bytes(b"")
        result = runner.invoke(app, [*command, "-o", (tmp_path / "there.parquet").as_uri(), "--engine", "spark"])
        assert result.exit_code == 2, result.output
        assert " ".join(result.output.split()).endswith("there.parquet: already exists; pass --force (force=True) "
                                                        "to overwrite it")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["preds.parquet", "there.parquet"]


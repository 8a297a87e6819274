"""An Iceberg table (appended to twice, overwritten, appended to again) gives on Spark the metrics,
diagnosis and split of its live rows read from a plain Parquet file: its live files only."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

import mlstrat
from mlstrat._exceptions import InputError
from mlstrat.cli import app
from mlstrat.tables import read_table
from tests.spark._compare import assert_same
from tests.tables.test_iceberg import (
    DataFileContent,
    _add_delete_file,
    iceberg_catalog,
    iceberg_with_history,
    predictions,
)

pytestmark = [pytest.mark.spark, pytest.mark.xdist_group("spark")]


def test_iceberg_metrics_and_diagnosis_on_spark_are_those_of_the_live_rows(spark, tmp_path):
    from mlstrat._json import to_jsonable
    from mlstrat.diagnosis import diagnose
    from mlstrat.metrics import compute_metrics

    path, live = iceberg_with_history(tmp_path / "warehouse")
    pq.write_table(live, tmp_path / "live.parquet")
    duck = mlstrat.connect("duckdb")
    on_spark = compute_metrics(str(path), con=spark, test=True, store=False).to_dict()
    of_file = compute_metrics(str(tmp_path / "live.parquet"), con=duck, test=True, store=False).to_dict()
    assert_same(on_spark["splits"], of_file["splits"])
    assert sum(s["n"] for s in on_spark["splits"].values()) == live.num_rows == 360
    assert_same(to_jsonable(diagnose(str(path), human=["experts=1%"], con=spark, test=True, store=False))["errors"],
                to_jsonable(diagnose(str(tmp_path / "live.parquet"), human=["experts=1%"], con=duck, test=True,
                                     store=False))["errors"])


def test_split_on_spark_reads_an_iceberg_manifest_as_its_live_rows(spark, tmp_path):
    _path, live = iceberg_with_history(tmp_path / "warehouse")
    manifest = live.drop_columns(["split", "y_pred"]).rename_columns(["id", "label"])
    table = iceberg_catalog(tmp_path / "manifests").create_table("db.manifest", schema=manifest.schema)
    table.append(manifest.slice(0, 100))
    table.overwrite(manifest)
    pq.write_table(manifest, tmp_path / "manifest.parquet")
    folder = tmp_path / "manifests" / "db" / "manifest"
    runner = CliRunner()
    on_spark = runner.invoke(app, ["split", str(folder), "--label", "label", "-o", str(tmp_path / "spark.parquet"),
                                   "--engine", "spark"])
    assert on_spark.exit_code == 0, on_spark.output
    on_duck = runner.invoke(app, ["split", str(tmp_path / "manifest.parquet"), "--label", "label",
                                  "-o", str(tmp_path / "duck.parquet")])
    assert on_duck.exit_code == 0, on_duck.output
    duck = mlstrat.connect("duckdb")
    spark_rows = read_table(str(tmp_path / "spark.parquet"), con=duck).to_pyarrow().sort_by("id")
    duck_rows = pq.read_table(tmp_path / "duck.parquet").sort_by("id")
    assert spark_rows.num_rows == 360
    assert spark_rows.select(["id", "label", "split"]).to_pylist() == duck_rows.select(["id", "label", "split"]).to_pylist()


def test_an_iceberg_table_with_position_deletes_is_refused_on_spark(spark, tmp_path):
    table = iceberg_catalog(tmp_path / "warehouse").create_table("db.preds", schema=predictions(0, 1).schema)
    table.append(predictions(1000, 40))
    _add_delete_file(table, DataFileContent.POSITION_DELETES, tmp_path)
    with pytest.raises(InputError, match=r": the Iceberg table has delete files \(position deletes: "):
        read_table(str(tmp_path / "warehouse" / "db" / "preds"), con=spark)

"""A table of the Spark catalog and a Spark DataFrame as inputs: the results of the same rows
read from a Parquet file."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

import mlstrat
from mlstrat._exceptions import InputError
from mlstrat.cli import app
from mlstrat.diagnosis import diagnose
from mlstrat.metrics import compute_metrics
from mlstrat.tables import engine_of, read_table
from tests.spark.test_capabilities import _predictions

pytestmark = [pytest.mark.spark, pytest.mark.xdist_group("spark")]

_DATABASE = "mlstrat_catalog_test"


@pytest.fixture(scope="module")
def catalog_table(spark_session, tmp_path_factory):
    """A managed table in a database whose warehouse folder is a temporary one."""
    folder = tmp_path_factory.mktemp("catalog")
    frame = _predictions()
    frame.to_parquet(folder / "preds.parquet", index=False)
    spark_session.sql(f"CREATE DATABASE IF NOT EXISTS {_DATABASE} LOCATION '{folder / 'warehouse'}'")
    spark_session.read.parquet(str(folder / "preds.parquet")).write.saveAsTable(f"{_DATABASE}.preds")
    yield f"spark_catalog.{_DATABASE}.preds", folder / "preds.parquet"
    spark_session.sql(f"DROP DATABASE IF EXISTS {_DATABASE} CASCADE")


def _cli(*args: str) -> dict:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def _without_source(result: dict) -> dict:
    return {key: value for key, value in result.items() if key != "source"}


def test_metrics_and_diagnose_of_a_catalog_table_match_its_parquet_file(catalog_table, spark, spark_connect):
    name, parquet = catalog_table
    for command in (["metrics", "--weight", "weight"], ["diagnose", "--human", "experts=2%", "--no-record"]):
        of_file = _cli(command[0], str(parquet), *command[1:], "--json", "--engine", "spark")
        for engine in ("spark", spark_connect):  # a Connect server's sessions share its catalog
            of_table = _cli(command[0], name, *command[1:], "--json", "--engine", engine)
            assert _without_source(of_table) == _without_source(of_file)
    assert of_file["errors"]["dev"]["n"] > 100  # a real table, not an empty comparison


def test_a_missing_catalog_table_is_one_line(spark):
    with pytest.raises(InputError, match=r"^spark_catalog\.no_db\.preds: no such file, and no such table "
                                         r"in the Spark catalog; check the path or the table name "
                                         r"\(catalog\.db\.table\)$"):
        read_table("spark_catalog.no_db.preds", con=spark)


def test_a_spark_dataframe_gives_the_results_of_its_parquet_file(catalog_table, spark_session):
    _, parquet = catalog_table
    frame = spark_session.read.parquet(str(parquet))
    duckdb = mlstrat.connect("duckdb")
    expected = _without_source(compute_metrics(str(parquet), con=spark_session, store=False).to_dict())
    assert _without_source(compute_metrics(frame, store=False).to_dict()) == expected
    # another engine named: the rows come through this process to it, with the same results
    on_duckdb = _without_source(compute_metrics(frame, con=duckdb, store=False).to_dict())
    assert on_duckdb == _without_source(compute_metrics(str(parquet), con=duckdb, store=False).to_dict())
    assert (_without_source(diagnose(frame, human="experts=2%").to_dict())
            == _without_source(diagnose(str(parquet), con=spark_session, human="experts=2%").to_dict()))


def test_an_ibis_table_on_spark_gives_the_results_of_its_parquet_file(catalog_table, spark_session):
    name, parquet = catalog_table
    table = engine_of(spark_session).backend.table("preds", database=_DATABASE)  # an Ibis table of the catalog
    expected = _without_source(compute_metrics(str(parquet), con=spark_session, store=False).to_dict())
    assert _without_source(compute_metrics(table, store=False).to_dict()) == expected

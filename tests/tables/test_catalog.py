"""Inputs that are no file on DuckDB: a catalog table's name is refused in one line naming the
engine that reads it; an Ibis table from another DuckDB connection gives the file's results."""

from __future__ import annotations

import ibis
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import mlstrat
from mlstrat._exceptions import InputError
from mlstrat.cli import app
from mlstrat.diagnosis import diagnose
from mlstrat.metrics import compute_metrics
from mlstrat.tables import read_table


def _frame(n: int = 600, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    y_true = rng.integers(2, size=n)
    wrong = rng.random(n) < 0.15
    return pd.DataFrame({"id": [f"r{i}" for i in range(n)],
                         "split": rng.choice(["train", "dev", "test"], size=n),
                         "y_true": y_true, "y_pred": np.where(wrong, 1 - y_true, y_true)})


def test_a_catalog_table_name_on_duckdb_is_refused_naming_the_spark_engine(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["metrics", "spark_catalog.db.preds", "--engine", "duckdb"])
    assert result.exit_code == 2
    assert " ".join(result.output.split()) == (
        "Error: spark_catalog.db.preds: no such file; a catalog table (catalog.db.table) is read "
        "with --engine spark (con= a SparkSession); check the path otherwise")


@pytest.mark.parametrize("name", ["preds", "preds.csv", "sub/db.preds", "preds.csv.gz"])
def test_a_missing_file_stays_no_such_file(name, tmp_path):
    with pytest.raises(InputError, match=r"^.*: no such file; check the path$"):
        read_table(str(tmp_path / name) if "/" in name else name, con=mlstrat.connect("duckdb"))


def test_an_existing_file_named_like_a_table_is_taken_as_the_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _frame().to_csv(tmp_path / "db.preds", index=False)
    with pytest.raises(InputError, match=r"^db\.preds: unknown file type '\.preds'; use one of \.arrow"):
        read_table("db.preds", con=mlstrat.connect("duckdb"))


def test_an_ibis_table_of_another_connection_gives_the_results_of_its_file(tmp_path):
    path = tmp_path / "preds.parquet"
    _frame().to_parquet(path)
    table = ibis.duckdb.connect().read_parquet(str(path))  # not the engine mlstrat opened
    from_file = compute_metrics(str(path), store=False).to_dict()
    from_table = compute_metrics(table, store=False).to_dict()
    assert from_table.pop("source") == "<ibis.Table>" and from_file.pop("source") == str(path)
    assert from_table == from_file
    diagnosed = diagnose(table, human="experts=2%").to_dict()
    expected = diagnose(str(path), human="experts=2%").to_dict()
    assert diagnosed["errors"]["dev"]["n"] > 100  # a real table, not an empty comparison
    assert _without_source(diagnosed) == _without_source(expected)


def _without_source(result: dict) -> dict:
    return {key: value for key, value in result.items() if key != "source"}

"""A Delta table (written, overwritten, appended to, checkpointed) gives the same metrics and
diagnosis on Spark as on DuckDB: its live files only, on both engines."""

from __future__ import annotations

import pytest

import mlstrat
from tests.spark._compare import assert_same
from tests.tables.test_delta import delta_with_history, deltalake, predictions

# every Spark test on one xdist worker (`--dist loadgroup`): one JVM for the suite, not one per worker
pytestmark = [pytest.mark.spark, pytest.mark.xdist_group("spark")]


def test_delta_metrics_and_diagnosis_identical_on_duckdb_and_spark(spark, tmp_path):
    from mlstrat._json import to_jsonable
    from mlstrat.diagnosis import diagnose
    from mlstrat.metrics import compute_metrics

    live = delta_with_history(tmp_path / "preds")
    duck = mlstrat.connect("duckdb")
    src = str(tmp_path / "preds")
    on_duck = compute_metrics(src, con=duck, test=True, store=False).to_dict()
    on_spark = compute_metrics(src, con=spark, test=True, store=False).to_dict()
    assert_same(on_duck, on_spark)
    assert sum(s["n"] for s in on_spark["splits"].values()) == live.num_rows == 360
    assert_same(to_jsonable(diagnose(src, human=["experts=1%"], con=duck, test=True, store=False)),
                to_jsonable(diagnose(src, human=["experts=1%"], con=spark, test=True, store=False)))


def test_partitioned_delta_table_on_spark(spark, tmp_path):
    path = tmp_path / "parts"
    deltalake.write_deltalake(str(path), predictions(0, 80), partition_by=["split"])
    deltalake.write_deltalake(str(path), predictions(100, 40), partition_by=["split"], mode="overwrite")
    from mlstrat.tables import read_table

    rows = read_table(str(path), con=spark).to_pyarrow().sort_by("id")
    assert rows.column("id").to_pylist() == list(range(100, 140))
    assert rows.column("split").to_pylist() == predictions(100, 40).column("split").to_pylist()


def test_file_uris_of_a_delta_table_and_a_parquet_file_on_spark(spark, tmp_path):
    import pyarrow.parquet as pq

    from mlstrat.metrics import compute_metrics

    live = delta_with_history(tmp_path / "preds")
    pq.write_table(live, tmp_path / "live.parquet")
    of_path = compute_metrics(str(tmp_path / "live.parquet"), con=mlstrat.connect("duckdb"), test=True,
                              store=False).to_dict()["splits"]
    for uri in ((tmp_path / "preds").as_uri(), (tmp_path / "live.parquet").as_uri()):
        assert_same(compute_metrics(uri, con=spark, test=True, store=False).to_dict()["splits"], of_path)
    assert sum(split["n"] for split in of_path.values()) == 360

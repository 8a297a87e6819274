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


def test_a_cluster_with_its_own_delta_source_reads_through_it(spark, tmp_path):
    """Where the session has a ``delta`` data source (a cluster with Delta on its classpath),
    the table is read through it, not as files; here a Python data source stands in for it, in
    a session of its own so that the shared session keeps reading live files."""
    from pyspark.sql.datasource import DataSource, DataSourceReader

    from mlstrat.tables import read_table

    class Reader(DataSourceReader):
        def read(self, partition):
            yield (7, "dev", "a", "b")

    class ClusterDelta(DataSource):
        @classmethod
        def name(cls):
            return "delta"

        def schema(self):
            return "id long, split string, y_true string, y_pred string"

        def reader(self, schema):
            return Reader()

    delta_with_history(tmp_path / "preds")
    own = spark._session.newSession()  # the Ibis backend's SparkSession
    own.dataSource.register(ClusterDelta)
    through_source = read_table(str(tmp_path / "preds"), con=own).to_pyarrow()
    assert through_source.to_pylist() == [{"id": 7, "split": "dev", "y_true": "a", "y_pred": "b"}]
    assert read_table(str(tmp_path / "preds"), con=spark).count().to_pyarrow().as_py() == 360  # no source: live files

"""Timestamps keep their type through a Spark write: ``timestamp[us, UTC]`` stays that (Spark's
default INT96 read back as ``timestamp[ns]`` without a zone), a zone-less one stays zone-less,
the same values and types as DuckDB writes."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import mlstrat
from mlstrat.tables import read_table, write_table

pytestmark = [pytest.mark.spark, pytest.mark.xdist_group("spark")]


def test_parquet_timestamps_written_by_spark_read_back_as_duckdb_writes_them(spark, tmp_path):
    utc = dt.timezone.utc
    seen = [dt.datetime(2026, 3, 29, 0, 30, 0, 123456, tzinfo=utc), dt.datetime(1999, 12, 31, 23, 59, 59, tzinfo=utc),
            None, dt.datetime(2026, 10, 25, 1, 30, tzinfo=utc)]
    source = pa.table({
        "id": [1, 2, 3, 4],
        "seen_at": pa.array(seen, pa.timestamp("us", tz="UTC")),
        "taken_at": pa.array([s.replace(tzinfo=None) if s else None for s in seen], pa.timestamp("us")),
    })
    pq.write_table(source, tmp_path / "in.parquet")
    outputs = {}
    for name, con in (("duckdb", mlstrat.connect("duckdb")), ("spark", spark)):
        table = read_table(str(tmp_path / "in.parquet"), con=con)
        write_table(table, tmp_path / f"{name}.parquet", con=con)
        outputs[name] = pq.read_table(tmp_path / f"{name}.parquet").sort_by("id")
    for name, out in outputs.items():
        assert out.schema.field("seen_at").type == pa.timestamp("us", tz="UTC"), name
        assert out.schema.field("taken_at").type == pa.timestamp("us"), name
        assert out.column("seen_at").to_pylist() == seen, name
    assert outputs["spark"].select(["seen_at", "taken_at"]).equals(outputs["duckdb"].select(["seen_at", "taken_at"]))
    # the session's own setting is back after the write
    assert spark._session.conf.get("spark.sql.parquet.outputTimestampType") == "INT96"

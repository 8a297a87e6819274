"""Delta tables are read at their latest version: the live files only, never the superseded ones
nor the log's checkpoints (a Delta folder read as plain Parquet counted both)."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import deltalake
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from mlstrat._exceptions import InputError
from mlstrat.cli import app
from mlstrat.tables import read_table



def predictions(start: int, n: int) -> pa.Table:
    """``n`` prediction rows with ids from ``start``: every split, errors on ids divisible by 3 or 7."""
    ids = list(range(start, start + n))
    splits = ["train", "train_dev", "dev", "test"]
    return pa.table({
        "id": ids,
        "split": [splits[i % 4] for i in ids],
        "y_true": [("cat", "dog")[i // 4 % 2] for i in ids],
        "y_pred": [("cat", "dog")[(i // 4 + (i % 3 == 0 or i % 7 == 0)) % 2] for i in ids],
    })


def delta_with_history(path: Path) -> pa.Table:
    """A Delta table written, overwritten, appended to and checkpointed; returns its live rows."""
    deltalake.write_deltalake(str(path), predictions(0, 400))
    deltalake.write_deltalake(str(path), predictions(1000, 240), mode="overwrite")  # the first file is superseded
    deltalake.write_deltalake(str(path), predictions(5000, 120), mode="append")
    deltalake.DeltaTable(str(path)).create_checkpoint()
    assert list((path / "_delta_log").glob("*.checkpoint.parquet"))  # Parquet in the log, read as data before
    assert len(list(path.glob("*.parquet"))) == 3
    return pa.concat_tables([predictions(1000, 240), predictions(5000, 120)])


def cli_json(*args: str) -> dict:
    result = CliRunner().invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_metrics_of_a_delta_table_count_the_live_rows_only(tmp_path):
    live = delta_with_history(tmp_path / "preds")
    report = cli_json("metrics", str(tmp_path / "preds"))
    frame = live.to_pandas()
    frame = frame[frame.split != "test"]  # sealed: metrics leaves it out
    for split, rows in frame.groupby("split"):  # brute force over the live rows
        got = report["splits"][split]
        assert (got["n"], got["errors"]) == (len(rows), int((rows.y_true != rows.y_pred).sum()))
    assert sum(s["n"] for s in report["splits"].values()) == 270


def test_diagnose_of_a_delta_table_is_that_of_its_live_rows(tmp_path):
    live = delta_with_history(tmp_path / "preds")
    pq.write_table(live, tmp_path / "live.parquet")
    from_delta = cli_json("diagnose", str(tmp_path / "preds"), "--human", "1%")
    from_file = cli_json("diagnose", str(tmp_path / "live.parquet"), "--human", "1%")
    assert from_delta["errors"] == from_file["errors"]
    assert from_delta["components"] == from_file["components"]


def test_a_partitioned_delta_table_keeps_its_partition_column(tmp_path):
    path = tmp_path / "parts"
    deltalake.write_deltalake(str(path), predictions(0, 80), partition_by=["split"])
    deltalake.write_deltalake(str(path), predictions(100, 40), partition_by=["split"], mode="overwrite")
    table = read_table(str(path)).execute().sort_values("id").reset_index(drop=True)
    expected = predictions(100, 40).to_pandas()
    pd.testing.assert_frame_equal(table[expected.columns.tolist()], expected, check_dtype=False)


def _deletion_vector(table_path: Path, row: int) -> None:
    """Mark ``row`` of the table's one file deleted by a deletion vector (Delta's on-disk format:
    a version byte, then the vector's size, a RoaringBitmapArray of the deleted rows, its CRC)."""
    log = [json.loads(line) for line in (table_path / "_delta_log" / f"{0:020d}.json").read_text().splitlines()]
    add = next(action["add"] for action in log if "add" in action)
    bitmap = struct.pack("<IIHHIH", 12346, 1, 0, 0, 16, row)  # one array container holding ``row``
    data = struct.pack("<IQI", 1681511377, 1, 0) + bitmap
    vector = table_path / "deletion_vector_0.bin"
    vector.write_bytes(bytes([1]) + struct.pack(">I", len(data)) + data + struct.pack(">I", zlib.crc32(data)))
    descriptor = {"storageType": "p", "pathOrInlineDv": vector.as_uri(), "offset": 1,
                  "sizeInBytes": len(data), "cardinality": 1}
    actions = [{"remove": {"path": add["path"], "deletionTimestamp": int(time.time() * 1000), "dataChange": True}},
               {"add": {**add, "deletionVector": descriptor, "dataChange": True}}]
    (table_path / "_delta_log" / f"{1:020d}.json").write_text("\n".join(map(json.dumps, actions)) + "\n")


def test_a_delta_table_with_deletion_vectors_is_refused_in_one_line(tmp_path):
    path = tmp_path / "deleted"
    deltalake.write_deltalake(str(path), predictions(0, 12), configuration={"delta.enableDeletionVectors": "true"})
    _deletion_vector(path, row=1)
    vectors = pa.table(deltalake.DeltaTable(str(path)).deletion_vectors()).to_pylist()
    assert vectors[0]["selection_vector"][:3] == [True, False, True]  # delta-rs reads the vector we wrote
    message = (f"{path}: the Delta table has deletion vectors (rows deleted without rewriting their files), "
               "which its Parquet files alone cannot express; run OPTIMIZE / REORG TABLE ... APPLY (PURGE) "
               "on it, or read it with Spark's Delta source")
    with pytest.raises(InputError) as caught:
        read_table(str(path))
    assert str(caught.value) == message
    result = CliRunner().invoke(app, ["metrics", str(path)])
    assert result.exit_code == 2
    assert " ".join(result.output.split()) == f"Error: {message}"


def test_deletion_vectors_enabled_but_unused_read_as_usual(tmp_path):
    path = tmp_path / "enabled"
    deltalake.write_deltalake(str(path), predictions(0, 12), configuration={"delta.enableDeletionVectors": "true"})
    assert read_table(str(path)).count().execute() == 12
    deltalake.write_deltalake(str(path), predictions(100, 5), mode="overwrite")
    assert read_table(path.as_uri()).count().execute() == 5  # a file:// URI is the same folder


def test_import_mlstrat_does_not_import_deltalake():
    code = "import sys, mlstrat; print(sorted(m for m in ('deltalake', 'pyspark') if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"

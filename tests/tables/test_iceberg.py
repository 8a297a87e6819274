"""Iceberg tables are read at their current snapshot: the live data files only, never the files
an overwrite superseded (still in data/) nor the Avro manifests in metadata/."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.manifest import DataFile, DataFileContent, FileFormat
from typer.testing import CliRunner

from mlstrat._exceptions import InputError
from mlstrat.cli import app
from mlstrat.tables import read_table
from tests.tables.test_delta import predictions


def iceberg_catalog(folder: Path) -> SqlCatalog:
    """A pyiceberg catalog in SQLite with its warehouse in ``folder`` (nothing leaves the machine)."""
    folder.mkdir(parents=True, exist_ok=True)
    catalog = SqlCatalog("local", uri=f"sqlite:///{folder / 'catalog.db'}", warehouse=folder.as_uri())
    catalog.create_namespace("db")
    return catalog


def iceberg_with_history(folder: Path) -> tuple[Path, pa.Table]:
    """An Iceberg table appended to twice, then overwritten and appended to again (the first two
    files are superseded but stay in data/); returns its folder and its live rows."""
    table = iceberg_catalog(folder).create_table("db.preds", schema=predictions(0, 1).schema)
    table.append(predictions(0, 400))
    table.append(predictions(400, 200))
    table.overwrite(predictions(1000, 240))
    table.append(predictions(5000, 120))
    path = folder / "db" / "preds"
    assert len(list((path / "data").glob("*.parquet"))) == 4  # read as plain Parquet: 960 rows
    return path, pa.concat_tables([predictions(1000, 240), predictions(5000, 120)])


def cli_json(*args: str) -> dict:
    result = CliRunner().invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def without_source(report: dict) -> dict:
    return {key: value for key, value in report.items() if key != "source"}


def test_metrics_of_an_iceberg_table_are_those_of_its_live_rows(tmp_path):
    path, live = iceberg_with_history(tmp_path / "warehouse")
    pq.write_table(live, tmp_path / "live.parquet")
    report = cli_json("metrics", str(path))
    assert without_source(report) == without_source(cli_json("metrics", str(tmp_path / "live.parquet")))
    frame = live.to_pandas()
    frame = frame[frame.split != "test"]  # sealed: metrics leaves it out
    for split, rows in frame.groupby("split"):  # brute force over the live rows
        got = report["splits"][split]
        assert (got["n"], got["errors"]) == (len(rows), int((rows.y_true != rows.y_pred).sum()))
    assert sum(s["n"] for s in report["splits"].values()) == 270


def test_diagnose_of_an_iceberg_table_is_that_of_its_live_rows(tmp_path):
    path, live = iceberg_with_history(tmp_path / "warehouse")
    pq.write_table(live, tmp_path / "live.parquet")
    from_iceberg = cli_json("diagnose", str(path), "--human", "1%", "--no-record")
    from_file = cli_json("diagnose", str(tmp_path / "live.parquet"), "--human", "1%", "--no-record")
    assert from_iceberg["errors"] == from_file["errors"]
    assert from_iceberg["components"] == from_file["components"]
    assert from_iceberg["errors"]["dev"]["n"] == 90


def test_split_reads_an_iceberg_table_as_its_live_rows(tmp_path):
    path, live = iceberg_with_history(tmp_path / "warehouse")
    manifest = live.drop_columns(["split", "y_pred"]).rename_columns(["id", "label"])
    table = iceberg_catalog(tmp_path / "manifests").create_table("db.manifest", schema=manifest.schema)
    table.append(manifest.slice(0, 100))
    table.overwrite(manifest)
    pq.write_table(manifest, tmp_path / "manifest.parquet")
    folder = tmp_path / "manifests" / "db" / "manifest"
    of_table = cli_json("split", str(folder), "--label", "label", "-o", str(tmp_path / "a.parquet"))
    of_file = cli_json("split", str(tmp_path / "manifest.parquet"), "--label", "label",
                       "-o", str(tmp_path / "b.parquet"))
    assert sum(of_table["sizes"].values()) == 360
    a = pq.read_table(tmp_path / "a.parquet").sort_by("id")
    b = pq.read_table(tmp_path / "b.parquet").sort_by("id")
    assert a.equals(b)


def test_a_file_uri_and_a_relative_path_name_the_same_iceberg_table(tmp_path, monkeypatch):
    path, live = iceberg_with_history(tmp_path / "warehouse")
    assert read_table(path.as_uri()).count().execute() == live.num_rows == 360
    monkeypatch.chdir(tmp_path)
    assert read_table("warehouse/db/preds").count().execute() == 360


def test_a_partitioned_iceberg_table_reads_its_partition_column_from_the_files(tmp_path):
    table = iceberg_catalog(tmp_path / "warehouse").create_table("db.parts", schema=predictions(0, 1).schema)
    with table.update_spec() as spec:
        spec.add_identity("split")
    table.append(predictions(0, 80))
    table.overwrite(predictions(100, 40))
    assert (tmp_path / "warehouse" / "db" / "parts" / "data" / "split=dev").is_dir()
    rows = read_table(str(tmp_path / "warehouse" / "db" / "parts")).to_pyarrow().sort_by("id")
    assert rows.column_names == ["id", "split", "y_true", "y_pred"]  # no second split from the folders
    assert rows.to_pylist() == predictions(100, 40).to_pylist()


def test_the_newest_metadata_file_and_the_version_hint_decide_the_snapshot(tmp_path):
    path, live = iceberg_with_history(tmp_path / "warehouse")
    metadata = sorted((path / "metadata").glob("*.metadata.json"))
    assert [m.name[:5] for m in metadata] == ["00000", "00001", "00002", "00003", "00004"]
    assert read_table(str(path)).count().execute() == 360
    (path / "metadata" / "v2.metadata.json").write_bytes(metadata[2].read_bytes())  # after the 2 appends
    (path / "metadata" / "version-hint.text").write_text("2\n")
    assert read_table(str(path)).count().execute() == 600


def test_a_table_from_a_pyiceberg_catalog_by_name(tmp_path, monkeypatch):
    _path, live = iceberg_with_history(tmp_path / "warehouse")
    pq.write_table(live, tmp_path / "live.parquet")
    monkeypatch.setenv("PYICEBERG_CATALOG__LOCAL__TYPE", "sql")
    monkeypatch.setenv("PYICEBERG_CATALOG__LOCAL__URI", f"sqlite:///{tmp_path / 'warehouse' / 'catalog.db'}")
    monkeypatch.setenv("PYICEBERG_CATALOG__LOCAL__WAREHOUSE", (tmp_path / "warehouse").as_uri())
    monkeypatch.setenv("MLSTRAT_ICEBERG_CATALOG", "local")
    expected = without_source(cli_json("metrics", str(tmp_path / "live.parquet")))
    assert without_source(cli_json("metrics", "db.preds")) == expected
    assert without_source(cli_json("metrics", "local.db.preds")) == expected
    result = CliRunner().invoke(app, ["metrics", "db.nothere"])
    assert result.exit_code == 2
    assert " ".join(result.output.split()) == (
        "Error: db.nothere: no such file, and no such table in the Iceberg catalog local "
        "(MLSTRAT_ICEBERG_CATALOG); check the path or the table name (db.table)")


def test_a_pyiceberg_table_object_is_read_in_python(tmp_path):
    from mlstrat.metrics import compute_metrics

    _path, live = iceberg_with_history(tmp_path / "warehouse")
    table = SqlCatalog("local", uri=f"sqlite:///{tmp_path / 'warehouse' / 'catalog.db'}",
                       warehouse=(tmp_path / "warehouse").as_uri()).load_table("db.preds")
    got = compute_metrics(table, test=True, store=False).to_dict()
    want = compute_metrics(live, test=True, store=False).to_dict()
    assert got["splits"] == want["splits"]


def _add_delete_file(table, content: DataFileContent, folder: Path) -> None:
    """Commit a delete file (what a merge-on-read writer adds) deleting the first live row."""
    data_file = next(iter(table.scan().plan_files())).file.file_path
    deletes = folder / "deletes.parquet"
    if content == DataFileContent.POSITION_DELETES:
        pq.write_table(pa.table({"file_path": [data_file], "pos": pa.array([0], pa.int64())}), deletes)
    else:
        pq.write_table(pa.table({"id": pa.array([1000], pa.int64())}), deletes)
    entry = DataFile.from_args(content=content, file_path=deletes.as_uri(), file_format=FileFormat.PARQUET,
                               partition={}, record_count=1, file_size_in_bytes=deletes.stat().st_size,
                               equality_ids=[1] if content == DataFileContent.EQUALITY_DELETES else None)
    entry.spec_id = 0
    with table.transaction() as transaction, transaction.update_snapshot().fast_append() as append:
        append.append_data_file(entry)


@pytest.mark.parametrize(("content", "kind"), [(DataFileContent.POSITION_DELETES, "position deletes"),
                                                (DataFileContent.EQUALITY_DELETES, "equality deletes")])
def test_an_iceberg_table_with_delete_files_is_refused_in_one_line(tmp_path, content, kind):
    catalog = iceberg_catalog(tmp_path / "warehouse")
    table = catalog.create_table("db.preds", schema=predictions(0, 1).schema)
    table.append(predictions(1000, 40))
    _add_delete_file(table, content, tmp_path)
    path = tmp_path / "warehouse" / "db" / "preds"
    message = (f"{path}: the Iceberg table has delete files ({kind}: rows deleted without rewriting their "
               "data files), which its Parquet files alone cannot express; compact it (Spark's "
               "rewrite_data_files with delete-file-threshold=1) or read it with Spark's Iceberg source")
    with pytest.raises(InputError) as caught:
        read_table(str(path))
    assert str(caught.value) == message
    result = CliRunner().invoke(app, ["metrics", str(path)])
    assert result.exit_code == 2
    assert " ".join(result.output.split()) == f"Error: {message}"


def test_a_renamed_column_is_refused_in_one_line(tmp_path):
    table = iceberg_catalog(tmp_path / "warehouse").create_table("db.preds", schema=predictions(0, 1).schema)
    table.append(predictions(0, 40))
    with table.update_schema() as update:
        update.rename_column("y_pred", "prediction")
    path = tmp_path / "warehouse" / "db" / "preds"
    with pytest.raises(InputError, match=r"the Iceberg table's column 'prediction' was called 'y_pred', "
                                         r"and its older Parquet files keep the old column"):
        read_table(str(path))


def test_an_iceberg_folder_is_never_read_as_plain_parquet(tmp_path):
    path, _live = iceberg_with_history(tmp_path / "warehouse")
    for metadata in (path / "metadata").glob("*.metadata.json"):
        metadata.rename(metadata.with_name("old-" + metadata.name))  # no version in any name
    with pytest.raises(InputError, match=r"no metadata file in .* names its version"):
        read_table(str(path))


def test_import_mlstrat_does_not_import_pyiceberg():
    code = "import sys, mlstrat; print([m for m in ('pyiceberg',) if m in sys.modules])"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"

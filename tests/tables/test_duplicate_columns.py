"""The readers refuse a file whose header names a column twice, as the engine compares names:
DuckDB would rename the copy (``y_pred_1``), and a command would silently read the first."""

import gzip
import json
import re

import pyarrow as pa
import pyarrow.feather as feather
import pyarrow.parquet as pq
import pytest

from mlstrat._exceptions import InputError
from mlstrat.tables import read_table
from mlstrat.tables._engine import WIDE_CSV
from mlstrat.tables._headers import duplicate_column_error


def _refused(path, line):
    with pytest.raises(InputError, match=f"^{re.escape(line)}$"):
        read_table(str(path))


def _twice(path, name="y_pred", times=2):
    return f"{path}: column {name!r} appears {times} times in the header; rename or drop the copies"


def test_tsv_gz_and_three_copies(tmp_path):
    tsv = tmp_path / "p.tsv"
    tsv.write_text("id\ty\ty\ty\n1\ta\tb\tc\n")
    _refused(tsv, _twice(tsv, "y", 3))
    gz = tmp_path / "p.csv.gz"
    with gzip.open(gz, "wt") as fh:
        fh.write("id,y_pred,y_pred\n1,a,b\n")
    _refused(gz, _twice(gz))


def test_quoted_names_a_byte_order_mark_and_spaces_as_duckdb_reads_them(tmp_path):
    quoted = tmp_path / "q.csv"
    quoted.write_text('"y, pred",x,"y, pred"\n1,2,3\n')
    _refused(quoted, _twice(quoted, "y, pred"))
    bom = tmp_path / "bom.csv"
    bom.write_bytes(b"\xef\xbb\xbfid,id\n1,2\n")
    _refused(bom, _twice(bom, "id"))
    spaced = tmp_path / "spaced.csv"
    spaced.write_text("id,y_pred, y_pred\n1,a,b\n")  # DuckDB trims the names of a CSV header
    _refused(spaced, f"{spaced}: column 'y_pred' appears 2 times in the header (as 'y_pred' and ' y_pred', "
                     "which DuckDB takes for one name); rename or drop the copies")


def test_json_lines_and_json_arrays(tmp_path):
    lines = tmp_path / "p.jsonl"
    lines.write_text('{"id": 1, "y_pred": "a", "Y_PRED": "b"}\n{"id": 2, "y_pred": "b", "Y_PRED": "a"}\n')
    _refused(lines, f"{lines}: column 'y_pred' appears 2 times in the header (as 'y_pred' and 'Y_PRED', "
                    "which DuckDB takes for one name); rename or drop the copies")
    array = tmp_path / "p.json"
    array.write_text('[\n  {"id": 1, "meta": {"k": 1, "k2": 2},\n   "y_pred": "a", "y_pred": "b"}\n]\n')
    _refused(array, _twice(array))


def test_arrow_and_a_folder_of_part_files(tmp_path):
    table = pa.Table.from_arrays([pa.array([1]), pa.array(["a"]), pa.array(["b"])], names=["id", "y_pred", "y_pred"])
    arrow = tmp_path / "p.arrow"
    feather.write_feather(table, arrow)
    _refused(arrow, _twice(arrow))
    folder = tmp_path / "parts"
    folder.mkdir()
    (folder / "_SUCCESS").write_text("")
    (folder / "part-00000.csv").write_text("id,y_pred,y_pred\n1,a,b\n")
    (folder / "part-00001.csv").write_text("id,y_pred,y_pred\n2,b,a\n")
    _refused(folder, _twice(folder / "part-00000.csv"))


def test_a_wide_csv_is_refused_before_the_sniffer(tmp_path):
    path = tmp_path / "wide.csv"
    names = [f"f{i}" for i in range(WIDE_CSV + 10)] + ["f3"]
    path.write_text(",".join(names) + "\n" + ",".join("1" for _ in names) + "\n")
    _refused(path, _twice(path, "f3"))


def test_legitimate_names_read_as_written(tmp_path):
    csv = tmp_path / "p.csv"
    csv.write_text("id,y_pred,y_pred_1,\u00c9,\u00e9,y_pred2\n1,a,b,c,d,e\n")  # DuckDB tells É from é
    assert read_table(str(csv)).columns == ("id", "y_pred", "y_pred_1", "\u00c9", "\u00e9", "y_pred2")
    parquet = tmp_path / "p.parquet"
    pq.write_table(pa.table({"y_pred": ["a"], "y_pred_1": ["b"], "proba_a_1": [0.5]}), parquet)
    assert read_table(str(parquet)).columns == ("y_pred", "y_pred_1", "proba_a_1")
    unnamed = tmp_path / "unnamed.csv"
    unnamed.write_text("id,,\n1,2,3\n")  # empty names are named by position
    assert read_table(str(unnamed)).columns == ("id", "column1", "column2")
    nested = tmp_path / "n.jsonl"
    nested.write_text(json.dumps({"id": 1, "a": {"id": 2}, "b": [{"id": 3}]}) + "\n")
    assert read_table(str(nested)).columns == ("id", "a", "b")


def test_an_engine_refusal_of_a_uri_becomes_one_line():
    spark = Exception("[COLUMN_ALREADY_EXISTS] The column `y_pred` already exists. Choose another name or "
                      "rename the existing column. SQLSTATE: 42711")
    assert str(duplicate_column_error("s3a://b/p.parquet", spark)) == (
        "s3a://b/p.parquet: column 'y_pred' appears more than once in the header; rename or drop the copies")
    duck = Exception('Invalid Input Error: JSON transform error in file "x", in line 1: Object {} has duplicate '
                     'key "y_pred"')
    assert "column 'y_pred' appears more than once" in str(duplicate_column_error("s3://b/p.jsonl", duck))
    assert duplicate_column_error("s3://b/p.csv", Exception("something else")) is None

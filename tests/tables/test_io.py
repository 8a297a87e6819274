import json
import os

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.feather as feather
import pytest

from mlstrat._exceptions import InputError
from mlstrat.tables import (
    atomic_write_text,
    check_output_path,
    fingerprint,
    read_predictions,
    read_table,
    require_columns,
    write_table,
)

FRAME = pd.DataFrame({"id": ["a", "b", "c"], "x": [1.0, 2.0, 3.0]})


@pytest.fixture(params=["csv", "parquet", "jsonl", "arrow", "tsv"])
def table_file(request, tmp_path):
    path = tmp_path / f"t.{request.param}"
    if request.param == "csv":
        FRAME.to_csv(path, index=False)
    elif request.param == "tsv":
        FRAME.to_csv(path, index=False, sep="\t")
    elif request.param == "parquet":
        FRAME.to_parquet(path)
    elif request.param == "jsonl":
        FRAME.to_json(path, orient="records", lines=True)
    else:
        feather.write_feather(pa.Table.from_pandas(FRAME), path)
    return path


def test_read_every_format(table_file):
    t = read_table(table_file)
    got = t.order_by("id").to_pandas()
    assert list(got["id"]) == ["a", "b", "c"]
    assert list(got["x"]) == [1.0, 2.0, 3.0]


@pytest.mark.parametrize(
    "obj",
    [FRAME, pa.Table.from_pandas(FRAME), {"id": np.array(["a", "b", "c"]), "x": np.array([1.0, 2.0, 3.0])}],
)
def test_read_in_memory(obj):
    assert read_table(obj).count().execute() == 3


def test_read_polars():
    pl = pytest.importorskip("polars")
    assert read_table(pl.from_pandas(FRAME)).count().execute() == 3


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match=r"nope\.csv: no such file; check the path"):
        read_table(tmp_path / "nope.csv")


def test_unknown_extension(tmp_path):
    p = tmp_path / "t.xlsx"
    p.write_text("x")
    with pytest.raises(InputError, match=r"t\.xlsx: unknown file type '\.xlsx'; use one of"):
        read_table(p)


def test_empty_file(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("")
    with pytest.raises(InputError, match=r"t\.csv: the file is empty"):
        read_table(p)


@pytest.mark.parametrize("name, encoding, hint", [
    ("t.csv", "utf-16", " (in Excel: CSV UTF-8)"), ("t.tsv", "utf-16-le", " (in Excel: CSV UTF-8)"),
    ("t.csv", "utf-16-be", " (in Excel: CSV UTF-8)"), ("t.jsonl", "utf-16", "")])
def test_utf16_text_is_named(tmp_path, name, encoding, hint):
    # Excel's "Unicode Text" and Windows tools write UTF-16: the engine failed on "line 1", or
    # (without a byte-order mark) read a NUL byte into every column name
    sep = "\t" if name.endswith(".tsv") else ","
    text = '{"id": 1}\n' if name.endswith(".jsonl") else f"id{sep}split\n1{sep}dev\n"
    p = tmp_path / name
    p.write_bytes(text.encode(encoding))
    with pytest.raises(InputError) as caught:
        read_table(p)
    assert str(caught.value) == f"{p}: is UTF-16 text, not UTF-8; save the table as UTF-8{hint}"


def test_utf8_with_a_byte_order_mark_reads(tmp_path):
    p = tmp_path / "t.csv"
    p.write_bytes("\ufeffid,split\n1,dev\n".encode())
    assert read_table(p).columns == ("id", "split")


@pytest.mark.parametrize("name, data, damaged", [("t.csv", b"SQLite format 3\x00", "SQLite format 3\x00"),
                                                 ("t.tsv", b"\n\x00", "\x00"),
                                                 ("t.csv", b"id,a\x00b\n1,2\n", "a\x00b")])
def test_a_column_name_with_a_nul_byte_is_one_line(tmp_path, name, data, damaged):
    # Arrow cuts such a name at the NUL, so fetching the column raised a KeyError traceback
    # (select, errors sample; found by fuzz seeds 10943257 and 513486640)
    p = tmp_path / name
    p.write_bytes(data)
    with pytest.raises(InputError) as caught:
        read_table(p)
    assert str(caught.value) == (f"{p}: column name {damaged!r} holds a NUL byte; the file is binary or damaged, "
                                 "not a text table: check the file, or rename the column")


def test_corrupt_parquet(tmp_path):
    p = tmp_path / "t.parquet"
    p.write_bytes(b"PAR1 this is not parquet at all")
    with pytest.raises(InputError, match=r"t\.parquet: cannot be read as PARQUET"):
        read_table(p)


def test_require_columns_suggests():
    t = read_table(FRAME)
    with pytest.raises(InputError, match=r"missing column 'idd' \(did you mean 'id'\?\); available columns: id, x"):
        require_columns(t, ["idd"], source="m.csv")


@pytest.mark.parametrize("suffix", [".parquet", ".csv", ".jsonl"])
def test_write_roundtrip_atomic(tmp_path, suffix):
    out = tmp_path / f"out{suffix}"
    write_table(read_table(FRAME), out)
    assert read_table(out).count().execute() == 3
    assert [p.name for p in tmp_path.iterdir()] == [out.name]  # no temp file left behind


def test_write_refuses_existing_and_input(tmp_path):
    src = tmp_path / "in.parquet"
    FRAME.to_parquet(src)
    with pytest.raises(InputError, match="the output path is the input file"):
        write_table(read_table(src), src, inputs=[src], force=True)
    out = tmp_path / "out.parquet"
    out.write_text("keep")
    with pytest.raises(InputError, match="already exists; pass --force"):
        check_output_path(out)
    assert out.read_text() == "keep"


def test_atomic_text_and_fingerprint(tmp_path):
    p = tmp_path / "a.json"
    atomic_write_text(p, json.dumps({"a": 1}))
    assert json.loads(p.read_text()) == {"a": 1}
    f1 = fingerprint(p)
    atomic_write_text(p, json.dumps({"a": 2}))
    assert f1.startswith("sha256:") and fingerprint(p) != f1
    assert os.listdir(tmp_path) == ["a.json"]


def _preds(**cols):
    base = {"id": [1, 2, 3, 4], "split": ["train", "dev", "dev", "test"], "y_true": [0, 1, 1, 0],
            "y_pred": [0, 1, 0, 0]}
    base.update(cols)
    return pd.DataFrame(base)


def test_read_predictions_sizes():
    p = read_predictions(_preds(proba_0=[0.1] * 4, proba_1=[0.9] * 4))
    assert p.sizes == {"train": 1, "dev": 2, "test": 1}
    assert p.proba_columns == {"0": "proba_0", "1": "proba_1"}


def test_read_predictions_unknown_split():
    with pytest.raises(InputError, match=r"column 'split' has unknown value\(s\) 'holdout'; allowed: train, train_dev, dev, test"):
        read_predictions(_preds(split=["train", "holdout", "dev", "test"]))


def test_read_predictions_nan_labels():
    with pytest.raises(InputError, match=r"column 'y_true' has 1 empty/NaN value\(s\)"):
        read_predictions(_preds(y_true=[0.0, np.nan, 1.0, 0.0]))


def test_read_predictions_missing_column():
    # y_true is required too, so it is not offered as the "did you mean"
    with pytest.raises(InputError, match=r"missing column 'y_pred'; available columns: id, split, y_true$"):
        read_predictions(_preds().drop(columns="y_pred"))


def test_read_predictions_mixed_label_types_compare_as_text():
    p = read_predictions(_preds(y_pred=["0", "1", "0", "0"]))
    assert p.table.y_true.type().is_string()


def test_require_columns_accepts_arrow_tables():
    t = pa.Table.from_pandas(FRAME)
    require_columns(t, ["id", "x"], source="m.parquet")
    with pytest.raises(InputError, match=r"m\.parquet: missing column 'y'; available columns: id, x"):
        require_columns(t, ["y"], source="m.parquet")


def test_csv_text_columns_keep_their_spelling(tmp_path):
    # Past DuckDB's sniffing sample (20 480 rows) a column sniffed as integer turns "0007" into 7.
    p = tmp_path / "m.csv"
    p.write_text("id,x\n" + "".join(f"{i},1\n" for i in range(1, 30_001)) + "0007,1\n")
    assert read_table(p).to_pyarrow()["id"].to_pylist()[-1] == 7
    ids = read_table(p, text_columns=("id", "absent")).to_pyarrow()["id"].to_pylist()
    assert ids[-1] == "0007" and ids[6] == "7"


def test_csv_yes_no_labels_stay_text_true_false_stays_boolean(tmp_path):
    """DuckDB sniffs yes/no (and y/n, t/f) as BOOLEAN; Spark reads them as text, and so do we:
    a "yes" label keeps matching its proba_yes column."""
    p = tmp_path / "p.csv"
    p.write_text("id,y_true,flag,short\n1,yes,true,y\n2,no,FALSE,n\n3,,true,\n")
    t = read_table(p).to_pyarrow()
    assert t["y_true"].to_pylist() == ["yes", "no", None]
    assert t["short"].to_pylist() == ["y", "n", None]
    assert t["flag"].type == pa.bool_() and t["flag"].to_pylist() == [True, False, True]


def test_the_embedded_engine_draws_no_progress_bar_and_downloads_no_extension():
    """DuckDB's own progress bar goes to stdout (it would corrupt --json output) and a missing
    extension must never be fetched from the network."""
    from mlstrat.tables import connect

    con = connect("duckdb")
    settings = con.raw_sql("SELECT current_setting('enable_progress_bar'), "
                           "current_setting('autoinstall_known_extensions')").fetchall()
    assert settings == [(False, False)]

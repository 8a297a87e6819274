"""Inputs that used to end in a traceback: each is now one clear line and exit 2."""

import json
import sqlite3

import pytest
from typer.testing import CliRunner

from mlstrat.cli import app

runner = CliRunner()


def _line(res) -> str:
    assert res.exit_code == 2, res.output
    assert res.exception is None or isinstance(res.exception, SystemExit), res.exception
    errors = [line for line in res.output.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1, res.output
    return errors[0]


@pytest.fixture
def preds(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("id,split,y_true,y_pred,weight\n" + "".join(
        f"{i},{('train', 'dev')[i % 2]},a,{'ab'[i % 3 == 0]},{'heavy' if i == 5 else 1}\n" for i in range(60)))
    return path


@pytest.mark.parametrize("command", [["metrics"], ["diagnose", "--no-record"]])
def test_text_in_the_weight_column(preds, command):
    res = runner.invoke(app, [command[0], str(preds), *command[1:]])
    assert _line(res) == f"Error: {preds}: column 'weight' holds text such as 'heavy'; weights must be numbers >= 0"


def test_diagnose_without_input_says_what_to_give():
    assert _line(runner.invoke(app, ["diagnose"])) == (
        "Error: nothing to diagnose: give a predictions table (mlstrat diagnose predictions.parquet) or the "
        "errors (mlstrat diagnose --errors train=1%,dev=10%)")


@pytest.mark.parametrize("content, message", [
    ("name,acc\na,inf\nb,0.9\n", None),
    ("name,acc\na,0.5\nb,0.9\nb,0.8\n", "candidate name 'b' appears twice (rows 2 and 3); give each candidate "
                                        "its own name in column 'name'"),
])
def test_select_never_crowns_inf_and_refuses_duplicate_names(tmp_path, content, message):
    path = tmp_path / "c.csv"
    path.write_text(content)
    res = runner.invoke(app, ["select", str(path), "--maximize", "acc", "--json"])
    if message is None:
        assert res.exit_code == 0, res.output
        out = json.loads(res.output)
        assert out["winner"] == "b"
        assert out["candidates"][-1]["excluded_by"] == ["acc is inf"]
    else:
        assert _line(res) == f"Error: {path}: {message}"


@pytest.mark.parametrize("text, message", [
    (None, "is not a file; give the TOML config file"),
    (b"[optim]\nlr = 0.1 # \xe9\xff\n", "is not UTF-8 text; save the config as UTF-8"),
    (b"[optim]\nlr = 1e300\n", "[optim] lr = 1e+300 is too large; the limit is 10"),
    (b"[model]\nhidden = [2000000000]\n", "[model] hidden = [2000000000]: a layer of more than 65,536 units is too large"),
    (b"[optim]\nthreads = 100000\n", "[optim] threads = 100000 is too large; the limit is 1024"),
    (b"[optim]\nepochs = 1000000000000\n", "[optim] epochs = 1000000000000 is too large; the limit is 1e+06"),
])
def test_toml_configs(tmp_path, text, message):
    path = tmp_path / "config.toml"
    if text is None:
        path.mkdir()
    else:
        path.write_bytes(text)
    assert _line(runner.invoke(app, ["train", str(path)])) == f"Error: {path}: {message}"


def _sheet(tmp_path, split_error):
    sheet = tmp_path / "sheet.csv"
    sheet.write_text("id,y_true,y_pred,blurry,comment\nr1,a,b,1,\n")
    (tmp_path / "sheet.csv.meta.json").write_text(json.dumps(
        {"split": "dev", "split_error": split_error, "columns": ["id", "y_true", "y_pred"]}))
    return sheet


@pytest.mark.parametrize("value", ["abc", None, -0.5, 2, [0.1], True])
def test_meta_split_error_that_is_not_a_rate(tmp_path, value):
    sheet = _sheet(tmp_path, value)
    expected = (f"Error: {sheet}.meta.json: split_error is {value!r}; it must be a number from 0 to 1 (the "
                "split's error rate). Re-create the meta file with 'mlstrat errors sample'")
    assert _line(runner.invoke(app, ["errors", "summarize", str(sheet)])) == expected
    assert _line(runner.invoke(app, ["errors", "ui", str(sheet), "--no-browser"])) == expected


def test_a_damaged_run_store_cell_names_the_run_and_shows_the_rest(tmp_path, preds):
    good = tmp_path / "g.csv"
    good.write_text(preds.read_text().replace("heavy", "1"))
    store = tmp_path / "runs.db"
    # two runs: the same file diagnosed again with the same options would update one run
    for note, human in (("one", "1%"), ("two", "2%")):
        args = ["diagnose", str(good), "--store", str(store), "--note", note, "--human", human]
        assert runner.invoke(app, args).exit_code == 0
    con = sqlite3.connect(store)
    bad_id = con.execute("SELECT id FROM runs WHERE seq = 1").fetchone()[0]
    con.execute("UPDATE runs SET diagnosis = '{not json' WHERE seq = 1")
    con.commit()
    con.close()
    warning = f"Warning: run {bad_id}: its diagnosis is damaged in the store (not a JSON object); shown without it"
    for args in (["runs", "list"], ["runs", "show", bad_id[:8]], ["runs", "compare", bad_id[:8], "latest"],
                 ["report", bad_id[:8], "-o", str(tmp_path / "r.html")]):
        res = runner.invoke(app, [*args, "--store", str(store)])
        assert res.exit_code == 0, (args, res.output)
        assert warning in " ".join(res.output.split()), (args, res.output)
    listed = runner.invoke(app, ["runs", "list", "--store", str(store)]).output
    assert "one" in listed and "two" in listed


def test_a_wide_csv_read_whole_is_sniffed_once_and_reads_the_same(tmp_path):
    """Every column asked for (a sheet's pass-through, a split's output): DuckDB's sniffer, once per file
    version. Commands that name their columns read only those (tests/tables/test_wide.py)."""
    from mlstrat.tables import read_table
    from mlstrat.tables import _duckdb_engine as _io

    width = _io.WIDE_CSV + 50
    head = "id,split,y_true,y_pred," + ",".join(f"f{i}" for i in range(width))
    rows = [f"{i},{('train', 'dev')[i % 2]},a,{'ab'[i % 3 == 0]}," + ",".join("1" for _ in range(width))
            for i in range(40)]
    wide = tmp_path / "wide.csv"
    wide.write_text("\n".join([head, *rows]) + "\n")
    narrow = tmp_path / "narrow.csv"
    narrow.write_text("\n".join(",".join(line.split(",")[:4]) for line in [head, *rows]) + "\n")
    _io._SNIFFED.clear()
    first, again = read_table(wide, text_columns=["id"]), read_table(wide, text_columns=["id"])
    assert len(_io._SNIFFED) == 1  # the wide file was sniffed once for its two reads
    assert len(first.columns) == len(again.columns) == width + 4
    core = first.select("id", "split", "y_true", "y_pred")
    expected = read_table(narrow, text_columns=["id"])
    assert core.schema() == expected.schema()
    assert core.to_pyarrow().equals(expected.to_pyarrow())


def test_a_cell_past_duckdbs_line_limit_is_read(tmp_path):
    """A 3-million-character document in a text column (DuckDB's default line limit is 2 MB)."""
    from mlstrat.tables import read_table

    path = tmp_path / "long.csv"
    path.write_text("id,split,y_true,y_pred,text\n1,dev,a,b," + "x" * 3_000_000 + "\n2,dev,a,a,short\n")
    table = read_table(path, text_columns=["id"]).to_pyarrow()
    assert table.column("id").to_pylist() == ["1", "2"]
    assert len(table.column("text")[0].as_py()) == 3_000_000
    res = runner.invoke(app, ["metrics", str(path), "--json"])
    assert res.exit_code == 0, res.output


def test_a_csv_with_long_lines_is_parsed_once_per_file_version(tmp_path, monkeypatch):
    """A field past DuckDB's line limit: the file is found to have long lines without DuckDB's failing
    first try, parsed once into a temp table that later reads of the same version reuse, and read again
    when the file changes (the timing is in benchmarks/long_field_bench.py)."""
    from mlstrat.tables import _duckdb_engine as _engine
    from mlstrat.tables import read_table

    calls = []
    original = _engine.DuckDBEngine._typed_csv
    monkeypatch.setattr(_engine.DuckDBEngine, "_typed_csv",
                        lambda self, *a, **k: calls.append(k["options"]) or original(self, *a, **k))
    path = tmp_path / "long.csv"
    text = "x" * 2_500_000
    path.write_text(f"id,split,y_true,y_pred,text,ok\n007,dev,a,b,{text},yes\n2,dev,a,a,short,no\n")
    first = read_table(path, text_columns=["id"]).to_pyarrow()
    again = read_table(path, text_columns=["id"]).to_pyarrow()
    assert calls == [{"max_line_size": _engine.MAX_CSV_LINE}]  # one parse, straight at the larger limit
    assert first.equals(again)
    assert first.column("id").to_pylist() == ["007", "2"] and first.column("ok").to_pylist() == ["yes", "no"]
    assert len(first.column("text")[0].as_py()) == 2_500_000
    path.write_text(f"id,split,y_true,y_pred,text,ok\n1,dev,a,b,{text}y,yes\n")
    assert len(read_table(path, text_columns=["id"]).to_pyarrow().column("text")[0].as_py()) == 2_500_001
    assert len(calls) == 2

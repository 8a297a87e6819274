"""Small local CSVs are parsed once per file version into a temp table (the engine's small path);
larger ones stay views over ``read_csv``. Both paths must read the same table, and the commands
must print the same JSON whichever path read their input."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from mlstrat.cli import app
from mlstrat.tables import _duckdb_engine, read_table

runner = CliRunner()


def _classification_csv(path, *, n: int = 300, seed: int = 5) -> None:
    """Three classes worded yes/no/maybe (DuckDB would sniff yes/no alone as BOOLEAN), ids with
    leading zeros, a weight column, every split."""
    rng = np.random.default_rng(seed)
    labels = np.array(["yes", "no", "maybe"])
    y = rng.integers(0, 3, n)
    yhat = np.where(rng.random(n) < 0.25, rng.integers(0, 3, n), y)
    splits = np.array(["train", "train_dev", "dev", "test"])[rng.integers(0, 4, n)]
    weight = rng.choice([0.5, 1.0, 2.0], n)
    lines = ["id,split,y_true,y_pred,weight"]
    lines += [f"{i:05d},{s},{labels[t]},{labels[p]},{w}"
              for i, (s, t, p, w) in enumerate(zip(splits, y, yhat, weight))]
    path.write_text("\n".join(lines) + "\n")


def _regression_csv(path, *, n: int = 200, seed: int = 6) -> None:
    rng = np.random.default_rng(seed)
    y = rng.normal(10, 3, n).round(3)
    yhat = (y + rng.normal(0, 1, n)).round(3)
    splits = np.array(["train", "dev", "test"])[rng.integers(0, 3, n)]
    path.write_text("id,split,y_true,y_pred\n" + "".join(
        f"{i},{s},{t},{p}\n" for i, (s, t, p) in enumerate(zip(splits, y, yhat))))


def _json_of(args: list[str]) -> dict:
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.mark.parametrize("args", [
    ["metrics", "{cls}"],
    ["metrics", "{cls}", "--weight", "weight"],
    ["metrics", "{cls}", "--pos-label", "yes", "--test", "--store", "{store}"],
    ["metrics", "{reg}"],
    ["diagnose", "{cls}", "--no-record", "--human", "5%"],
    ["diagnose", "{cls}", "--no-record", "--metric", "weighted_error"],
    ["diagnose", "{cls}", "--no-record", "--metric", "f1", "--human", "4%"],
    ["diagnose", "{reg}", "--no-record", "--metric", "mae"],
])
def test_metrics_and_diagnose_print_the_same_json_on_both_csv_paths(tmp_path, monkeypatch, args):
    cls, reg = tmp_path / "cls.csv", tmp_path / "reg.csv"
    _classification_csv(cls)
    _regression_csv(reg)
    kept = _json_of([a.format(cls=cls, reg=reg, store=tmp_path / "kept.db") for a in args])
    assert {str(cls.resolve()), str(reg.resolve())} & {key[0][0] for key in _duckdb_engine._KEPT}
    # every CSV a view over read_csv, as large ones are
    monkeypatch.setattr(_duckdb_engine, "SMALL_CSV", -1)
    streamed = _json_of([a.format(cls=cls, reg=reg, store=tmp_path / "streamed.db") for a in args])
    assert kept == streamed


def test_a_small_csv_is_parsed_once_and_reads_as_the_view_over_the_file(tmp_path, monkeypatch):
    path = tmp_path / "p.csv"
    _classification_csv(path, n=40)
    before = len(_duckdb_engine._KEPT)
    first = read_table(path, text_columns=["id"])
    again = read_table(path, text_columns=["id"])
    assert len(_duckdb_engine._KEPT) == before + 1  # one temp table for the two reads
    assert first.get_name() != again.get_name()
    monkeypatch.setattr(_duckdb_engine, "SMALL_CSV", -1)
    streamed = read_table(path, text_columns=["id"])
    assert first.schema() == again.schema() == streamed.schema()
    assert first.schema()["id"].is_string() and first.schema()["y_true"].is_string()
    assert first.to_pyarrow().equals(streamed.to_pyarrow())
    assert again.to_pyarrow().column("id").to_pylist()[:2] == ["00000", "00001"]


def test_a_small_csv_rewritten_is_read_again(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("id,x\n1,a\n2,b\n")
    assert read_table(path).to_pyarrow().column("x").to_pylist() == ["a", "b"]
    path.write_text("id,x\n1,a\n2,b\n3,c\n")
    assert read_table(path).to_pyarrow().column("x").to_pylist() == ["a", "b", "c"]


def test_a_ragged_small_csv_fails_with_the_line_the_streamed_path_gives(tmp_path, monkeypatch):
    path = tmp_path / "bad.csv"
    path.write_text("id,split,y_true,y_pred\n1,dev,a,b\n2,dev,a\n")  # DuckDB then sees one column
    kept = runner.invoke(app, ["metrics", str(path)])
    monkeypatch.setattr(_duckdb_engine, "SMALL_CSV", -1)
    streamed = runner.invoke(app, ["metrics", str(path)])
    assert kept.exit_code == streamed.exit_code == 2
    assert kept.output == streamed.output
    assert " ".join(kept.output.split()) == (
        f"Error: {path}: missing column 'split'; available columns: id,split,y_true,y_pred; "
        "if it has another name, give it with --split-col")

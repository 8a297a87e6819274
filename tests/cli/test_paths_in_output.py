"""Paths and names the user chose are printed as written, never read as Rich markup (an
unbalanced ``[/x]`` in a folder name crashed the line that reports the output)."""

import json

import pandas as pd
from typer.testing import CliRunner

from mlstrat.cli import app

runner = CliRunner()
ODD = "a[/x][bold]b"


def test_loss_sample_prints_its_sheet_and_metric_as_written(tmp_path):
    folder = tmp_path / ODD  # the folder "a[" holding "x][bold]b"
    folder.mkdir(parents=True)
    pd.DataFrame({"id": range(6), "split": "dev", "err[bold]": [0, 5, 1, 3, 0, 2],
                  "words": [10, 10, 4, 9, 8, 7]}).to_csv(folder / "asr.csv", index=False)
    out = runner.invoke(app, ["errors", "sample", str(folder / "asr.csv"), "--metric",
                              "ratio:err[bold]/words", "-n", "2", "-o", str(folder / "s.csv")])
    assert out.exit_code == 0, out.output
    text = "".join(out.output.split())  # the console wraps long lines
    assert "err[bold]" in text
    assert f"{ODD}/s.csv" in text and f"{ODD}/s.csv.meta.json" in text


def test_diagnose_prints_the_store_it_recorded_in_as_written(tmp_path):
    pred = tmp_path / "pred.parquet"
    pd.DataFrame({"id": range(8), "split": ["train"] * 4 + ["dev"] * 4,
                  "y_true": [0, 1] * 4, "y_pred": [0, 1, 1, 1, 0, 0, 1, 1]}).to_parquet(pred)
    store = tmp_path / f"runs{ODD}.db"
    out = runner.invoke(app, ["diagnose", str(pred), "--human", "1%", "--store", str(store)])
    assert out.exit_code == 0, out.output
    assert f"runs{ODD}.db" in "".join(out.output.split())
    listed = json.loads(runner.invoke(app, ["runs", "list", "--json", "--store", str(store)]).output)
    assert len(listed["runs"]) == 1

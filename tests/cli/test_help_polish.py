"""Help as written and tables that fit: bracketed names kept, no <bool> after flags, no hard
breaks mid-sentence, optional option values, select among recorded runs."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from mlstrat.cli import app
from mlstrat.cli._app import fill_optional_values

COMMANDS = [[], ["train"], ["report"], ["errors", "sample"], ["errors", "ui"], ["runs", "export"], ["select"],
            ["metrics"], ["diagnose"], ["demo"], ["split"]]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "mlstrat")
def test_help_has_no_bool_metavar(command):
    res = CliRunner().invoke(app, [*command, "--help"], env={"COLUMNS": "200"})
    assert res.exit_code == 0 and "<bool>" not in res.stdout


def test_bracketed_section_names_survive():
    res = CliRunner().invoke(app, ["train", "--help"], env={"COLUMNS": "200"})
    assert "TOML config ([data], [model], [regularization], [optim], ...); optional with --resume" in res.stdout


def test_paragraphs_are_not_cut_mid_sentence():
    res = CliRunner().invoke(app, ["report", "--help"], env={"COLUMNS": "200"})
    assert "The page is self-contained (inline CSS and SVG): it opens offline and can be mailed." in res.stdout


@pytest.mark.parametrize("args, expected", [
    (["runs", "export", "abc", "--mlflow"], ["runs", "export", "abc", "--mlflow="]),
    (["runs", "export", "abc", "--mlflow", "--json"], ["runs", "export", "abc", "--mlflow=", "--json"]),
    (["runs", "export", "abc", "--mlflow", "sqlite:///x.db"], ["runs", "export", "abc", "--mlflow", "sqlite:///x.db"]),
    (["x", "--", "--mlflow"], ["x", "--", "--mlflow"]),
])
def test_optional_option_values(args, expected):
    assert fill_optional_values(args) == expected


def _record(store, dev_error: float, train_error: float, lr: float, tmp_path, i: int):
    from mlstrat.runs import RunStore, record_predictions_run

    n = 1000
    split = np.array(["train", "dev"])[np.arange(n) % 2]
    y = np.zeros(n, dtype=int)
    wrong = np.where(split == "train", np.arange(n) < 2 * train_error * n, np.arange(n) < 2 * dev_error * n)
    frame = pd.DataFrame({"id": np.arange(n), "split": split, "y_true": y, "y_pred": wrong.astype(int)})
    path = tmp_path / f"p{i}.parquet"
    frame.to_parquet(path)
    from mlstrat.metrics import compute_metrics

    return record_predictions_run("diagnose", path, store=RunStore(store), config={"optim": {"lr": lr}},
                                  metrics=compute_metrics(str(path)), note=f"lr {lr}")


def test_select_among_recorded_runs(tmp_path):
    store = tmp_path / "runs.db"
    runs = [_record(store, d, t, lr, tmp_path, i)
            for i, (d, t, lr) in enumerate([(0.10, 0.01, 0.1), (0.08, 0.06, 0.01), (0.12, 0.0, 0.001)])]
    res = CliRunner().invoke(app, ["select", "--runs", "--store", str(store), "--minimize", "dev_error",
                                   "--require", "train_error<0.05", "--json"], env={"COLUMNS": "80"})
    assert res.exit_code == 0, res.output
    import json

    out = json.loads(res.stdout)
    assert out["winner"] == f"{runs[0].short_id} lr 0.1"  # run 1 has lower dev error but fails the constraint
    res = CliRunner().invoke(app, ["select", "--runs", "--store", str(store), "--minimize", "test_error"])
    assert res.exit_code == 2 and "test_error" in res.output


def test_numbers_are_never_cut_at_80_columns(tmp_path):
    rng = np.random.default_rng(0)
    n = 4000
    y = rng.integers(0, 12, n)
    frame = pd.DataFrame({"id": np.arange(n), "split": np.array(["train", "train_dev", "dev", "test"])[np.arange(n) % 4],
                          "y_true": y, "y_pred": np.where(rng.random(n) < 0.1, (y + 1) % 12, y)})
    path = tmp_path / "p.parquet"
    frame.to_parquet(path)
    for command in (["metrics", str(path)], ["diagnose", str(path), "--human", "0.5%", "--no-record"]):
        res = CliRunner().invoke(app, command, env={"COLUMNS": "80"})
        assert res.exit_code == 0, res.output
        assert not re.search(r"\d…|…\d", res.stdout), res.stdout

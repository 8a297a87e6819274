"""Error analysis on a metric in its unit: largest per-example losses, ceilings as loss shares."""

import csv
import json
import math

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from mlstrat import ConfigError
from mlstrat.cli import app
from mlstrat.errors import sample_errors
from mlstrat.errors._loss_ceilings import loss_ceilings
from mlstrat.metrics import parse_metric


@pytest.fixture
def predictions(tmp_path):
    rng = np.random.default_rng(0)
    n = 300
    y = rng.normal(50, 10, n)
    df = pd.DataFrame({"id": [f"r{i}" for i in range(n)], "split": np.where(np.arange(n) < 200, "dev", "train"),
                       "y_true": y, "y_pred": y + rng.normal(0, 3, n),
                       "word_errors": rng.poisson(2, n), "words": rng.poisson(10, n) + 1})
    path = tmp_path / "pred.csv"
    df.to_csv(path, index=False)
    return path, df


def _tag(sheet, tags):
    rows = list(csv.DictReader(open(sheet, newline="")))
    for i, cat in tags.items():
        rows[i][cat] = "x"
    with open(sheet, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return rows


def test_rmse_sheet_takes_the_largest_squared_residuals(predictions, tmp_path):
    path, df = predictions
    sheet = tmp_path / "sheet.csv"
    result = sample_errors(str(path), metric="rmse", n=10, output=sheet, categories="outlier,drift")
    dev = df[df.split == "dev"]
    e2 = (dev.y_pred - dev.y_true) ** 2
    expected = list(dev.id.iloc[np.argsort(-e2.to_numpy(), kind="stable")[:10]])
    rows = list(csv.DictReader(open(sheet, newline="")))
    assert [r["id"] for r in rows] == expected
    assert [float(r["loss"]) for r in rows] == pytest.approx(sorted(e2, reverse=True)[:10], rel=1e-5)
    meta = json.loads((tmp_path / "sheet.csv.meta.json").read_text())
    assert meta["split_value"] == pytest.approx(math.sqrt(e2.mean()))
    assert meta["total_loss"] == pytest.approx(e2.sum())
    assert result.split_error == pytest.approx(math.sqrt(e2.mean()))

    _tag(sheet, {0: "outlier", 1: "outlier", 2: "drift"})
    ceilings = loss_ceilings(sheet)
    outlier = next(c for c in ceilings["categories"] if c["category"] == "outlier")
    share = (float(rows[0]["loss"]) + float(rows[1]["loss"])) / e2.sum()
    assert outlier["share_of_total_loss"] == pytest.approx(share, rel=1e-5)
    # RMSE once the outliers' loss is gone: sqrt((L - held) / n)
    assert outlier["figure_if_fixed"] == pytest.approx(math.sqrt((e2.sum() * (1 - share)) / len(dev)), rel=1e-5)
    out = CliRunner().invoke(app, ["errors", "summarize", str(sheet), "--json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["categories"][0]["category"] == "outlier"


def test_word_error_rate_sheet_without_labels(tmp_path):
    df = pd.DataFrame({"id": range(6), "split": "dev", "word_errors": [0, 5, 1, 3, 0, 2],
                       "words": [10, 10, 4, 9, 8, 7]})
    path = tmp_path / "asr.csv"
    df.to_csv(path, index=False)
    out = CliRunner().invoke(app, ["errors", "sample", str(path), "--metric", "ratio:word_errors/words",
                                   "-n", "2", "-o", str(tmp_path / "s.csv")])
    assert out.exit_code == 0, out.output
    assert "they hold 72.7% of the split's total loss" in out.output  # (5 + 3) / 11
    rows = list(csv.DictReader(open(tmp_path / "s.csv", newline="")))
    assert [r["id"] for r in rows] == ["1", "3"]
    assert [r["loss"] for r in rows] == ["5", "3"]


@pytest.mark.parametrize("metric", [None, "mae"])
def test_a_uri_source_is_recorded_as_given_for_either_sheet(predictions, tmp_path, metric):
    uri = predictions[0].resolve().as_uri()
    result = sample_errors(uri, n=5, metric=metric, output=tmp_path / "sheet.csv")
    meta = json.loads(result.meta.read_text())
    assert (meta["predictions"], meta["fingerprint"], result.fingerprint) == (uri, None, None)


def test_bad_combinations(predictions, tmp_path):
    path, _ = predictions
    with pytest.raises(ConfigError, match="no 'correct' rows to add"):
        sample_errors(str(path), metric="mae", include_correct=5, output=tmp_path / "a.csv")
    with pytest.raises(ConfigError, match="higher-is-better score has no loss to rank by"):
        sample_errors(str(path), metric=parse_metric("mean:word_errors", higher_is_better=True),
                      output=tmp_path / "b.csv")

"""`mlstrat metrics` on a regression table: MAE / RMSE / R² with intervals, never an error rate
and a confusion matrix of floats."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_diabetes, load_wine
from sklearn.linear_model import Ridge
from sklearn.tree import DecisionTreeClassifier
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score
from typer.testing import CliRunner

from mlstrat.cli import app
from mlstrat.metrics._regression import is_regression_table


def _frame(x, y, model, train_rows: int) -> pd.DataFrame:
    order = np.random.default_rng(0).permutation(len(y))
    x, y = x[order], y[order]
    model.fit(x[:train_rows], y[:train_rows])
    split = np.where(np.arange(len(y)) < train_rows, "train", "dev")
    return pd.DataFrame({"id": np.arange(len(y)), "split": split, "y_true": y,
                         "y_pred": model.predict(x)})


@pytest.fixture(scope="module")
def diabetes() -> pd.DataFrame:
    x, y = load_diabetes(return_X_y=True)
    return _frame(x, y, Ridge(alpha=0.1), 300)


def _metrics(path, *args):
    return CliRunner().invoke(app, ["metrics", str(path), *args, "--store", str(path.parent / "s.db")])


def test_regression_table_is_detected_and_matches_scikit_learn(diabetes, tmp_path):
    path = tmp_path / "pred.csv"
    diabetes.to_csv(path, index=False)
    result = _metrics(path, "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["task"] == "regression"
    for split in ("train", "dev"):
        part = diabetes[diabetes.split == split]
        got = doc["splits"][split]
        assert got["mae"]["value"] == pytest.approx(mean_absolute_error(part.y_true, part.y_pred), rel=1e-9)
        assert got["rmse"]["value"] == pytest.approx(
            np.sqrt(mean_squared_error(part.y_true, part.y_pred)), rel=1e-9)
        assert got["r2"]["value"] == pytest.approx(r2_score(part.y_true, part.y_pred), rel=1e-9)
        for name in ("mae", "rmse", "r2"):
            assert got[name]["ci_low"] < got[name]["value"] < got[name]["ci_high"]
    text = _metrics(path).output
    assert "Regression metrics per split" in text
    assert "Confusion matrix" not in text and "100.00%" not in text


def test_metric_option_asks_for_the_regression_report_on_whole_numbers(tmp_path):
    rng = np.random.default_rng(1)
    y = rng.integers(0, 40, 200)  # counts: whole numbers, a regression only the user can tell
    frame = pd.DataFrame({"id": range(200), "split": ["train"] * 100 + ["dev"] * 100, "y_true": y,
                          "y_pred": np.clip(y + rng.integers(-3, 4, 200), 0, None)})
    path = tmp_path / "counts.csv"
    frame.to_csv(path, index=False)
    assert not is_regression_table(str(path))
    doc = json.loads(_metrics(path, "--metric", "mae", "--json").stdout)
    dev = frame[frame.split == "dev"]
    assert doc["splits"]["dev"]["mae"]["value"] == pytest.approx(mean_absolute_error(dev.y_true, dev.y_pred))


def test_classification_table_stays_classification(tmp_path):
    x, y = load_wine(return_X_y=True)
    frame = _frame(x, y, DecisionTreeClassifier(max_depth=3, random_state=0), 120)
    frame["y_true"] = frame.y_true.astype(float)  # whole numbers stored as floats are still classes
    path = tmp_path / "wine.csv"
    frame.to_csv(path, index=False)
    assert not is_regression_table(str(path))
    doc = json.loads(_metrics(path, "--json").stdout)
    assert "error" in doc["splits"]["dev"]


def test_metric_option_refuses_what_metrics_cannot_report(diabetes, tmp_path):
    path = tmp_path / "pred.csv"
    diabetes.to_csv(path, index=False)
    result = _metrics(path, "--metric", "mean:loss")
    assert result.exit_code == 2
    assert ("--metric mean:loss: metrics reports error, weighted_error, f1 or mae, rmse; for a "
            "per-example column use mlstrat diagnose --metric mean:loss") in " ".join(result.output.split())


def test_decimal_columns_read_as_numbers(diabetes, tmp_path):
    # Spark and SQL exports write fixed-point targets as Parquet decimals; the detection used to
    # call isinf on them (decimals have none) and stopped with an AttributeError traceback
    import decimal

    import pyarrow as pa
    import pyarrow.parquet as pq

    def to_decimal(values):
        return pa.array([decimal.Decimal(f"{v:.4f}") for v in values], pa.decimal128(12, 4))

    path = tmp_path / "pred.parquet"
    pq.write_table(pa.table({"id": diabetes.id, "split": diabetes.split, "y_true": to_decimal(diabetes.y_true),
                             "y_pred": to_decimal(diabetes.y_pred)}), path)
    assert is_regression_table(str(path))
    result = _metrics(path, "--json")
    assert result.exit_code == 0, result.output
    dev = diabetes[diabetes.split == "dev"]
    assert json.loads(result.stdout)["splits"]["dev"]["mae"]["value"] == pytest.approx(
        mean_absolute_error(dev.y_true, dev.y_pred), abs=1e-3)
    whole = tmp_path / "classes.parquet"
    pq.write_table(pa.table({"id": [1, 2], "split": ["dev", "dev"], "y_true": to_decimal([1, 2]),
                             "y_pred": to_decimal([1, 1])}), whole)
    assert not is_regression_table(str(whole))

"""`mlstrat metrics --regression`: MAE, RMSE, R² per split with intervals."""

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import mean_absolute_error, r2_score, root_mean_squared_error
from typer.testing import CliRunner

from mlstrat.cli import app


def test_regression_json_equals_sklearn(tmp_path):
    rng = np.random.default_rng(5)
    y = rng.normal(3, 1, 500)
    t = pd.DataFrame({"split": np.where(np.arange(500) < 300, "train", "dev"), "y_true": y,
                      "y_pred": y + rng.normal(0, 0.4, 500)})
    path = tmp_path / "p.parquet"
    t.to_parquet(path)
    result = CliRunner().invoke(app, ["metrics", str(path), "--regression", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["task"] == "regression"
    dev = t[t.split == "dev"]
    m = out["splits"]["dev"]
    assert m["n"] == 200
    assert m["mae"]["value"] == pytest.approx(mean_absolute_error(dev.y_true, dev.y_pred))
    assert m["rmse"]["value"] == pytest.approx(root_mean_squared_error(dev.y_true, dev.y_pred))
    assert m["r2"]["value"] == pytest.approx(r2_score(dev.y_true, dev.y_pred))
    text = CliRunner().invoke(app, ["metrics", str(path), "--regression"])
    assert "Regression metrics per split" in text.output
    assert f"{m['rmse']['value']:.4g}" in text.output


def test_text_labels_are_one_line(tmp_path):
    path = tmp_path / "p.csv"
    pd.DataFrame({"split": ["dev", "dev"], "y_true": ["cat", "dog"], "y_pred": ["cat", "cat"]}
                 ).to_csv(path, index=False)
    result = CliRunner().invoke(app, ["metrics", str(path), "--regression"])
    assert result.exit_code == 2
    assert "p.csv: column 'y_true' has type string; y_true and y_pred must be numbers" in result.output

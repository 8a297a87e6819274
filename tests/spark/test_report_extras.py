"""The report's probability curves and worst mistakes, computed by the engine, are the same on
Spark as on DuckDB."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import mlstrat
from mlstrat.report._proba import open_predictions, probability_curves
from mlstrat.report._top_losses import top_losses

pytestmark = [pytest.mark.spark, pytest.mark.xdist_group("spark")]


@pytest.mark.parametrize("k", [2, 3])
def test_curves_and_worst_mistakes_alike_on_both_engines(spark, tmp_path, k):
    rng = np.random.default_rng(k)
    n = 3000
    y = rng.integers(k, size=n)
    logits = rng.normal(size=(n, k)) + 1.5 * np.eye(k)[y]
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    frame = pd.DataFrame({"id": [f"r{i:05d}" for i in range(n)], "split": np.where(np.arange(n) % 3, "dev", "train"),
                          "y_true": y, "y_pred": proba.argmax(1)})
    frame = frame.assign(**{f"proba_{j}": proba[:, j] for j in range(k)})
    path = tmp_path / "p.parquet"
    frame.to_parquet(path)
    data = {"manifest": None}
    got = {}
    for name, con in (("duck", mlstrat.connect("duckdb")), ("spark", spark)):
        opened = open_predictions(path, con=con)
        curves = probability_curves(path, opened=opened)
        curves.pop("svg")
        worst = top_losses(path, n=5, data=data, opened=opened)
        got[name] = (curves, [(r["id"], r["loss"]) for r in worst["rows"]], worst["n_mistakes"])
    assert got["duck"][0]["roc_auc"] == pytest.approx(got["spark"][0]["roc_auc"], rel=1e-12)
    assert got["duck"][0]["average_precision"] == pytest.approx(got["spark"][0]["average_precision"], rel=1e-12)
    assert got["duck"][0]["n"] == got["spark"][0]["n"] == 2000
    assert got["duck"][1:] == got["spark"][1:]
    dev = frame[frame.split == "dev"]
    wrong = dev[dev.y_true != dev.y_pred]
    loss = -np.log(wrong[[f"proba_{j}" for j in range(k)]].to_numpy()[np.arange(len(wrong)), wrong.y_true])
    expected = wrong.assign(loss=loss).sort_values(["loss", "id"], ascending=[False, True]).head(5)
    assert [i for i, _ in got["duck"][1]] == list(expected.id) and got["duck"][2] == len(wrong)

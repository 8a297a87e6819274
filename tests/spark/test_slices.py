"""Per-slice figures and slice discovery give identical results on DuckDB and Spark."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import mlstrat
from tests.spark._compare import assert_same

pytestmark = [pytest.mark.spark, pytest.mark.xdist_group("spark")]


def test_slices_identical_on_both_engines(spark, tmp_path):
    from mlstrat.errors import find_slices, slice_metrics

    rng = np.random.default_rng(11)
    n = 4000
    frame = pd.DataFrame({
        "split": rng.choice(["train", "dev"], size=n),
        "y_true": rng.choice(["cat", "dog", "bird"], size=n),
        "age": rng.normal(40, 12, size=n).round(1),
        "score": rng.gamma(2.0, 1.5, size=n),
        "region": rng.choice(["north", "o'south", None], size=n),
        "flag": rng.random(n) < 0.3,
    })
    wrong = (rng.random(n) < 0.1) | (frame.flag.to_numpy() & (frame.age > 50).to_numpy()
                                     & (rng.random(n) < 0.6))
    frame["y_pred"] = np.where(wrong, "dog", frame.y_true)
    frame.loc[wrong & (frame.y_true == "dog").to_numpy(), "y_pred"] = "cat"
    src = str(tmp_path / "preds.parquet")
    frame.to_parquet(src, index=False)
    duck = mlstrat.connect("duckdb")
    for call in (lambda con: slice_metrics(src, "age,region", bins=5, top=6, con=con),
                 lambda con: find_slices(src, bins=6, min_support=20, fdr=1.0, top=500, con=con)):
        on_duck, on_spark = call(duck).to_dict(), call(spark).to_dict()
        on_duck.pop("source"), on_spark.pop("source")
        assert_same(on_duck, on_spark)
        assert len(on_duck["slices"]) > 5

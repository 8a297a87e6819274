"""Label issues, computed as engine queries, are the same on Spark as on DuckDB."""

from __future__ import annotations

import warnings

import pytest

import mlstrat
from mlstrat import MlstratWarning
from mlstrat.errors import find_label_issues
from tests.errors.test_labels import _same, noisy_case, table

pytestmark = [pytest.mark.spark, pytest.mark.xdist_group("spark")]


def test_both_selection_rules_alike_on_both_engines(spark):
    labels, probs, _ = noisy_case(seed=21, n=1500, k=4, noise=0.25)
    frame = table(labels, probs)
    frame.loc[::40, "y_pred"] = (frame.y_pred[::40] + 1) % 4
    duck = mlstrat.connect("duckdb")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MlstratWarning)
        for method, rank_by in (("prune_by_noise_rate", "self_confidence"), ("rank", "normalized_margin")):
            on_duck = find_label_issues(frame, method=method, rank_by=rank_by, con=duck)
            on_spark = find_label_issues(frame, method=method, rank_by=rank_by, con=spark)
            assert on_duck.issues
            _same(on_spark, on_duck)

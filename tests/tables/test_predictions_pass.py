"""``read_predictions(..., counts=True)``: the checks and the confusion counts from one pass."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlstrat._exceptions import InputError
from mlstrat.metrics import compute_metrics
from mlstrat.metrics._classification import confusion_counts
from mlstrat.tables import read_predictions


def _preds(**cols):
    base = {"id": [1, 2, 3, 4], "split": ["train", "dev", "dev", "test"], "y_true": [0, 1, 1, 0],
            "y_pred": [0, 1, 0, 0], "weight": [1.0, 2.0, 0.5, 1.0]}
    base.update(cols)
    return pd.DataFrame(base)


BAD = [
    ({"y_true": [0.0, np.nan, 1.0, 0.0]}, {}, r"column 'y_true' has 1 empty/NaN value\(s\)"),
    ({"y_pred": [None, "1", None, "0"], "y_true": ["0", "1", "1", "0"]}, {},
     r"column 'y_pred' has 2 empty/NaN value\(s\)"),
    ({"split": ["train", None, "dev", None]}, {}, r"column 'split' has 2 empty value\(s\)"),
    ({"split": ["train", "holdout", "dev", "test"]}, {}, r"unknown value\(s\) 'holdout'"),
    ({"weight": [1.0, -1.0, np.nan, 1.0]}, {"weight": "weight"},
     r"column 'weight' has 2 empty, negative or infinite weight\(s\)"),
    ({"y_true": ["a", "b", "b", "a"]}, {}, r"y_true \(string\) and y_pred \(int64\) never agree"),
]


@pytest.mark.parametrize("cols, kwargs, message", BAD)
def test_checks_read_from_the_groups_say_the_same(cols, kwargs, message):
    for counts in (False, True):
        with pytest.raises(InputError, match=message):
            read_predictions(_preds(**cols), counts=counts, counts_weight="weight", **kwargs)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["train", "train_dev", "dev", "test"]),
                          st.integers(0, 3), st.integers(0, 3), st.floats(0, 5)),
                min_size=1, max_size=60),
       st.booleans())
def test_counts_from_the_validation_pass_equal_their_own_pass(rows, weighted):
    frame = pd.DataFrame(rows, columns=["split", "y_true", "y_pred", "weight"])
    weight = "weight" if weighted else None
    pred = read_predictions(frame, counts=True, counts_weight=weight)
    splits = list(pred.sizes)
    assert pred.sizes == frame.split.value_counts().to_dict()
    reused = confusion_counts(pred.table, splits, weight=weight, groups=pred.label_counts)
    fresh = confusion_counts(pred.table, splits, weight=weight)
    for s in splits:
        assert reused[s].labels == fresh[s].labels
        np.testing.assert_array_equal(reused[s].matrix, fresh[s].matrix)
        np.testing.assert_allclose(reused[s].weight, fresh[s].weight, rtol=1e-12)
        np.testing.assert_allclose(reused[s].weight_sq, fresh[s].weight_sq, rtol=1e-12)


def test_compute_metrics_on_a_file_makes_one_pass(tmp_path, monkeypatch):
    """The confusion counts of a file come from the validation pass: no second GROUP BY."""
    from mlstrat.metrics import _classification as _metrics

    path = tmp_path / "p.parquet"
    _preds().to_parquet(path)
    expected = compute_metrics(read_predictions(path), weight="weight", zero_division=0).to_dict()

    def second_pass(*args, **kwargs):
        raise AssertionError("a second pass over the table")

    monkeypatch.setattr(_metrics, "_group_labels", second_pass)
    assert compute_metrics(path, zero_division=0).to_dict() == expected

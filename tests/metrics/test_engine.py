"""compute_metrics (engine GROUP BY) agrees with the array path and scikit-learn."""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.exceptions import UndefinedMetricWarning as SkUndefined
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

from mlstrat import InputError, UndefinedMetricWarning
from mlstrat.metrics import compute_metrics, metrics_from_arrays
from mlstrat.tables import read_predictions


@st.composite
def tables(draw):
    n = draw(st.integers(4, 80))
    splits = draw(
        st.lists(st.sampled_from(["train", "train_dev", "dev", "test"]), min_size=n, max_size=n)
    )
    y = draw(st.lists(st.integers(0, 3), min_size=n, max_size=n))
    yhat = draw(st.lists(st.integers(0, 4), min_size=n, max_size=n))
    w = draw(st.lists(st.sampled_from([0.5, 1.0, 2.0, 7.0]), min_size=n, max_size=n))
    return {
        "split": np.array(splits),
        "y_true": np.array(y),
        "y_pred": np.array(yhat),
        "weight": np.array(w),
    }


@pytest.mark.filterwarnings("ignore:A single label was found")
@settings(max_examples=25, deadline=None)
@given(table=tables())
def test_engine_equals_arrays_and_sklearn(table):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report = compute_metrics(table, zero_division=0)
    assert report.weight == "weight"
    for split, m in report.splits.items():
        mask = table["split"] == split
        y, yhat, w = table["y_true"][mask], table["y_pred"][mask], table["weight"][mask]
        ref = metrics_from_arrays(y, yhat, sample_weight=w, zero_division=0)
        labels = np.unique(np.concatenate([y, yhat]))
        assert np.array_equal(m.matrix, confusion_matrix(y, yhat, labels=labels))
        assert m.to_dict() == ref.to_dict()
        p, r, f, _ = precision_recall_fscore_support(y, yhat, average="macro", zero_division=0)
        assert (m.precision, m.recall, m.f1) == pytest.approx((p, r, f), abs=1e-12)


@settings(max_examples=40, deadline=None)
@given(y=st.lists(st.integers(0, 3), min_size=1, max_size=20), data=st.data())
def test_warns_exactly_when_sklearn_warns(y, data):
    yhat = data.draw(st.lists(st.integers(0, 3), min_size=len(y), max_size=len(y)))
    with warnings.catch_warnings(record=True) as theirs:
        warnings.simplefilter("always")
        precision_recall_fscore_support(y, yhat, average=None, labels=np.unique(y + yhat))
    with warnings.catch_warnings(record=True) as ours:
        warnings.simplefilter("always")
        metrics_from_arrays(y, yhat)
    sk = any(issubclass(w.category, SkUndefined) for w in theirs)
    assert any(issubclass(w.category, UndefinedMetricWarning) for w in ours) == sk


def test_string_and_mixed_labels():
    table = {
        "split": ["dev"] * 4,
        "y_true": ["cat", "dog", "dog", "cat"],
        "y_pred": ["cat", "cat", "dog", "cat"],
    }
    m = compute_metrics(table).splits["dev"]
    assert m.labels == ("cat", "dog") and m.error == 0.25
    assert m.to_dict()["confusion"] == {"labels": ["cat", "dog"], "matrix": [[2, 0], [1, 1]]}
    mixed = {
        "split": ["dev"] * 3,
        "y_true": np.array([1, 2, 2]),
        "y_pred": np.array([1.0, 2.0, 1.0]),
    }
    d = compute_metrics(mixed).to_dict()["splits"]["dev"]
    assert d["confusion"]["labels"] == ["1", "2"]
    assert list(d["per_class"]) == ["1", "2"]


def test_accepts_validated_predictions_and_pos_label():
    table = {"split": ["dev"] * 6, "y_true": [0, 1, 1, 0, 1, 0], "y_pred": [0, 1, 0, 0, 1, 1]}
    pred = read_predictions(table)
    m = compute_metrics(pred, split="dev", pos_label=1).splits["dev"]
    p, r, f, _ = precision_recall_fscore_support(table["y_true"], table["y_pred"], average="binary")
    assert (m.precision, m.recall, m.f1) == pytest.approx((p, r, f))
    assert m.average == "binary"


def test_pos_label_absent_from_one_split_follows_policy():
    table = {"split": ["dev", "dev", "train"], "y_true": [0, 0, 1], "y_pred": [0, 0, 1]}
    with pytest.warns(UndefinedMetricWarning):
        m = compute_metrics(table, pos_label=1).splits["dev"]
    assert (m.precision, m.recall, m.f1) == (0.0, 0.0, 0.0)
    m = compute_metrics(table, pos_label=1, zero_division=1).splits["dev"]
    assert m.f1 == 1.0


def test_pos_label_absent_from_every_split_is_refused():
    from mlstrat import ConfigError

    table = {"split": ["dev"] * 2, "y_true": [0, 0], "y_pred": [0, 0]}
    with pytest.raises(ConfigError, match=r"pos_label='1' \(--pos-label\) is not a label of <builtins.dict> \(labels: '0'\)"):
        compute_metrics(table, pos_label=1)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"split": "valid"}, r"unknown split 'valid'; allowed: train, train_dev, dev, test"),
        ({"split": "tset"}, r"unknown split 'tset' \(did you mean 'test'\?\)"),
        ({"split": ["dev", "test"]}, r"split 'test' has 0 rows; splits present: dev"),
        ({"weight": "w"}, r"missing column 'w'"),
    ],
)
def test_bad_input(kwargs, message):
    table = {"split": ["dev"] * 2, "y_true": [0, 1], "y_pred": [0, 0]}
    with pytest.raises(InputError, match=message):
        compute_metrics(table, zero_division=0, **kwargs)


def test_negative_weights_rejected():
    table = {"split": ["dev"] * 2, "y_true": [0, 1], "y_pred": [0, 0], "weight": [1.0, -1.0]}
    with pytest.raises(InputError, match=r"column 'weight' has 1 empty or negative weight\(s\)"):
        compute_metrics(table)

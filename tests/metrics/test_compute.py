"""Reference tests: every figure equals scikit-learn's on random label arrays."""

import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support

from mlstrat import ConfigError, InputError, UndefinedMetricWarning
from mlstrat.metrics import metrics_from_arrays

TOL = 1e-12


@st.composite
def labelled(draw, max_classes=5, max_n=60):
    n = draw(st.integers(1, max_n))
    k = draw(st.integers(1, max_classes))
    y_true = np.array(draw(st.lists(st.integers(0, k - 1), min_size=n, max_size=n)))
    y_pred = np.array(draw(st.lists(st.integers(0, k), min_size=n, max_size=n)))
    w = np.array(draw(st.lists(st.floats(0.0, 10.0, allow_nan=False), min_size=n, max_size=n)))
    return y_true, y_pred, w


def _close(a, b):
    if isinstance(b, float) and math.isnan(b):
        return math.isnan(a)
    return abs(a - b) <= TOL


@settings(max_examples=60, deadline=None)
@given(data=labelled(), zero_division=st.sampled_from(["warn", 0.0, 1.0, np.nan]))
def test_matches_sklearn(data, zero_division):
    y_true, y_pred, w = data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = metrics_from_arrays(y_true, y_pred, sample_weight=w, zero_division=zero_division)
        labels = np.unique(np.concatenate([y_true, y_pred]))
        assert np.array_equal(m.matrix, confusion_matrix(y_true, y_pred, labels=labels))
        assert list(m.labels) == labels.tolist()
        assert _close(m.accuracy, accuracy_score(y_true, y_pred))
        assert _close(m.error, 1 - accuracy_score(y_true, y_pred))
        if w.sum() > 0:
            assert _close(m.weighted_error, 1 - accuracy_score(y_true, y_pred, sample_weight=w))
        p, r, f, s = precision_recall_fscore_support(
            y_true, y_pred, labels=labels, average=None, zero_division=zero_division
        )
        for i, label in enumerate(labels):
            pc = m.per_class[str(label)]
            assert _close(pc["precision"], float(p[i])) and _close(pc["recall"], float(r[i]))
            assert _close(pc["f1"], float(f[i])) and pc["support"] == s[i]
        for average in ("macro", "weighted", "micro"):
            p, r, f, _ = precision_recall_fscore_support(
                y_true, y_pred, average=average, zero_division=zero_division
            )
            got = m.averages[average]
            assert _close(got["precision"], float(p)), average
            assert _close(got["recall"], float(r)), average
            assert _close(got["f1"], float(f)), average
        assert _close(m.f1, m.averages["macro"]["f1"])


@settings(max_examples=40, deadline=None)
@given(data=labelled(max_classes=2), zero_division=st.sampled_from([0.0, 1.0]))
def test_binary_matches_sklearn(data, zero_division):
    y_true, y_pred, _ = data
    y_pred = np.minimum(y_pred, 1)
    if len(np.unique(np.concatenate([y_true, y_pred]))) < 2:
        y_true = np.append(y_true, 1 - y_true[0])
        y_pred = np.append(y_pred, 1 - y_pred[0])
    m = metrics_from_arrays(y_true, y_pred, pos_label=1, zero_division=zero_division)
    p, r, f, _ = precision_recall_fscore_support(
        y_true, y_pred, pos_label=1, average="binary", zero_division=zero_division
    )
    assert m.average == "binary"
    assert _close(m.precision, float(p)) and _close(m.recall, float(r)) and _close(m.f1, float(f))


def test_string_labels_and_most_confused():
    y_true = ["cat", "cat", "dog", "dog", "dog", "bird"]
    y_pred = ["cat", "dog", "cat", "cat", "dog", "bird"]
    m = metrics_from_arrays(y_true, y_pred)
    assert m.labels == ("bird", "cat", "dog")
    assert m.most_confused[0] == {
        "true": "dog",
        "pred": "cat",
        "count": 2,
        "share_of_errors": 2 / 3,
    }
    assert m.most_confused[1]["true"] == "cat" and m.most_confused[1]["pred"] == "dog"
    assert len(m.most_confused) == 2


def test_warn_policy_warns_and_sets_zero():
    with pytest.warns(
        UndefinedMetricWarning, match="precision ill-defined .* zero_division=0, 1 or nan"
    ):
        m = metrics_from_arrays([0, 1, 1], [0, 0, 0])
    assert m.per_class["1"]["precision"] == 0.0


def test_explicit_policy_is_silent():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m = metrics_from_arrays([0, 1, 1], [0, 0, 0], zero_division=1)
    assert m.per_class["1"]["precision"] == 1.0


@pytest.mark.parametrize("bad", ["always", 2, 0.5, True])
def test_bad_zero_division(bad):
    with pytest.raises(ConfigError, match=r"zero_division: .* is not one of 'warn', 0, 1, nan"):
        metrics_from_arrays([0], [0], zero_division=bad)


@pytest.mark.parametrize(
    ("y_true", "y_pred", "w", "message"),
    [
        ([], [], None, "y_true is empty"),
        ([0, 1], [0], None, "same length"),
        ([0.0, float("nan")], [0.0, 1.0], None, "y_true has 1 NaN value"),
        ([0, 1], [0, 1], [1.0, -1.0], "weights must be >= 0"),
    ],
)
def test_bad_arrays(y_true, y_pred, w, message):
    with pytest.raises(InputError, match=message):
        metrics_from_arrays(y_true, y_pred, sample_weight=w)

"""Diagnosis from a predictions table: intervals, domains, human labels, metrics."""

import math

import numpy as np
import pytest
from scipy.stats import binomtest

from mlstrat import ConfigError, InputError
from mlstrat.diagnosis import diagnose


def _table(errors_per_split, n=400, domain=None, seed=0):
    """A predictions table with exactly the given error count per split."""
    rng = np.random.default_rng(seed)
    cols = {"id": [], "split": [], "y_true": [], "y_pred": [], "weight": []}
    i = 0
    for split, k in errors_per_split.items():
        y = rng.integers(0, 3, n)
        yhat = y.copy()
        yhat[:k] = (y[:k] + 1) % 3
        cols["id"] += list(range(i, i + n))
        cols["split"] += [split] * n
        cols["y_true"] += y.tolist()
        cols["y_pred"] += yhat.tolist()
        cols["weight"] += [1.0 + (j % 2) for j in range(n)]
        i += n
    if domain is not None:
        cols["domain"] = [
            domain(s, j) for s, j in zip(cols["split"], range(len(cols["split"])), strict=True)
        ]
    return {k: np.asarray(v) for k, v in cols.items()}


def _wilson(k, n):
    ci = binomtest(k, n).proportion_ci(method="wilson")
    return ci.low, ci.high


def test_errors_and_component_intervals_match_independent_newcombe():
    table = _table({"train": 8, "train_dev": 12, "dev": 60})
    d = diagnose(table, human=["1%"])
    assert d.errors["dev"].value == 60 / 400 and d.errors["dev"].n == 400
    assert (d.errors["dev"].ci_low, d.errors["dev"].ci_high) == pytest.approx(
        _wilson(60, 400), abs=1e-12
    )
    # Newcombe's hybrid score interval written out from scipy's Wilson bounds
    p1, p2 = 60 / 400, 12 / 400
    (l1, u1), (l2, u2) = _wilson(60, 400), _wilson(12, 400)
    expected = (
        p1 - p2 - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2),
        p1 - p2 + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2),
    )
    c = d.components["data_mismatch"]
    assert (c.ci_low, c.ci_high) == pytest.approx(expected, abs=1e-12)
    # an exact human figure adds no width: the bias interval is the train interval shifted
    b = d.components["avoidable_bias"]
    lo, hi = _wilson(8, 400)
    assert (b.ci_low, b.ci_high) == pytest.approx((lo - 0.01, hi - 0.01), abs=1e-12)
    assert d.principal_problem == "data_mismatch"
    assert "no_intervals" not in [w.code for w in d.warnings]


def test_domain_column_detects_mismatch_without_train_dev():
    table = _table(
        {"train": 8, "dev": 60}, domain=lambda s, j: "app" if s == "dev" or j % 2 else "web"
    )
    d = diagnose(table, human=["1%"])
    assert "mismatched_without_train_dev" in [w.code for w in d.warnings]
    same = _table({"train": 8, "dev": 60}, domain=lambda s, j: "app" if j % 2 else "web")
    assert "mismatched_without_train_dev" not in [
        w.code for w in diagnose(same, human=["1%"]).warnings
    ]
    assert "mismatched_without_train_dev" not in [
        w.code for w in diagnose(table, human=["1%"], mismatched=False).warnings
    ]


def test_weighted_error_and_f1_metrics():
    table = _table({"train": 8, "dev": 60})
    w = diagnose(table, metric="weighted_error", human=["1%"])
    dev = np.asarray(table["split"]) == "dev"
    wrong = (table["y_true"] != table["y_pred"])[dev]
    weights = table["weight"][dev]
    assert w.errors["dev"].value == pytest.approx(
        float(np.sum(weights * wrong) / np.sum(weights)), abs=1e-12
    )
    from sklearn.metrics import f1_score

    f = diagnose(table, metric="f1", human=["1%"])
    expected = 1 - f1_score(table["y_true"][dev], table["y_pred"][dev], average="macro")
    assert f.errors["dev"].value == pytest.approx(expected, abs=1e-12)
    assert f.errors["dev"].ci_low < f.errors["dev"].value < f.errors["dev"].ci_high
    assert f.metric.name == "f1"


def test_weighted_error_needs_a_weight_column():
    table = _table({"train": 8, "dev": 60})
    del table["weight"]
    with pytest.raises(ConfigError, match=r"--metric weighted_error needs a 'weight' column"):
        diagnose(table, metric="weighted_error")


def test_human_labels_per_annotator_and_majority(tmp_path):
    table = _table({"train": 8, "dev": 60}, n=100)
    dev_ids = table["id"][table["split"] == "dev"]
    truth = dict(zip(table["id"].tolist(), table["y_true"].tolist(), strict=True))
    rows = ["id,label,annotator"]
    for j, i in enumerate(dev_ids.tolist()):
        t = truth[i]
        rows.append(f"{i},{t if j >= 10 else (t + 1) % 3},a")  # a: 10 wrong
        rows.append(f"{i},{t if j >= 20 or j < 10 else (t + 1) % 3},b")  # b: 10 other wrong
        rows.append(f"{i},{t if j not in (25, 75) else (t + 2) % 3},c")  # c: 2 wrong
    rows.append("999999,1,a")  # id not in the predictions
    path = tmp_path / "human.csv"
    path.write_text("\n".join(rows) + "\n")
    d = diagnose(table, human_labels=path)
    refs = {r.name: r for r in d.human_level.references}
    assert refs["annotator a"].value == 10 / 100 and refs["annotator a"].n == 100
    assert refs["annotator b"].value == 10 / 100
    assert refs["annotator c"].value == 2 / 100
    # majority vote: every example has at most one wrong vote out of three
    assert refs["majority vote"].value == 0.0
    assert d.human_level.bayes_proxy.name == "majority vote"
    lo, hi = _wilson(2, 100)
    assert (refs["annotator c"].ci_low, refs["annotator c"].ci_high) == pytest.approx(
        (lo, hi), abs=1e-12
    )
    assert "human_labels_unmatched" in [w.code for w in d.warnings]


def test_human_labels_bad_input(tmp_path):
    table = _table({"train": 8, "dev": 60}, n=50)
    path = tmp_path / "h.csv"
    path.write_text("id,label\n123456,1\n")
    with pytest.raises(InputError, match=r"h.csv: none of its ids is in the predictions table"):
        diagnose(table, human_labels=path)
    path.write_text("idx,label\n1,1\n")
    with pytest.raises(InputError, match=r"missing"):
        diagnose(table, human_labels=path)
    no_id = dict(table)
    del no_id["id"]
    path.write_text("id,label\n1,1\n")
    with pytest.raises(InputError, match=r"no 'id' column; --human-labels are joined"):
        diagnose(no_id, human_labels=path)


def test_unknown_split_in_predictions():
    table = _table({"train": 8, "dev": 60}, n=20)
    table["split"] = np.where(table["split"] == "dev", "holdout", table["split"])
    with pytest.raises(
        InputError, match=r"unknown value\(s\) 'holdout'; allowed: train, train_dev, dev, test"
    ):
        diagnose(table)


def test_predictions_and_errors_are_exclusive():
    with pytest.raises(ConfigError, match="not both"):
        diagnose(_table({"dev": 1}, n=10), errors="dev=1%")

"""Dev against test (docs/method.md §1, rule 1): when they come from different distributions the
test - dev gap is reported as "dev and test differ", not dev overfitting."""

from __future__ import annotations

import json
from functools import lru_cache

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.datasets import load_breast_cancer, load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from typer.testing import CliRunner

from mlstrat import diagnose
from mlstrat.cli import app
from mlstrat.diagnosis._devtest import label_test


def test_label_test_against_scipy():
    two = label_test({"a": 40, "b": 60}, {"a": 70, "b": 30})
    assert two["method"] == "fisher exact"
    assert two["p_value"] == pytest.approx(stats.fisher_exact([[40, 60], [70, 30]]).pvalue, rel=1e-12)
    many = label_test({0: 30, 1: 30, 2: 40}, {0: 50, 1: 30})  # class 2 absent from test
    assert many["method"] == "chi-square"
    expected = stats.chi2_contingency([[30, 30, 40], [50, 30, 0]]).pvalue
    assert many["p_value"] == pytest.approx(expected, rel=1e-12)
    assert many["test"] == {"0": 50, "1": 30, "2": 0}
    assert label_test({"a": 50, "b": 50}, {"a": 50, "b": 50})["p_value"] == pytest.approx(1.0)


@lru_cache(maxsize=None)  # one fit per case: the tables are only read
def _digits(later_period: bool) -> pd.DataFrame:
    """Digits: dev drawn at random; test from a 'later period' holding only digits 0-4."""
    x, y = load_digits(return_X_y=True)
    order = np.random.default_rng(0).permutation(len(y))
    fit, dev, rest = order[:900], order[900:1300], order[1300:]
    test = rest[y[rest] < 5] if later_period else rest
    model = LogisticRegression(max_iter=2000).fit(x[fit], y[fit])
    frames = [pd.DataFrame({"split": s, "y_true": y[i], "y_pred": model.predict(x[i])})
              for s, i in (("train", fit), ("dev", dev), ("test", test))]
    out = pd.concat(frames, ignore_index=True)
    out.insert(0, "id", np.arange(len(out)))
    return out


def test_test_split_from_a_later_period_is_not_dev_overfitting():
    table = _digits(True)
    d = diagnose(table, human=["0%"], test=True, store=False)
    c = d.components["dev_overfitting"]
    err = (table.y_true != table.y_pred).groupby(table.split).mean()
    assert (c.status, c.significant) == ("undetermined", None)
    assert c.value == pytest.approx(err["test"] - err["dev"], abs=1e-12)
    assert c.reason.startswith("dev and test differ: their label distributions differ (chi-square test")
    check = d.dev_test_check.to_dict()
    assert check["differ"] is True and check["labels"]["test"]["9"] == 0
    assert d.actions[0].id == "rebuild_dev_test"
    assert "Dev and test differ: the test - dev gap" in d.verdict
    assert "dev_overfitting" not in d.problems


def test_dev_and_test_from_one_distribution_diagnosed_as_before():
    d = diagnose(_digits(False), human=["0%"], test=True, store=False)
    assert d.components["dev_overfitting"].status == "computed"
    assert d.dev_test_check.differ is False and d.dev_test_check.labels["p_value"] > 0.05
    assert "rebuild_dev_test" not in [a.id for a in d.actions]
    sealed = diagnose(_digits(True), human=["0%"], store=False)  # test sealed: nothing compared
    assert sealed.to_dict()["dev_test_check"] == {"labels": None, "domain_auc": None,
                                                  "differ": None, "reason": None}


def _breast_cancer(path, *, shifted: bool) -> None:
    """Breast cancer: test measured by a later instrument reading 15% higher (when ``shifted``);
    the table carries the predicted probabilities."""
    x, y = load_breast_cancer(return_X_y=True)
    order = np.random.default_rng(0).permutation(len(y))
    fit, dev, test = order[:300], order[300:430], order[430:]
    x = x.copy()
    if shifted:
        x[test] *= 1.15
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(x[fit], y[fit])
    frames = []
    for split, rows in (("train", fit), ("dev", dev), ("test", test)):
        p = model.predict_proba(x[rows])
        frames.append(pd.DataFrame({"split": split, "y_true": y[rows], "y_pred": p.argmax(1),
                                    "proba_0": p[:, 0], "proba_1": p[:, 1]}))
    out = pd.concat(frames, ignore_index=True)
    out.insert(0, "id", np.arange(len(out)))
    out.to_csv(path, index=False)


def test_cli_domain_classifier_sees_a_shifted_test_split(tmp_path):
    path = tmp_path / "pred.csv"
    _breast_cancer(path, shifted=True)
    args = ["diagnose", str(path), "--human", "0%", "--test", "--no-record",
            "--store", str(tmp_path / "s.db"), "--json", "--fail-on", "dev_overfitting"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output  # an undetermined gap never trips --fail-on
    doc = json.loads(result.stdout)
    check = doc["dev_test_check"]
    assert check["labels"]["method"] == "fisher exact" and check["labels"]["p_value"] > 0.05
    assert check["domain_auc"]["ci_low"] > 0.5 and check["differ"] is True
    assert doc["components"]["dev_overfitting"]["status"] == "undetermined"
    assert doc["actions"][0]["id"] == "rebuild_dev_test"


def test_cli_domain_classifier_at_chance_on_one_distribution(tmp_path):
    path = tmp_path / "pred.csv"
    _breast_cancer(path, shifted=False)
    result = CliRunner().invoke(app, ["diagnose", str(path), "--human", "0%", "--test", "--no-record",
                                      "--store", str(tmp_path / "s.db"), "--json"])
    doc = json.loads(result.stdout)
    assert doc["dev_test_check"]["domain_auc"]["ci_low"] <= 0.5
    assert doc["dev_test_check"]["differ"] is False
    assert doc["components"]["dev_overfitting"]["status"] == "computed"

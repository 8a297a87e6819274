"""The test split is sealed by default; every path that reveals a test figure counts one look.

Counts are checked by hand (one per call that computes test figures, none otherwise); errors
by hand from the planted mistakes.
"""

from __future__ import annotations

import json
import warnings

import pandas as pd
import pytest
from typer.testing import CliRunner

from mlstrat._exceptions import ConfigError
from mlstrat.cli import app
from mlstrat.diagnosis import diagnose
from mlstrat.metrics import compute_metrics
from mlstrat.runs import ReusedTestSetWarning, RunStore, fingerprint_test_set, record_predictions_run

runner = CliRunner()


@pytest.fixture
def pred(tmp_path):
    rows = []
    # train 4/200 wrong, dev 10/100, test 20/100: dev overfitting 10 points
    for split, n, wrong in (("train", 200, 4), ("dev", 100, 10), ("test", 100, 20)):
        for i in range(n):
            rows.append({"id": f"{split}-{i}", "split": split, "y_true": i % 2,
                         "y_pred": (i % 2) ^ int(i < wrong)})
    path = tmp_path / "pred.parquet"
    pd.DataFrame(rows).to_parquet(path)
    return path


def _count(store, pred):
    return store.test_evaluation_count(fingerprint_test_set(pred))


def test_metrics_api_is_sealed_and_counts_each_look(pred, tmp_path):
    store = RunStore(tmp_path / "runs.db", test_reuse_threshold=2)
    sealed = compute_metrics(str(pred), store=store)
    assert list(sealed.splits) == ["train", "dev"]
    assert sealed.to_dict()["warnings"] == [{
        "code": "test_sealed",
        "message": "The test split (100 rows) is sealed: its figures are not computed. Pass "
                   "--test (test=True) for the final estimate; each look is counted.",
    }]
    assert _count(store, pred) == 0
    with pytest.raises(ConfigError, match=r"^the test split is sealed: pass --test \(test=True\)"):
        compute_metrics(str(pred), split="test", store=store)
    for look in (1, 2):
        report = compute_metrics(str(pred), test=True, store=store)
        assert report.splits["test"].error == 0.2
        assert _count(store, pred) == look
        assert [w["code"] for w in report.warnings] == ["test_split_used"]
        assert f"This is look {look} at test set test-100-" in report.warnings[0]["message"]
    with pytest.warns(ReusedTestSetWarning, match="evaluated 3 times"):
        report = compute_metrics(str(pred), split=["dev", "test"], test=True, store=store)
    assert [w["code"] for w in report.to_dict()["warnings"]] == ["test_split_used", "test_set_reused"]
    compute_metrics(str(pred), test=True, store=False)  # the caller counts it elsewhere
    assert _count(store, pred) == 3


def test_diagnose_api_is_sealed_and_diagnoses_dev_overfitting_when_asked(pred, tmp_path):
    store = RunStore(tmp_path / "runs.db")
    d = diagnose(str(pred), human=["1%"], store=store)
    assert list(d.errors) == ["train", "dev"]
    assert d.components["dev_overfitting"].status == "missing"
    assert "test_sealed" in [w.code for w in d.warnings]
    assert _count(store, pred) == 0
    d = diagnose(str(pred), human=["1%"], test=True, store=store)
    assert d.errors["test"].value == 0.2
    assert d.components["dev_overfitting"].value == pytest.approx(0.1)  # 20% - 10%, by hand
    assert d.components["dev_overfitting"].significant
    assert "dev_overfitting" in d.problems
    assert _count(store, pred) == 1
    used = next(w for w in d.to_dict()["warnings"] if w["code"] == "test_split_used")
    assert "This is look 1 at test set test-100-" in used["message"]
    # recording the diagnosis does not count the same look twice
    run = record_predictions_run("diagnose", pred, store=store, diagnosis=d, count_test=False)
    assert _count(store, pred) == 1 and run.test_evaluations == 1


def test_test_figure_given_in_errors_is_used_without_a_store(tmp_path, monkeypatch):
    monkeypatch.setenv("MLSTRAT_STORE", str(tmp_path / "never.db"))
    d = diagnose(errors="train=1%,dev=2%,test=6%", sizes="train=5000,dev=5000,test=5000",
                 human=["0.5%"])
    assert d.components["dev_overfitting"].value == 0.04 and d.principal_problem == "dev_overfitting"
    assert not (tmp_path / "never.db").exists()


def test_metrics_cli_counts_looks_and_reports_them_in_json(pred, tmp_path, monkeypatch):
    monkeypatch.setenv("MLSTRAT_TEST_REUSE_THRESHOLD", "1")
    store = tmp_path / "runs.db"
    base = ["metrics", str(pred), "--json", "--store", str(store)]
    sealed = runner.invoke(app, base)
    assert sealed.exit_code == 0, sealed.output
    assert list(json.loads(sealed.stdout)["splits"]) == ["train", "dev"]
    refused = runner.invoke(app, base + ["--split", "test"])
    assert refused.exit_code == 2 and "the test split is sealed: pass --test" in refused.output
    first = json.loads(runner.invoke(app, base + ["--test"]).stdout)
    assert [w["code"] for w in first["warnings"]] == ["test_split_used"]
    second = runner.invoke(app, base + ["--split", "test", "--test"])
    doc = json.loads(second.stdout)
    assert list(doc["splits"]) == ["test"]
    assert [w["code"] for w in doc["warnings"]] == ["test_split_used", "test_set_reused"]
    assert "evaluated 2 times (threshold 1)" in doc["warnings"][1]["message"]
    assert _count(RunStore(store), pred) == 2


def test_diagnose_and_report_cli_count_one_look_each(pred, tmp_path):
    store = tmp_path / "runs.db"
    out = runner.invoke(app, ["diagnose", str(pred), "--human", "1%", "--json", "--test",
                              "--store", str(store)])
    assert out.exit_code == 0, out.output
    doc = json.loads(out.stdout)
    assert doc["components"]["dev_overfitting"]["value"] == pytest.approx(0.1)
    assert any(w["code"] == "test_split_used" and "look 1" in w["message"] for w in doc["warnings"])
    assert _count(RunStore(store), pred) == 1  # diagnosed and recorded: one look
    report = runner.invoke(app, ["report", str(pred), "--test", "--json", "--store", str(store),
                                 "-o", str(tmp_path / "r.html")])
    assert report.exit_code == 0, report.output
    assert _count(RunStore(store), pred) == 2  # the report's diagnosis and metrics: one look
    assert "look 2 at test set" in json.loads(report.stdout)["warnings"][0]["message"]
    sealed = runner.invoke(app, ["report", str(pred), "--json", "--store", str(store),
                                 "-o", str(tmp_path / "s.html")])
    assert sealed.exit_code == 0, sealed.output
    assert _count(RunStore(store), pred) == 2
    sealed_html = (tmp_path / "s.html").read_text(encoding="utf-8")
    shown_html = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert ">test<" in shown_html and ">test<" not in sealed_html  # no test row when sealed


def test_python_warning_is_raised_once_per_look(pred, tmp_path):
    store = RunStore(tmp_path / "runs.db", test_reuse_threshold=1)
    diagnose(str(pred), test=True, store=store)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        diagnose(str(pred), test=True, store=store)
    reuse = [w for w in caught if issubclass(w.category, ReusedTestSetWarning)]
    assert len(reuse) == 1

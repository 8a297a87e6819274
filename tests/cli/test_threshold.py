import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import precision_score, recall_score
from typer.testing import CliRunner

from mlstrat.cli import app

runner = CliRunner()


@pytest.fixture
def predictions(tmp_path):
    rng = np.random.default_rng(7)
    n = 600
    split = np.array(["train"] * 200 + ["dev"] * 200 + ["test"] * 200)
    y = rng.integers(0, 2, n)
    score = 1 / (1 + np.exp(-(2 * y - 1 + rng.normal(0, 1, n))))
    path = tmp_path / "pred.csv"
    pd.DataFrame({"id": np.arange(n), "split": split, "y_true": y, "y_pred": (score >= 0.5).astype(int),
                  "proba_0": 1 - score, "proba_1": score}).to_csv(path, index=False)
    return path, y, score, split


def test_json_has_the_chosen_point(predictions):
    path, y, score, split = predictions
    result = runner.invoke(app, ["threshold", str(path), "--maximize", "recall", "--require", "precision>=80%",
                                 "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert sorted(out) == ["candidates", "dev", "feasible", "feasible_candidates", "maximize", "message",
                           "positive", "require", "rule", "score_column", "source", "test", "threshold",
                           "warnings"]
    dev = split == "dev"
    pred = (score[dev] >= out["threshold"]).astype(int)
    assert out["dev"]["precision"] == pytest.approx(precision_score(y[dev], pred), abs=1e-12)
    assert out["dev"]["recall"] == pytest.approx(recall_score(y[dev], pred), abs=1e-12)
    assert out["dev"]["precision"] >= 0.8
    # no higher recall among the thresholds that keep precision >= 80%
    for t in np.unique(score[dev]):
        p = (score[dev] >= t).astype(int)
        if precision_score(y[dev], p) >= 0.8:
            assert recall_score(y[dev], p) <= out["dev"]["recall"]
    assert out["test"] is None and out["require"] == ["precision >= 80%"] and out["positive"] == "1"
    assert [w["code"] for w in out["warnings"]] == ["test_sealed"]


def test_table_rendering(predictions):
    path, *_ = predictions
    result = runner.invoke(app, ["threshold", str(path), "--require", "fpr<=10%"])
    assert result.exit_code == 0, result.output
    assert "maximize f1 with fpr <= 10%" in " ".join(result.output.split())
    assert "Operating point (value, 95% CI below)" in result.output
    assert "The test split (200 rows) is sealed" in " ".join(result.output.split())


def test_test_split_only_with_test_and_each_look_counted(predictions, tmp_path):
    path, y, score, split = predictions
    store = tmp_path / "runs.db"
    args = ["threshold", str(path), "--require", "precision>=80%", "--json", "--store", str(store)]
    sealed = json.loads(runner.invoke(app, args).output)
    assert sealed["test"] is None
    first = json.loads(runner.invoke(app, [*args, "--test"]).output)
    second = json.loads(runner.invoke(app, [*args, "--test"]).output)
    assert first["threshold"] == sealed["threshold"]  # chosen on dev whatever the test split says
    test = split == "test"
    pred = (score[test] >= first["threshold"]).astype(int)
    assert first["test"]["n"] == 200
    assert first["test"]["precision"] == pytest.approx(precision_score(y[test], pred), abs=1e-12)
    assert "this is look 1 at test set" in first["warnings"][0]["message"].lower()
    assert "this is look 2 at test set" in second["warnings"][0]["message"].lower()


def test_infeasible_exits_1_with_one_line(predictions):
    path, *_ = predictions
    result = runner.invoke(app, ["threshold", str(path), "--require", "precision>=100%", "--require",
                                 "recall>=99%"])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("no threshold on dev meets recall >= 99%: the best achievable dev recall with "
                               "precision >= 100% is ")


def test_bare_fraction_refused_with_the_percent_suggestion(predictions):
    path, *_ = predictions
    result = runner.invoke(app, ["threshold", str(path), "--require", "precision>=0.95"])
    assert result.exit_code == 2
    assert "--require: 'precision>=0.95' gives a bare number; rates take a percent sign: write precision>=95%" in (
        " ".join(result.output.split()))
    assert "Traceback" not in result.output

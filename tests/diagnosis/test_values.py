"""Diagnosis of regression and per-example metrics (RMSE, MAE, mean:COL, ratio:NUM/DEN)."""

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import mean_absolute_error, root_mean_squared_error
from typer.testing import CliRunner

from mlstrat import ConfigError
from mlstrat.cli import app
from mlstrat.diagnosis import diagnose

#: split -> (bias of the predictions, noise sd, rows): variance is planted between train and
#: train-dev, mismatch between train-dev and dev.
PLAN = {"train": (0.0, 2.0, 4000), "train_dev": (0.0, 3.0, 1500), "dev": (2.0, 3.0, 1500)}


def _table(seed=0):
    rng = np.random.default_rng(seed)
    frames = []
    for split, (bias, sd, n) in PLAN.items():
        y = rng.normal(100, 15, n)
        frames.append(pd.DataFrame({
            "split": split, "y_true": y, "y_pred": y + rng.normal(bias, sd, n),
            "iou": np.clip(rng.normal(0.8 - 0.05 * bias - 0.02 * sd, 0.1, n), 0, 1),
        }))
    return pd.concat(frames, ignore_index=True)


def test_rmse_is_decomposed_in_its_unit():
    t = _table()
    d = diagnose(t, metric="rmse", human=["appraiser=1.5"])
    for split in PLAN:
        m = t.split == split
        assert d.errors[split].value == pytest.approx(
            root_mean_squared_error(t.y_true[m], t.y_pred[m]), rel=1e-12)
        assert d.errors[split].n == PLAN[split][2]
    c = d.components
    assert c["avoidable_bias"].value == pytest.approx(d.errors["train"].value - 1.5)
    assert c["variance"].value == pytest.approx(d.errors["train_dev"].value - d.errors["train"].value)
    assert c["data_mismatch"].value == pytest.approx(d.errors["dev"].value - d.errors["train_dev"].value)
    assert d.problems[0] == "variance" and "data_mismatch" in d.problems
    assert d.tolerance == pytest.approx(0.01 * d.errors["dev"].value)
    out = d.to_dict()
    assert out["metric"] == {"name": "rmse", "kind": "rmse", "direction": "lower_is_better",
                             "unit": "value"}
    assert out["human_level"]["bayes_proxy"] == {"name": "appraiser", "value": 1.5}
    assert "1.5 pts" not in d.verdict and "(1." in d.verdict  # figures in the unit, not points


def test_mae_matches_sklearn():
    t = _table(1)
    d = diagnose(t, metric="mae", human=["0.5"], tolerance="0.1")
    m = t.split == "dev"
    assert d.errors["dev"].value == pytest.approx(mean_absolute_error(t.y_true[m], t.y_pred[m]))
    assert d.tolerance == 0.1


def test_higher_is_better_score_decomposes_shortfalls():
    t = _table(2)
    d = diagnose(t, metric="mean:iou", higher_is_better=True, human=["annotators=0.9"])
    e = d.errors
    assert e["train"].value == pytest.approx(t.iou[t.split == "train"].mean())
    assert e["train"].ci_low < e["train"].value < e["train"].ci_high  # reported as scores
    assert d.components["avoidable_bias"].value == pytest.approx(0.9 - e["train"].value)
    assert d.components["data_mismatch"].value == pytest.approx(
        e["train_dev"].value - e["dev"].value)
    assert d.components["data_mismatch"].value > 0
    assert d.to_dict()["metric"]["direction"] == "higher_is_better"
    assert d.human_level.bayes_proxy.value == 0.9


def test_higher_is_better_needs_a_human_level():
    with pytest.raises(ConfigError, match='give the human \\(or perfect\\) level'):
        diagnose(_table(), metric="mean:iou", higher_is_better=True)


def test_figures_in_a_unit_from_errors():
    d = diagnose(errors="train=2.0,train_dev=3.1,dev=3.4", human=["1.5"], metric="rmse",
                 tolerance=0.2)
    assert d.components["variance"].value == pytest.approx(1.1)
    assert d.principal_problem == "variance"
    with pytest.raises(ConfigError, match="--sizes gives intervals of error rates only"):
        diagnose(errors="train=2.0,dev=3.4", sizes="train=100,dev=100", metric="rmse")


def test_word_error_rate_from_the_cli(tmp_path):
    rng = np.random.default_rng(3)
    n = 3000
    split = np.where(np.arange(n) < 2000, "train", "dev")
    words = rng.poisson(12, n) + 1
    errors = rng.binomial(words, np.where(split == "train", 0.08, 0.15))
    path = tmp_path / "asr.csv"
    pd.DataFrame({"split": split, "word_errors": errors, "words": words}).to_csv(path, index=False)
    result = CliRunner().invoke(app, ["diagnose", str(path), "--metric", "ratio:word_errors/words",
                                      "--human", "5%", "--json", "--no-record"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    dev = out["errors"]["dev"]
    assert dev["value"] == pytest.approx(errors[split == "dev"].sum() / words[split == "dev"].sum())
    assert out["human_level"]["bayes_proxy"]["value"] == 0.05
    assert out["principal_problem"] == "variance"
    text = CliRunner().invoke(app, ["diagnose", str(path), "--metric", "ratio:word_errors/words",
                                    "--human", "5%", "--no-record"])
    assert "sum(word_errors) / sum(words) per split (95% CI)" in text.output

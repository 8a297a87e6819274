"""A train -> dev gap between different distributions with no train-dev split is undetermined
between variance and data mismatch (docs/method.md §3): never a problem, never a --fail-on trip."""

from __future__ import annotations

import json
from functools import lru_cache

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from typer.testing import CliRunner

from mlstrat import diagnose
from mlstrat.cli import app
from mlstrat.diagnosis._decompose import CONFOUNDED_REASON, decompose
from mlstrat.diagnosis._results import ErrorEstimate


@lru_cache(maxsize=None)  # one fit per case: the tables are only read
def _digits_predictions(*, shifted_dev: bool, train_dev: bool) -> pd.DataFrame:
    """Digits: a model fit on clean 'scan' images; dev from a 'phone' domain (noisy, dimmer
    images) when ``shifted_dev``; a train-dev split from the scan pool when ``train_dev``."""
    x, y = load_digits(return_X_y=True)
    rng = np.random.default_rng(0)
    order = rng.permutation(len(y))
    fit, held, dev = order[:900], order[900:1300], order[1300:]
    model = LogisticRegression(max_iter=2000).fit(x[fit], y[fit])
    x_dev = x[dev]
    if shifted_dev:
        x_dev = np.clip(0.6 * x_dev + rng.normal(0, 4.0, x_dev.shape), 0, 16)
    parts = [("train", x[fit], y[fit], "scan"), ("dev", x_dev, y[dev], "phone" if shifted_dev else "scan")]
    if train_dev:
        parts.append(("train_dev", x[held], y[held], "scan"))
    frames = [pd.DataFrame({"split": s, "y_true": yy, "y_pred": model.predict(xx), "domain": d})
              for s, xx, yy, d in parts]
    out = pd.concat(frames, ignore_index=True)
    out.insert(0, "id", np.arange(len(out)))
    return out


def test_decompose_rule_mismatched_without_train_dev_is_undetermined():
    errors = {"train": ErrorEstimate(0.01, 0.008, 0.013, 5000),
              "dev": ErrorEstimate(0.11, 0.097, 0.1245, 2000)}
    parts = decompose(errors, ErrorEstimate(0.005), mismatched=True)
    variance, mismatch = parts["variance"], parts["data_mismatch"]
    assert (variance.status, variance.significant, variance.value) == ("undetermined", None, 0.1)
    assert variance.reason == CONFOUNDED_REASON
    assert (mismatch.status, mismatch.significant, mismatch.value) == ("undetermined", None, None)
    # the same figures from one distribution: variance as before
    plain = decompose(errors, ErrorEstimate(0.005), mismatched=False)["variance"]
    assert (plain.status, plain.significant, plain.value) == ("computed", True, 0.1)
    # a train-dev split separates them: nothing undetermined
    errors["train_dev"] = ErrorEstimate(0.015, 0.01, 0.02, 2000)
    parts = decompose(errors, ErrorEstimate(0.005), mismatched=True)
    assert parts["variance"].status == parts["data_mismatch"].status == "computed"
    assert parts["data_mismatch"].significant is True


def test_figures_mismatched_without_train_dev_lead_with_carving_a_train_dev_split():
    d = diagnose(errors="train=1%,dev=11%", sizes="train=5000,dev=2000", human=["0.5%"],
                 mismatched=True)
    assert d.problems == () and d.principal_problem is None
    assert [a.id for a in d.actions] == ["carve_train_dev"]
    assert "mlstrat split MANIFEST --domain domain --target TARGET --train-dev auto" in d.actions[0].title
    assert d.verdict.endswith(
        "The train to dev gap (10.0 pts) is undetermined between variance and data mismatch: "
        "train and dev come from different distributions and there is no train-dev split; carve "
        "one (mlstrat split --train-dev) to settle which it is.")


def test_shifted_digits_without_train_dev_is_undetermined():
    table = _digits_predictions(shifted_dev=True, train_dev=False)
    d = diagnose(table, human=["0%"])
    train_err = float((table.y_true != table.y_pred)[table.split == "train"].mean())
    dev_err = float((table.y_true != table.y_pred)[table.split == "dev"].mean())
    assert dev_err - train_err > 0.05  # a real, large gap
    variance = d.components["variance"]
    assert variance.status == "undetermined" and variance.significant is None
    assert variance.value == pytest.approx(dev_err - train_err, abs=1e-12)
    assert "variance" not in d.problems and "data_mismatch" not in d.problems
    assert d.actions[0].id == "carve_train_dev"
    assert "--domain domain --target phone --train-dev auto" in d.actions[0].title


def test_shifted_digits_with_train_dev_attributes_the_gap():
    d = diagnose(_digits_predictions(shifted_dev=True, train_dev=True), human=["0%"])
    assert d.components["variance"].status == "computed"
    assert d.principal_problem == "data_mismatch"
    assert "carve_train_dev" not in [a.id for a in d.actions]


def test_clean_digits_diagnosed_as_before():
    d = diagnose(_digits_predictions(shifted_dev=False, train_dev=False), human=["0%"])
    assert d.components["variance"].status == "computed"
    assert d.components["data_mismatch"].status == "missing"
    assert "carve_train_dev" not in [a.id for a in d.actions]


def test_cli_fail_on_variance_does_not_trip_on_an_undetermined_gap(tmp_path):
    path = tmp_path / "pred.csv"
    _digits_predictions(shifted_dev=True, train_dev=False).to_csv(path, index=False)
    runner = CliRunner()
    args = ["diagnose", str(path), "--human", "0%", "--no-record", "--store", str(tmp_path / "s.db")]
    result = runner.invoke(app, [*args, "--fail-on", "variance,data_mismatch", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["components"]["variance"]["status"] == "undetermined"
    assert out["components"]["variance"]["reason"] == CONFOUNDED_REASON
    assert out["actions"][0]["id"] == "carve_train_dev"


def test_report_sections_name_why_data_mismatch_is_undetermined():
    from mlstrat.display._sections import components_section

    d = diagnose(errors="train=1%,dev=11%", sizes="train=5000,dev=2000", human=["0.5%"],
                 mismatched=True)
    rows = {r["key"]: r for r in components_section(d.to_dict())}
    assert rows["data_mismatch"]["value_text"] == "undetermined (no train-dev split)"
    assert rows["variance"]["problem"] is False

"""ROC / precision-recall / calibration in the report, and a report from a run directory as
complete as from its run id."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from mlstrat.report import report_inputs
from mlstrat.report._proba import probability_curves
from mlstrat.runs import RunStore, record_predictions_run


def _binary(path, n=600, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    p1 = np.clip(0.5 + (y - 0.5) * rng.uniform(0, 0.9, n), 0.01, 0.99)
    frame = pd.DataFrame({"id": np.arange(n), "split": np.array(["train", "dev"])[np.arange(n) % 2],
                          "y_true": y, "y_pred": (p1 >= 0.5).astype(int), "proba_0": 1 - p1, "proba_1": p1})
    frame.to_parquet(path)
    return frame


def test_binary_curves_match_sklearn(tmp_path):
    frame = _binary(tmp_path / "p.parquet")
    dev = frame[frame.split == "dev"]
    curves = probability_curves(tmp_path / "p.parquet")
    assert curves["split"] == "dev" and curves["n"] == len(dev)
    assert curves["roc_auc"] == pytest.approx(roc_auc_score(dev.y_true, dev.proba_1))
    assert curves["average_precision"] == pytest.approx(average_precision_score(dev.y_true, dev.proba_1))
    assert curves["svg"].startswith("<svg") and "http" not in curves["svg"].replace("http://www.w3.org", "")


def test_no_probabilities_no_curves(tmp_path):
    frame = _binary(tmp_path / "p.parquet").drop(columns=["proba_0", "proba_1"])
    frame.to_parquet(tmp_path / "q.parquet")
    assert probability_curves(tmp_path / "q.parquet") is None


def test_run_directory_report_is_as_complete_as_the_run_id(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    preds = run_dir / "predictions.parquet"
    _binary(preds)
    # the trainer's short metrics.json (split names as keys): no confusion matrix in it
    (run_dir / "metrics.json").write_text(json.dumps({"dev": {"n": 300, "error": 0.2, "accuracy": 0.8}}))
    (run_dir / "history.json").write_text(json.dumps({"epochs": [{"epoch": 1, "train_error": 0.3, "dev_error": 0.3}]}))
    from mlstrat.diagnosis import diagnose
    from mlstrat.metrics import compute_metrics

    store = RunStore(tmp_path / "runs.db")
    run = record_predictions_run("train", preds, store=store, metrics=compute_metrics(str(preds)),
                                 diagnosis=diagnose(str(preds), human=["2%"]), artifacts=run_dir)
    by_dir = report_inputs(run_dir, store=store)
    by_id = report_inputs(run.id, store=store)
    assert by_dir.sections() == by_id.sections()
    assert {"confusion matrix", "probability curves", "learning curves", "diagnosis"} <= set(by_dir.sections())
    assert by_dir.diagnosis["human_level"] == run.diagnosis["human_level"]  # the recorded 2%, not 0 assumed


def _scores(kind, n, rng):
    """(truth, score) of a model: well separated, confident (scores pressed at 0 and 1), weak."""
    y = rng.integers(0, 2, n)
    if kind == "separated":
        score = 1 / (1 + np.exp(-(rng.normal(size=n) + 2.5 * (y - 0.5))))
    elif kind == "confident":
        score = 1 / (1 + np.exp(-(rng.normal(size=n) * 3 + 12 * (y - 0.5))))
    else:
        score = rng.uniform(0, 1, n) * 0.6 + 0.4 * y * rng.uniform(0, 1, n)
    return y, score


@pytest.mark.parametrize("kind", ["separated", "confident", "weak"])
def test_binned_auc_is_within_its_bound_of_sklearn(tmp_path, kind):
    rng = np.random.default_rng(3)
    y, score = _scores(kind, 20_000, rng)
    frame = pd.DataFrame({"id": np.arange(len(y)), "split": "dev", "y_true": y, "y_pred": (score >= 0.5).astype(int),
                          "proba_0": 1 - score, "proba_1": score})
    frame.to_parquet(tmp_path / "p.parquet")
    curves = probability_curves(tmp_path / "p.parquet")
    exact = roc_auc_score(y, score)
    # the bound: half the share of (positive, negative) pairs that share one of the 10 000 bins
    b = np.minimum((score * 10_000).astype(int), 9_999)
    pos, neg = np.bincount(b[y == 1], minlength=10_000), np.bincount(b[y == 0], minlength=10_000)
    bound = 0.5 * (pos * neg).sum() / ((y == 1).sum() * (y == 0).sum())
    assert curves["roc_auc_bound"] == pytest.approx(bound, rel=1e-12)
    assert abs(curves["roc_auc"] - exact) <= bound + 1e-12
    assert bound < 1e-3  # 10 000 bins: the stated tolerance on these models
    assert curves["average_precision"] == pytest.approx(average_precision_score(y, score), abs=1e-3)


def test_the_bound_is_reached_when_every_score_shares_one_bin(tmp_path):
    n = 400
    y = np.arange(n) % 2
    score = 0.5 + 1e-6 * y  # perfectly ordered, but within one bin
    frame = pd.DataFrame({"id": np.arange(n), "split": "dev", "y_true": y, "y_pred": y,
                          "proba_0": 1 - score, "proba_1": score})
    frame.to_parquet(tmp_path / "p.parquet")
    curves = probability_curves(tmp_path / "p.parquet")
    assert roc_auc_score(y, score) == 1.0
    assert curves["roc_auc"] == pytest.approx(0.5) and curves["roc_auc_bound"] == pytest.approx(0.5)


@pytest.mark.parametrize("k", [2, 4])
def test_calibration_and_multiclass_auc_match_sklearn(tmp_path, k, monkeypatch):
    from sklearn.calibration import calibration_curve

    from mlstrat.report import _proba

    rng = np.random.default_rng(k)
    n = 3000
    y = rng.integers(k, size=n)
    logits = rng.normal(size=(n, k)) + 2.0 * np.eye(k)[y]
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    frame = pd.DataFrame({"id": np.arange(n), "split": "dev", "y_true": y, "y_pred": proba.argmax(1)})
    frame = frame.assign(**{f"proba_{j}": proba[:, j] for j in range(k)})
    frame.to_parquet(tmp_path / "p.parquet")
    drawn = {}
    monkeypatch.setattr(_proba, "_draw", lambda *a, **kw: drawn.update(args=a) or "<svg/>")
    curves = probability_curves(tmp_path / "p.parquet")
    onehot = np.eye(k)[y]
    if k == 2:
        truth, score, hit, confidence = onehot[:, 1], proba[:, 1], onehot[:, 1], proba[:, 1]
    else:
        truth, score = onehot.ravel(), proba.ravel()
        hit, confidence = (proba.argmax(1) == y).astype(int), proba.max(1)
    frac_pos, mean_pred = calibration_curve(hit, confidence, n_bins=10, strategy="uniform")
    np.testing.assert_allclose(drawn["args"][4], mean_pred, rtol=1e-9)
    np.testing.assert_allclose(drawn["args"][5], frac_pos, rtol=1e-12)
    assert abs(curves["roc_auc"] - roc_auc_score(truth, score)) <= curves["roc_auc_bound"] + 1e-12

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

"""Runs exported to a real local MLflow store and read back with MLflow's own client."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from mlstrat.diagnosis import diagnose
from mlstrat.metrics import compute_metrics
from mlstrat.integrations import export_to_mlflow
from mlstrat.runs import RunStore, record_predictions_run

mlflow = pytest.importorskip("mlflow")
from mlflow.tracking import MlflowClient  # noqa: E402


def _predictions(path, seed=0, n=400):
    rng = np.random.default_rng(seed)
    split = np.array(["train", "train_dev", "dev", "test"])[np.arange(n) % 4]
    y = rng.integers(0, 2, n)
    flip = rng.random(n) < np.select([split == "train", split == "train_dev"], [0.05, 0.10], 0.25)
    frame = pd.DataFrame({"id": np.arange(n), "split": split, "y_true": y, "y_pred": np.where(flip, 1 - y, y)})
    frame.to_parquet(path)
    return path


@pytest.fixture(autouse=True)
def _artifacts_under_tmp(tmp_path, monkeypatch):
    """A SQLite tracking store keeps artifacts under ./mlruns of the working directory."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="module")
def uri(tmp_path_factory):
    """One SQLite tracking store for the module (creating one runs MLflow's migrations: slow)."""
    return f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"


@pytest.fixture
def recorded(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    preds = _predictions(tmp_path / "p.parquet")
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "history.json").write_text(json.dumps({"epochs": [
        {"epoch": 1, "train_error": 0.3, "dev_error": 0.35}, {"epoch": 2, "train_error": 0.1, "dev_error": 0.3}]}))
    store = RunStore(tmp_path / "runs.db")
    run = record_predictions_run("train", preds, store=store, config={"optim": {"lr": 0.01, "epochs": 2}},
                                 metrics=compute_metrics(str(preds), test=True, store=False),
                                 diagnosis=diagnose(str(preds), human=["1%"], test=True, store=False),
                                 artifacts=run_dir, note="baseline")
    return store, run


def test_export_reads_back_with_mlflows_client(recorded, tmp_path, uri):
    store, run = recorded
    result = export_to_mlflow(run, tracking_uri=uri, experiment="readback")
    assert result.created
    client = MlflowClient(tracking_uri=uri)
    got = client.get_run(result.mlflow_run_id)
    assert got.data.params["optim.lr"] == "0.01" and got.data.params["optim.epochs"] == "2"
    assert got.data.params["mlstrat.kind"] == "train"
    for split, err in run.errors().items():
        assert got.data.metrics[f"{split}.error"] == pytest.approx(err["value"])
        assert got.data.metrics[f"{split}.error_ci_low"] == pytest.approx(err["ci_low"])
    for name, comp in run.components().items():
        assert got.data.metrics[f"component.{name}"] == pytest.approx(comp["value"])
    assert got.data.metrics["dev.accuracy"] == pytest.approx(run.metrics["splits"]["dev"]["accuracy"])
    history = client.get_metric_history(result.mlflow_run_id, "history.dev_error")
    assert [(m.step, m.value) for m in history] == [(1, 0.35), (2, 0.3)]
    assert got.data.tags["mlstrat.principal_problem"] == run.diagnosis["principal_problem"]
    assert got.data.tags["mlstrat.test_set_evaluations"] == "1"
    assert got.data.tags["mlstrat.run_id"] == run.id and got.info.run_name == "baseline"
    assert got.info.status == "FINISHED"
    names = {a.path for a in client.list_artifacts(result.mlflow_run_id)}
    assert {"diagnosis.json", "metrics.json", "config.json", "report.html"} <= names
    local = client.download_artifacts(result.mlflow_run_id, "diagnosis.json", str(tmp_path))
    assert json.loads(open(local).read())["principal_problem"] == run.diagnosis["principal_problem"]

    again = export_to_mlflow(run, tracking_uri=uri, experiment="readback")
    assert not again.created and again.mlflow_run_id == result.mlflow_run_id
    assert len(client.search_runs([result.experiment_id])) == 1


def test_sheet_summary_is_attached(recorded, tmp_path, uri):
    from mlstrat.errors import sample_errors

    store, run = recorded
    sheet = tmp_path / "sheet.csv"
    sample_errors(tmp_path / "p.parquet", n=5, categories="blurry", output=sheet)
    result = export_to_mlflow(run, tracking_uri=uri, sheets=[sheet], report=False, experiment="sheets")
    client = MlflowClient(tracking_uri=uri)
    local = client.download_artifacts(result.mlflow_run_id, "error_summary_sheet.json", str(tmp_path))
    summary = json.loads(open(local).read())
    assert summary["sample_size"] == 5 and summary["split"] == "dev"


def test_recording_logs_automatically_when_the_tracking_uri_is_set(tmp_path, monkeypatch, uri):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    preds = _predictions(tmp_path / "p.parquet", seed=3)
    run = record_predictions_run("diagnose", preds, store=RunStore(tmp_path / "runs.db"),
                                 diagnosis=diagnose(str(preds)))
    client = MlflowClient(tracking_uri=uri)
    exp = client.get_experiment_by_name("mlstrat")
    (found,) = client.search_runs([exp.experiment_id], filter_string=f"tags.`mlstrat.run_id` = '{run.id}'")
    assert found.data.tags["mlstrat.run_id"] == run.id
    assert found.data.metrics["dev.error"] == pytest.approx(run.errors()["dev"]["value"])


def test_unreachable_tracker_warns_and_keeps_the_run(tmp_path, monkeypatch):
    from mlstrat._exceptions import MlstratWarning

    monkeypatch.setenv("MLFLOW_TRACKING_URI", "nosuchscheme://nowhere")
    preds = _predictions(tmp_path / "p.parquet", seed=4)
    store = RunStore(tmp_path / "runs.db")
    with pytest.warns(MlstratWarning, match=r"MLflow export of run [0-9a-f]{8} skipped, the run is recorded "
                                            r"locally: nosuchscheme://nowhere is not a tracking URI MLflow supports"):
        run = record_predictions_run("diagnose", preds, store=store, diagnosis=diagnose(str(preds)))
    assert store.get(run.id).id == run.id


def test_cli_export_with_and_without_uri(recorded, tmp_path, monkeypatch, uri):
    from mlstrat.cli import app

    store, run = recorded
    res = CliRunner().invoke(app, ["runs", "export", run.id[:6], "--store", str(store.path), "--mlflow", uri,
                                   "--experiment", "cli", "--json"])
    assert res.exit_code == 0, res.output
    (first,) = json.loads(res.stdout)
    assert first["created"] and first["tracking_uri"] == uri
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    res = CliRunner().invoke(app, ["runs", "export", "latest", "--store", str(store.path), "--experiment", "cli",
                                   "--mlflow"])
    assert res.exit_code == 0, res.output
    assert res.stdout.startswith(f"run {run.id[:8]} already exported: MLflow run {first['mlflow_run_id']}")
    res = CliRunner().invoke(app, ["runs", "export", "latest", "--store", str(store.path)])
    assert res.exit_code == 2 and "runs export: say where to: --mlflow [TRACKING_URI]" in res.output

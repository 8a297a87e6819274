"""``runs export`` killed with SIGKILL, then run again: the second export completes, and MLflow
holds exactly one complete run per mlstrat run.

The exporting process is a real ``mlstrat runs export`` in its own session; a stand-in for one
of MLflow's steps writes a marker and waits, so the kill lands at a known point (while MLflow
builds its database, or while the run's artifacts are being written) without sleeps."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from mlstrat.diagnosis import diagnose
from mlstrat.runs import RunStore, record_predictions_run
from tests.runs.test_mlflow import _predictions

mlflow = pytest.importorskip("mlflow")
from mlflow.tracking import MlflowClient  # noqa: E402

_EXPORT_UNTIL_MARKER = """
import sys, threading
marker, stage, *args = sys.argv[1:]

def stop_here(*_, **__):
    open(marker, "w").close()
    threading.Event().wait()  # until killed

if stage == "building":  # MLflow has created its first tables, the migrations are next
    import mlflow.store.db.utils as db_utils
    db_utils._upgrade_db = stop_here
else:  # the MLflow run exists, its artifacts are being written
    from mlstrat.integrations import _mlflow
    _mlflow._write_artifacts = stop_here
from mlstrat.cli import app
app(args)
"""


def _kill_at(stage: str, args: list[str], cwd) -> None:
    marker = cwd / f"{stage}.ready"
    proc = subprocess.Popen([sys.executable, "-c", _EXPORT_UNTIL_MARKER, str(marker), stage, *args], cwd=cwd,
                            start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        give_up = time.monotonic() + 120  # a guard against a test that would never end, not a sync point
        while not marker.exists():
            if proc.poll() is not None:
                pytest.fail(f"the export ended before the marker: {proc.communicate()[1].decode()[-2000:]}")
            if time.monotonic() > give_up:
                pytest.fail("the export never reached the marker")
            time.sleep(0.02)
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
    assert proc.returncode == -signal.SIGKILL


@pytest.fixture
def two_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # MLflow keeps the artifacts of a SQLite store under ./mlruns
    preds = _predictions(tmp_path / "p.parquet", seed=11)
    store = RunStore(tmp_path / "runs.db")
    runs = [record_predictions_run("diagnose", preds, store=store, diagnosis=diagnose(str(preds)), note=note)
            for note in ("first", "second")]
    return store, runs


def _complete_exports(uri: str, runs) -> dict[str, list[str]]:
    client = MlflowClient(tracking_uri=uri)
    (experiment,) = [e for e in client.search_experiments() if e.name == "mlstrat"]
    found = client.search_runs([experiment.experiment_id])  # deleted runs are not listed
    assert all(r.info.status == "FINISHED" for r in found)
    return {run.id: sorted(r.info.run_id for r in found if r.data.tags["mlstrat.run_id"] == run.id)
            for run in runs}


def _export(store, uri, *ids):
    from typer.testing import CliRunner

    from mlstrat.cli import app

    return CliRunner().invoke(app, ["runs", "export", *ids, "--store", str(store.path), "--mlflow", uri])


@pytest.mark.slow
def test_export_killed_while_mlflow_builds_its_database(two_runs, tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    store, runs = two_runs
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    _kill_at("building", ["runs", "export", *[r.id for r in runs], "--store", str(store.path), "--mlflow", uri],
             tmp_path)
    assert not (tmp_path / "mlflow.db").exists()  # never a half-built database under its own name
    done = _export(store, uri, *[r.id for r in runs])
    assert done.exit_code == 0, done.output
    assert done.stdout.count(" exported: MLflow run ") == 2
    exports = _complete_exports(uri, runs)
    assert all(len(ids) == 1 for ids in exports.values()), exports
    assert [p.name for p in tmp_path.iterdir() if "mlstrat-building" in p.name] == []  # the dead build removed


@pytest.mark.slow
def test_export_killed_while_writing_a_run(two_runs, tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    store, runs = two_runs
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    MlflowClient(tracking_uri=uri).create_experiment("mlstrat")  # the database exists already
    _kill_at("artifacts", ["runs", "export", runs[0].id, "--store", str(store.path), "--mlflow", uri], tmp_path)
    done = _export(store, uri, *[r.id for r in runs])
    assert done.exit_code == 0, done.output
    assert done.stdout.count(" exported: MLflow run ") == 2, done.stdout  # not "already exported"
    exports = _complete_exports(uri, runs)
    assert all(len(ids) == 1 for ids in exports.values()), exports

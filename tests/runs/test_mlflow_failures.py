"""MLflow exports under failure: the run store refused, failed exports completed by the next
one, every MLflow failure one line, and no waiting on servers that do not answer."""

from __future__ import annotations

import os
import re
import sqlite3

import pytest
from typer.testing import CliRunner

from mlstrat._exceptions import ConfigError, MlstratWarning
from mlstrat.cli import app
from mlstrat.diagnosis import diagnose
from mlstrat.integrations import export_to_mlflow
from mlstrat.runs import RunStore, record_predictions_run
from tests._servers import refused_port, silent_server
from tests.runs.test_mlflow import _predictions

mlflow = pytest.importorskip("mlflow")
from mlflow.entities import ViewType  # noqa: E402
from mlflow.tracking import MlflowClient  # noqa: E402

HTTP_VARIABLES = ("MLFLOW_HTTP_REQUEST_TIMEOUT", "MLFLOW_HTTP_REQUEST_MAX_RETRIES",
                  "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR")


@pytest.fixture(autouse=True)
def _clean_environment(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # MLflow's SQLite store keeps artifacts under ./mlruns
    for name in ("MLFLOW_TRACKING_URI", "DATABRICKS_HOST", "DATABRICKS_TOKEN", "MLFLOW_ALLOW_FILE_STORE",
                 *HTTP_VARIABLES):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.databrickscfg


@pytest.fixture(scope="module")
def uri(tmp_path_factory):
    return f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"


@pytest.fixture
def recorded(tmp_path):
    preds = _predictions(tmp_path / "p.parquet", seed=7)
    store = RunStore(tmp_path / "store" / "runs.db")
    run = record_predictions_run("diagnose", preds, store=store, diagnosis=diagnose(str(preds)))
    return store, run


def _export_cli(store, *args):
    return CliRunner().invoke(app, ["runs", "export", "latest", "--store", str(store.path), *args])


def _one_line(output: str) -> str:
    return " ".join(output.split())


def test_exporting_into_the_run_store_is_refused(recorded, tmp_path):
    store, _ = recorded
    for target in (f"sqlite:///{store.path}", "sqlite:///store/runs.db", "sqlite:///store/runs.db?mode=rw"):
        r = _export_cli(store, "--mlflow", target)
        assert r.exit_code == 2, r.output
        assert _one_line(r.output) == (
            f"Error: MLflow: {target} is mlstrat's run store, which holds mlstrat's runs alone; export "
            "to another database, e.g. --mlflow sqlite:///mlflow.db")
    tables = {name for (name,) in sqlite3.connect(store.path).execute(
        "SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert "alembic_version" not in tables and "experiments" not in tables


def test_a_failed_export_is_completed_by_the_next(recorded, uri, monkeypatch):
    from mlstrat.integrations import _mlflow

    _, run = recorded
    real = _mlflow._write_artifacts

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(_mlflow, "_write_artifacts", full_disk)
    with pytest.raises(ConfigError, match=re.escape(
            f"MLflow: the export to {uri} failed ([Errno 28] No space left on device); check the tracking URI")):
        export_to_mlflow(run, tracking_uri=uri, experiment="resume")
    monkeypatch.setattr(_mlflow, "_write_artifacts", real)
    again = export_to_mlflow(run, tracking_uri=uri, experiment="resume")
    assert again.created
    client = MlflowClient(tracking_uri=uri)
    assert client.get_run(again.mlflow_run_id).info.status == "FINISHED"
    assert {a.path for a in client.list_artifacts(again.mlflow_run_id)} >= {"diagnosis.json", "report.html"}
    active = client.search_runs([again.experiment_id], filter_string=f"tags.`mlstrat.run_id` = '{run.id}'")
    assert [r.info.run_id for r in active] == [again.mlflow_run_id]
    everything = client.search_runs([again.experiment_id], run_view_type=ViewType.ALL)
    assert sorted(r.info.status for r in everything) == ["FAILED", "FINISHED"]  # the failed one is deleted
    third = export_to_mlflow(run, tracking_uri=uri, experiment="resume")
    assert not third.created and third.mlflow_run_id == again.mlflow_run_id


@pytest.mark.parametrize(("target", "expected"), [
    ("nosuchscheme://nowhere", "Error: MLflow: nosuchscheme://nowhere is not a tracking URI MLflow supports; "
                               "use sqlite:///PATH/mlflow.db, http(s)://HOST:PORT or databricks (--mlflow or "
                               "MLFLOW_TRACKING_URI)"),
    ("databricks", "Error: MLflow: databricks: no Databricks credentials; set DATABRICKS_HOST and "
                   "DATABRICKS_TOKEN (or run 'databricks auth login')"),
    ("{tmp}/folder", "Error: MLflow: {tmp}/folder is a folder (a file store), which MLflow 3 refuses; use a "
                     "database such as --mlflow sqlite:///mlflow.db (or set MLFLOW_ALLOW_FILE_STORE=true)"),
    ("file://{tmp}/folder", "Error: MLflow: file://{tmp}/folder is a folder (a file store), which MLflow 3 "
                            "refuses; use a database such as --mlflow sqlite:///mlflow.db (or set "
                            "MLFLOW_ALLOW_FILE_STORE=true)"),
    ("sqlite:///{tmp}/p.parquet/mlflow.db", "Error: MLflow: sqlite:///{tmp}/p.parquet/mlflow.db: cannot create "
                                            "the folder {tmp}/p.parquet (File exists); choose another database "
                                            "path (--mlflow sqlite:///PATH/mlflow.db)"),
])
def test_every_mlflow_failure_is_one_line(recorded, tmp_path, target, expected):
    store, _ = recorded
    target = target.format(tmp=tmp_path)
    r = _export_cli(store, "--mlflow", target)
    assert r.exit_code == 2, r.output
    assert _one_line(r.output) == expected.format(tmp=tmp_path)


def test_a_damaged_database_is_one_line(recorded, tmp_path):
    store, _ = recorded
    db = tmp_path / "half.db"
    conn = sqlite3.connect(db)  # what an export killed by an older mlstrat left: some tables only
    conn.execute("CREATE TABLE experiments (experiment_id INTEGER PRIMARY KEY, name TEXT)")
    conn.commit()
    conn.close()
    r = _export_cli(store, "--mlflow", f"sqlite:///{db}")
    assert r.exit_code == 2, r.output
    assert _one_line(r.output) == (
        f"Error: MLflow: the database at sqlite:///{db} cannot be used (no such column: "
        "experiments.artifact_location); it may be damaged or from another MLflow version: export to a new "
        "one (--mlflow sqlite:///NEW.db)")


def _unreachable_line(url: str, cause: str = "Connection refused") -> str:
    return (rf"MLflow: no tracking server answered at {re.escape(url)} \({re.escape(cause)}\); start it or fix the URI "
            r"\(--mlflow or MLFLOW_TRACKING_URI\); MLFLOW_HTTP_REQUEST_TIMEOUT sets the wait")


def test_a_refused_connection_is_one_line_without_minutes_of_retries(recorded):
    store, _ = recorded
    url = f"http://127.0.0.1:{refused_port()}"
    r = _export_cli(store, "--mlflow", url)
    assert r.exit_code == 2, r.output
    assert re.fullmatch("Error: " + _unreachable_line(url), _one_line(r.output)), r.output


def test_a_server_that_never_answers_is_one_line(recorded, monkeypatch):
    store, _ = recorded
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "1")  # the user's own setting wins over mlstrat's 10 s
    with silent_server() as port:
        url = f"http://127.0.0.1:{port}"
        r = _export_cli(store, "--mlflow", url)
    assert r.exit_code == 2, r.output
    assert re.fullmatch("Error: " + _unreachable_line(url, "Read timed out"), _one_line(r.output)), r.output


def test_http_settings_are_bounded_for_mlstrats_calls_only(monkeypatch):
    from mlstrat.integrations._mlflow import HTTP_DEFAULTS, bounded_http

    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "3")
    with bounded_http():
        assert {name: os.environ[name] for name in HTTP_VARIABLES} == {
            "MLFLOW_HTTP_REQUEST_TIMEOUT": HTTP_DEFAULTS["MLFLOW_HTTP_REQUEST_TIMEOUT"],
            "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "3",
            "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": HTTP_DEFAULTS["MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR"]}
        from mlflow.environment_variables import MLFLOW_HTTP_REQUEST_TIMEOUT

        assert MLFLOW_HTTP_REQUEST_TIMEOUT.get() == 10  # what MLflow itself reads
    assert "MLFLOW_HTTP_REQUEST_TIMEOUT" not in os.environ
    assert os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] == "3"


def test_diagnose_with_an_unreachable_tracker_records_and_says_export_skipped(tmp_path, monkeypatch):
    preds = _predictions(tmp_path / "p.parquet", seed=8)
    url = f"http://127.0.0.1:{refused_port()}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", url)
    store = tmp_path / "runs.db"
    r = CliRunner().invoke(app, ["diagnose", str(preds), "--store", str(store)])
    assert r.exit_code == 0, r.output
    (run,) = RunStore(store).list()
    (line,) = [ln for ln in r.stderr.splitlines() if "MLflow" in ln]
    assert re.fullmatch(
        rf"Warning: MLflow export of run {run.short_id} skipped, the run is recorded locally: "
        + _unreachable_line(url).removeprefix("MLflow: ")
        + rf"; retry with 'mlstrat runs export {run.short_id} --mlflow'", line), r.stderr


def test_recording_into_the_run_store_as_tracker_is_skipped(tmp_path, monkeypatch):
    preds = _predictions(tmp_path / "p.parquet", seed=9)
    store = RunStore(tmp_path / "runs.db")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{store.path}")
    record_predictions_run("diagnose", preds, store=store, diagnosis=diagnose(str(preds)))  # creates the store
    with pytest.warns(MlstratWarning, match=r"MLflow export of run [0-9a-f]{8} skipped, the run is recorded "
                                            r"locally: sqlite:///.+ is mlstrat's run store"):
        run = record_predictions_run("diagnose", preds, store=store, diagnosis=diagnose(str(preds)))
    assert store.get(run.id).id == run.id


def test_train_with_an_unreachable_tracker_records_and_says_export_skipped(tmp_path, monkeypatch):
    import pyarrow.parquet as pq

    from tests.nn.conftest import split_digits

    pq.write_table(split_digits(), tmp_path / "split.parquet")
    (tmp_path / "digits.toml").write_text('[data]\nmanifest = "split.parquet"\nfeature_prefix = "px_"\n'
                                          "[model]\nhidden = [8]\n[optim]\nepochs = 1\nlr = 0.01\n")
    url = f"http://127.0.0.1:{refused_port()}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", url)
    store = tmp_path / "runs.db"
    r = CliRunner().invoke(app, ["train", str(tmp_path / "digits.toml"), "-o", str(tmp_path / "run"),
                                 "--store", str(store)])
    assert r.exit_code == 0, r.output
    (run,) = RunStore(store).list()
    (line,) = [ln for ln in r.stderr.splitlines() if "MLflow" in ln]
    assert line.startswith(f"Warning: MLflow export of run {run.short_id} skipped, the run is recorded locally: "
                           f"no tracking server answered at {url} (Connection refused)"), r.stderr

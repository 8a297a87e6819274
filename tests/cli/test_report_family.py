"""`mlstrat report --model-family`: the actions read for the model the user trained."""

import json

import pyarrow as pa
import pyarrow.parquet as pq
from typer.testing import CliRunner

from mlstrat.cli import app
from mlstrat.diagnosis import diagnose
from mlstrat.runs import RunStore

runner = CliRunner()
NETWORK = "Train a bigger network"
LINEAR = "Richer features, less regularization"


def _biased_predictions(path):
    """400 rows per split, 10% wrong everywhere: against a 0.5% human level, avoidable bias."""
    rows = {"id": [], "split": [], "y_true": [], "y_pred": []}
    for split in ("train", "train_dev", "dev", "test"):
        for i in range(400):
            rows["id"].append(f"{split}-{i}")
            rows["split"].append(split)
            rows["y_true"].append(i % 2)
            rows["y_pred"].append((i % 2) if i % 10 else 1 - i % 2)
    pq.write_table(pa.table(rows), path)
    return path


def _invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_report_words_the_actions_for_the_model_family_given(tmp_path):
    preds = _biased_predictions(tmp_path / "predictions.parquet")
    diagnosis = diagnose(str(preds), human=["expert=0.5%"]).to_dict()
    assert diagnosis["principal_problem"] == "avoidable_bias"
    assert any(a["title"].startswith(NETWORK) for a in diagnosis["actions"])  # the default wording
    path = tmp_path / "diagnosis.json"
    path.write_text(json.dumps(diagnosis))
    out = tmp_path / "report.html"
    result = _invoke("report", path, "--model-family", "linear",
                     "-o", out, "--store", tmp_path / "runs.db")
    assert result.exit_code == 0, result.output
    html = out.read_text(encoding="utf-8")
    assert LINEAR in html and "bigger network" not in html
    assert json.loads(path.read_text()) == diagnosis  # the input is not rewritten


def test_report_of_a_run_uses_the_family_recorded_with_it(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    preds = _biased_predictions(run_dir / "predictions.parquet")
    store = RunStore(tmp_path / "runs.db")
    recorded = diagnose(str(preds), human=["expert=0.5%"], model_family="linear").to_dict()
    run = store.record("diagnose", diagnosis=recorded, artifacts=str(run_dir))
    # --human diagnoses the predictions again: the words still follow the run's family
    for target in (run.id, run_dir):
        out = tmp_path / "report.html"
        result = _invoke("report", target, "--human", "expert=0.5%", "--store", store.path, "-o", out, "--force")
        assert result.exit_code == 0, result.output
        html = out.read_text(encoding="utf-8")
        assert LINEAR in html and "bigger network" not in html, target
    # the flag wins over what the run recorded
    result = _invoke("report", run.id, "--model-family", "nn", "--store", store.path, "-o", out, "--force")
    assert result.exit_code == 0, result.output
    assert NETWORK in out.read_text(encoding="utf-8")


def test_report_refuses_an_unknown_model_family_in_one_line(tmp_path):
    path = tmp_path / "diagnosis.json"
    path.write_text("{}")
    out = tmp_path / "report.html"
    result = _invoke("report", path, "--model-family", "linaer", "-o", out, "--store", tmp_path / "runs.db")
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "Error: --model-family: unknown family 'linaer' (did you mean 'linear'?); "
        "choose from neural_network, gradient_boosting, linear, other"]
    assert not out.exists()

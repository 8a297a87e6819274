import json

from typer.testing import CliRunner

from mlstrat.cli import app
from mlstrat.runs import RunStore
from tests.report.fixtures import DIAGNOSIS, ERROR_SUMMARY, METRICS, improved_diagnosis

runner = CliRunner()


def _invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_report_from_a_run_id(tmp_path):
    store = RunStore(tmp_path / "runs.db")
    store.record("train", diagnosis=DIAGNOSIS, metrics=METRICS, note="baseline")
    run = store.record("train", diagnosis=improved_diagnosis(), metrics=METRICS, note="synth")
    out = tmp_path / "report.html"
    result = _invoke("report", run.id[:6], "--store", store.path, "-o", out, "--title", "Iteration 2")
    assert result.exit_code == 0, result.output
    assert f"Wrote {out}" in " ".join(result.output.split())
    html = out.read_text(encoding="utf-8")
    assert "<title>Iteration 2</title>" in html and 'id="history"' in html
    # an existing report is kept unless --force
    result = _invoke("report", "latest", "--store", store.path, "-o", out)
    assert result.exit_code == 2 and "already exists; pass --force" in result.output
    result = _invoke("report", "latest", "--store", store.path, "-o", out, "--force", "--json")
    assert result.exit_code == 0
    doc = json.loads(result.output)
    assert doc["sections"] == ["diagnosis", "actions", "metrics", "confusion matrix", "run history"]
    assert doc["runs"][-1] == run.id and doc["bytes"] == len(out.read_bytes())


def test_report_from_predictions_with_human_and_sheet(tmp_path, monkeypatch):
    calls = []

    class Result:
        def __init__(self, doc):
            self.doc = doc

        def to_dict(self):
            return self.doc

    # the packages stay importable (the report needs their other modules); only the two calls are replaced
    monkeypatch.setattr("mlstrat.diagnosis.diagnose", lambda source, **kw: calls.append(kw) or Result(DIAGNOSIS))
    monkeypatch.setattr("mlstrat.metrics.compute_metrics", lambda source, **kw: Result(METRICS))
    preds = tmp_path / "preds.parquet"
    preds.write_bytes(b"PAR1 stand-in")
    summary = tmp_path / "summary.json"
    summary.write_text(json.dumps(ERROR_SUMMARY))
    out = tmp_path / "r.html"
    result = _invoke("report", preds, "--human", "typical person=3%", "--human", "expert team=0.5%",
                     "--sheet", summary, "-o", out, "--store", tmp_path / "runs.db")
    assert result.exit_code == 0, result.output
    assert [c["human"] for c in calls] == [["typical person=3%", "expert team=0.5%"]]
    assert calls[0]["test"] is False  # the test split stays sealed without --test
    html = out.read_text(encoding="utf-8")
    assert 'id="error-analysis"' in html and 'id="confusion"' in html


def test_report_never_overwrites_its_input(tmp_path):
    diag = tmp_path / "diagnosis.json"
    diag.write_text(json.dumps(DIAGNOSIS))
    result = _invoke("report", diag, "-o", diag, "--force", "--store", tmp_path / "runs.db")
    assert result.exit_code == 2
    assert "the output path is the input file" in result.output
    assert json.loads(diag.read_text()) == DIAGNOSIS


def test_report_bad_target(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = _invoke("report", "nope.parquet")
    assert result.exit_code == 2
    assert "nope.parquet: no such file or directory" in result.output
    assert not (tmp_path / "report.html").exists()


def test_report_refuses_a_sheet_sampled_from_other_predictions(tmp_path):
    from mlstrat.tables import fingerprint
    from tests.errors._data import simple_predictions, write

    model_a = write(simple_predictions(seed=1), tmp_path / "a.csv")
    model_b = write(simple_predictions(seed=2), tmp_path / "b.csv")
    sheet = tmp_path / "sheet.csv"
    result = _invoke("errors", "sample", model_a, "-o", sheet, "-n", "5", "--categories", "blurry")
    assert result.exit_code == 0, result.output
    store = tmp_path / "runs.db"
    wrong = _invoke("report", model_b, "--sheet", sheet, "-o", tmp_path / "r.html", "--store", store)
    assert wrong.exit_code == 2
    assert " ".join(wrong.output.split()) == (
        f"Error: {sheet}: sampled from other predictions than {model_b} (fingerprint {fingerprint(model_a)} at "
        f"sampling, {fingerprint(model_b)} now); its shares describe other errors. Sample this model's errors "
        f"(mlstrat errors sample {model_b}) or leave --sheet out")
    assert not (tmp_path / "r.html").exists()
    right = _invoke("report", model_a, "--sheet", sheet, "-o", tmp_path / "r.html", "--store", store)
    assert right.exit_code == 0, right.output

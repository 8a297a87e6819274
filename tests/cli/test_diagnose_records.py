"""`mlstrat diagnose PRED` records a run; the test-set reuse guard counts across invocations."""

import json

import pandas as pd
from typer.testing import CliRunner

from mlstrat.cli import app

runner = CliRunner()


def _predictions(path):
    rows = []
    for split, n, wrong in (("train", 200, 4), ("dev", 100, 10), ("test", 100, 11)):
        for i in range(n):
            rows.append({"id": f"{split}-{i}", "split": split, "y_true": i % 2,
                         "y_pred": (i % 2) ^ int(i < wrong)})
    pd.DataFrame(rows).to_parquet(path)
    return path


def test_diagnose_records_runs_and_warns_on_test_reuse(tmp_path):
    pred = _predictions(tmp_path / "pred.parquet")
    store = tmp_path / "runs.db"
    for i in range(3):  # the test split is sealed: ordinary diagnoses are not looks
        result = runner.invoke(app, ["diagnose", str(pred), "--human", "1%", "--store", str(store)])
        assert result.exit_code == 0, result.output
        assert "test_sealed" in result.output
    for i in range(6):
        result = runner.invoke(app, ["diagnose", str(pred), "--human", "1%", "--store", str(store),
                                     "--note", f"try {i}", "--test"])
        assert result.exit_code == 0, result.output
    assert "recorded run" in result.output
    # the sixth evaluation of the same test set warns, naming its fingerprint as text
    text = " ".join(result.output.split())
    assert "has been evaluated 6 times (threshold 5)" in text
    assert "The test set test-100-" in text
    listed = json.loads(runner.invoke(app, ["runs", "list", "--json", "--store", str(store)]).output)
    assert len(listed["runs"]) == 9
    # each run keeps the count at its time: sealed runs none, looks 1..6
    from mlstrat.runs import RunStore

    counts = [r.test_evaluations for r in RunStore(store).list()]
    assert counts == [None] * 3 + [1, 2, 3, 4, 5, 6]


def test_no_record_leaves_no_store(tmp_path):
    pred = _predictions(tmp_path / "pred.parquet")
    result = runner.invoke(app, ["diagnose", str(pred), "--no-record", "--store", str(tmp_path / "r.db")])
    assert result.exit_code == 0, result.output
    assert not (tmp_path / "r.db").exists()

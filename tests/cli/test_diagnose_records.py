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
    assert "updated run" in result.output  # the same file with the same options: one run
    # the sixth evaluation of the same test set warns, naming its fingerprint as text
    text = " ".join(result.output.split())
    assert "has been evaluated 6 times (threshold 5)" in text
    assert "The test set test-100-" in text
    listed = json.loads(runner.invoke(app, ["runs", "list", "--json", "--store", str(store)]).output)
    # one run per (file, options): the sealed diagnosis, and the one with --test
    assert len(listed["runs"]) == 2
    # each run keeps the count at its last diagnosis: the sealed run none, the other 6 looks
    from mlstrat.runs import RunStore

    counts = [r.test_evaluations for r in RunStore(store).list()]
    assert counts == [None, 6]


def test_no_record_leaves_no_store(tmp_path):
    pred = _predictions(tmp_path / "pred.parquet")
    result = runner.invoke(app, ["diagnose", str(pred), "--no-record", "--store", str(tmp_path / "r.db")])
    assert result.exit_code == 0, result.output
    assert not (tmp_path / "r.db").exists()


def test_diagnosing_the_same_file_again_updates_its_run(tmp_path):
    from mlstrat.runs import RunStore

    pred = _predictions(tmp_path / "pred.parquet")
    store = tmp_path / "runs.db"
    base = ["diagnose", str(pred), "--store", str(store)]
    first = runner.invoke(app, [*base, "--human", "1%", "--note", "baseline"])
    assert first.exit_code == 0 and "recorded run" in first.output
    (run,) = RunStore(store).list()
    again = runner.invoke(app, [*base, "--human", "1%", "--json"])  # only output options differ
    assert again.exit_code == 0, again.output
    (updated,) = RunStore(store).list()
    assert updated.id == run.id and updated.note == "baseline"  # no note given: the note is kept
    assert updated.diagnosis["errors"] == run.diagnosis["errors"]
    assert updated.config == {"diagnose": updated.config["diagnose"]}
    assert updated.config["diagnose"]["human"] == ["1%"]
    renamed = runner.invoke(app, [*base, "--human", "1%", "--note", "kept baseline"])
    assert "updated run" in renamed.output
    assert [r.note for r in RunStore(store).list()] == ["kept baseline"]
    # other options: another run
    other = runner.invoke(app, [*base, "--human", "2%"])
    assert other.exit_code == 0 and "recorded run" in other.output
    assert len(RunStore(store).list()) == 2
    # the same options on a changed file: another run
    rows = pd.read_parquet(pred)
    rows.loc[rows.index[rows.split == "dev"][:5], "y_pred"] ^= 1
    rows.to_parquet(pred)
    changed = runner.invoke(app, [*base, "--human", "1%"])
    assert changed.exit_code == 0 and "recorded run" in changed.output
    runs = RunStore(store).list()
    assert len(runs) == 3
    assert runs[-1].errors()["dev"]["value"] != runs[0].errors()["dev"]["value"]
    # the updated run moved to the end: it is the latest diagnosis of its file
    renamed = runner.invoke(app, [*base, "--human", "2%"])
    assert RunStore(store).get("latest").config["diagnose"]["human"] == ["2%"]

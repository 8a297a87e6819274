"""`mlstrat lr-find CONFIG`: the sparkline, the suggestion with how it was chosen, the record."""

import json

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from mlstrat.cli import app
from mlstrat.runs import RunStore
from tests.nn.conftest import split_digits

runner = CliRunner()


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    root = tmp_path_factory.mktemp("lr-find")
    pq.write_table(split_digits(), root / "split.parquet")
    (root / "digits.toml").write_text(
        '[data]\nmanifest = "split.parquet"\nfeature_prefix = "px_"\n[model]\nhidden = [32]\n'
        "[optim]\nbatch_size = 64\n")
    return root


def test_lr_find_prints_the_curve_and_the_suggestion_and_records_it(workdir, monkeypatch):
    monkeypatch.chdir(workdir)
    store = workdir / "runs.db"
    result = runner.invoke(app, ["lr-find", "digits.toml", "--steps", "100", "--store", str(store)],
                           env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    (run,) = RunStore(store).list()
    found = run.metrics["lr_find"]
    assert run.kind == "lr-find" and found["method"] == "steepest"
    lines = result.output.splitlines()
    assert f"recorded run {run.id}" in lines
    assert (f"Learning-rate range test: {found['steps']} steps from lr 1e-07 to {found['lrs'][-1]:.3g} "
            "(the smoothed loss passed 4x its minimum).") in lines
    spark = next(line for line in lines if line.startswith("smoothed loss  "))
    bars = spark[len("smoothed loss  "):]
    assert set(bars) <= set("▁▂▃▄▅▆▇█") and len(bars) == 60
    assert (f"Suggested lr: {found['suggestion']:.3g} (steepest descent of the smoothed loss against log lr, "
            f"before its minimum; the minimum's lr / 10 is {found['min_lr']:.3g})") in lines
    assert f'Next: set [optim] lr = {found["suggestion"]:.3g} in digits.toml, or lr = "find" to run this test ' \
           "before each training" in lines


def test_lr_find_json_without_recording(workdir, monkeypatch):
    monkeypatch.chdir(workdir)
    result = runner.invoke(app, ["lr-find", "digits.toml", "--steps", "40", "--json", "--no-record",
                                 "--store", str(workdir / "none.db")])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["run_id"] is None and len(doc["lrs"]) == len(doc["smoothed"]) == doc["steps"]
    assert doc["settings"]["steps"] == 40
    assert not (workdir / "none.db").exists()


@pytest.mark.parametrize("args, message", [
    (["--steps", "3"], "Error: --steps = 3 must be at least 12"),
    (["--start-lr", "1", "--end-lr", "0.1"],
     "Error: --start-lr = 1.0 and --end-lr = 0.1: need 0 < --start-lr < --end-lr, both finite"),
])
def test_bad_options_exit_2_naming_the_flag(workdir, monkeypatch, args, message):
    monkeypatch.chdir(workdir)
    result = runner.invoke(app, ["lr-find", "digits.toml", "--no-record", *args])
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())


def test_an_infinite_end_lr_exits_2(workdir, monkeypatch):
    monkeypatch.chdir(workdir)
    result = runner.invoke(app, ["lr-find", "digits.toml", "--no-record", "--end-lr", "inf"])
    assert result.exit_code == 2
    assert "Error: --start-lr = 1e-07 and --end-lr = inf: need 0 < --start-lr < --end-lr, both finite" in " ".join(
        result.output.split())


def test_lr_find_chart_marks_the_suggestion_and_the_stop(workdir, monkeypatch):
    from mlstrat.display._decision_charts import lr_find_marks

    monkeypatch.chdir(workdir)
    result = runner.invoke(app, ["lr-find", "digits.toml", "--steps", "40", "--json", "--no-record",
                                 "--chart", "lr.svg", "--force"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    marks = lr_find_marks(doc)
    assert marks["suggestion"][0] == doc["suggestion"]
    assert marks["stop"] == (doc["lrs"][-1], doc["smoothed"][-1])  # the last step, its loss finite here
    assert marks["smoothed"] == list(zip(doc["lrs"], doc["smoothed"]))
    svg = (workdir / "lr.svg").read_text()
    assert 'id="lrfind-lr-suggestion"' in svg and 'id="lrfind-lr-stop"' in svg
    assert f"<!-- suggested lr {doc['suggestion']:.3g}" in svg
    why = {"diverged": "diverged", "end_lr": "last step"}[doc["stopped"]]
    assert f"<!-- stopped: {why} at lr {doc['lrs'][-1]:.3g} -->" in svg


@pytest.mark.parametrize("chart, message", [
    ("digits.toml", "Error: --chart: digits.toml: give a path ending in .svg or .png"),
    ("split.svg", "Error: split.svg: already exists; pass --force"),
])
def test_a_bad_chart_path_exits_2_before_the_test(workdir, monkeypatch, chart, message):
    monkeypatch.chdir(workdir)
    (workdir / "split.svg").write_text("kept")
    result = runner.invoke(app, ["lr-find", "digits.toml", "--no-record", "--chart", chart])
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())
    assert "Learning-rate range test" not in result.output
    assert (workdir / "split.svg").read_text() == "kept"

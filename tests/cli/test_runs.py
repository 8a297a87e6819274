import json

import pytest
from typer.testing import CliRunner

from mlstrat.cli import app
from mlstrat.runs import RunStore
from tests.report.fixtures import DIAGNOSIS, METRICS, improved_diagnosis

runner = CliRunner()


@pytest.fixture
def store(tmp_path):
    store = RunStore(tmp_path / "runs.db")
    store.record("train", config={"regularization": {"keep_prob": 1.0}, "optim": {"lr": 0.1}},
                 diagnosis=DIAGNOSIS, metrics=METRICS, note="baseline", test_fingerprint="sha256:t")
    store.record("train", config={"regularization": {"keep_prob": 0.5}, "optim": {"lr": 0.1}},
                 diagnosis=improved_diagnosis(), metrics=METRICS, note="dropout",
                 test_fingerprint="sha256:t")
    return store


def _invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_list_table(store):
    result = _invoke("runs", "list", "--store", store.path)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    a, b = store.list()
    row_a = next(line for line in lines if a.short_id in line)
    row_b = next(line for line in lines if b.short_id in line)
    for cell in ["2.1%", "3.4%", "11.2%", "11.8%", "mismatch"]:
        assert cell in row_a, cell
    for cell in ["5.2%", "bias"]:
        assert cell in row_b, cell
    # at 80 columns the notes and what changed since the run before do not fit a row: they are
    # listed under the table, one whole line per run, so that no row folds over several lines
    assert "#1 baseline" in lines and "#2 dropout; keep_prob 1.0 -> 0.5" in lines
    assert lines.index(row_a) < lines.index(row_b)  # oldest first


def test_list_and_compare_at_80_columns_cut_nothing(store):
    for args in (("runs", "list"), ("runs", "compare", *[r.id[:6] for r in store.list()])):
        result = CliRunner().invoke(app, [*args, "--store", str(store.path)], env={"COLUMNS": "80"})
        assert result.exit_code == 0, result.output
        assert "…" not in result.output and max(len(line) for line in result.output.splitlines()) <= 80
    assert "regularization.keep_prob" in result.output  # the key that differs, whole


def test_list_json_and_empty(store, tmp_path):
    result = _invoke("runs", "list", "--store", store.path, "--json", "--limit", 1)
    assert result.exit_code == 0
    doc = json.loads(result.output)
    assert [r["note"] for r in doc["runs"]] == ["dropout"]
    assert doc["runs"][0]["errors"] == {"train": 0.024, "train_dev": 0.036, "dev": 0.052, "test": 0.055}
    assert doc["runs"][0]["principal_problem"] == "avoidable_bias"
    result = _invoke("runs", "list", "--store", tmp_path / "none.db")
    assert result.exit_code == 0 and "No runs recorded in" in result.output
    assert not (tmp_path / "none.db").exists()


def test_show(store):
    run = store.list()[0]
    result = _invoke("runs", "show", run.id[:5], "--store", store.path)
    assert result.exit_code == 0, result.output
    out = result.output
    assert f"Run {run.id} (#1, train)" in out
    assert "regularization.keep_prob" in out and "test set evaluated 2 time(s) in this store (threshold 5)" in out
    assert "data mismatch (principal)" in out and "[8.9%, 13.9%]" in out
    assert "Verdict: Data mismatch is the principal problem" in out
    assert "1. Carry out manual error analysis" in out
    result = _invoke("runs", "show", "latest", "--store", store.path, "--json")
    doc = json.loads(result.output)
    assert doc["note"] == "dropout" and doc["test_evaluations_total"] == 2 and doc["diagnosis"]["principal_problem"] == "avoidable_bias"


def test_compare(store):
    a, b = store.list()
    result = _invoke("runs", "compare", a.id[:6], b.id[:6], "--store", store.path)
    assert result.exit_code == 0, result.output
    out = result.output
    assert "data mismatch" in out and "+7.80 pts" in out and "+1.60 pts" in out and "-6.20 pts" in out
    # the change is the difference of the figures shown, in one precision per table
    assert "│ dev       │       11.2% │        5.2% │ -6.0 pts │" in out
    assert "regularization.keep_prob" in out
    assert "#1 -> #2: data mismatch +7.8 pts -> +1.6 pts after keep_prob 0.5" in out
    doc = json.loads(_invoke("runs", "compare", a.id, b.id, "--store", store.path, "--json").output)
    assert doc["steps"][0]["summary"] == "data mismatch +7.8 pts -> +1.6 pts after keep_prob 0.5"
    assert doc["config"] == {"regularization.keep_prob": [1.0, 0.5]}


def test_compare_warns_about_several_knobs(store):
    c = store.record("train", config={"regularization": {"keep_prob": 0.8}, "optim": {"lr": 0.01}},
                     diagnosis=DIAGNOSIS)
    b = store.list()[1]
    result = _invoke("runs", "compare", b.id, c.id, "--store", store.path)
    assert result.exit_code == 0
    assert "Warning:" in result.output and "changed 2 config keys at once" in " ".join(result.output.split())


@pytest.mark.parametrize("args, message", [
    (["show", "zzz"], "is not a run id"),
    (["show", "abcdef"], "no run 'abcdef'"),
    (["compare", "latest"], "compare needs at least two runs (got 1)"),
])
def test_errors_exit_2(store, args, message):
    result = _invoke("runs", *args, "--store", store.path)
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())


def test_compared_config_paths_fit_80_columns_whole():
    from rich.console import Console

    from mlstrat.cli._compare_view import _config_diff_table

    console = Console(width=80, record=True)
    console.print(_config_diff_table({"data.manifest": ["mlstrat-demo/split.parquet", "mlstrat-demo/train_synth.parquet"]},
                                     ["#1 3bb7a93a", "#2 d048ede2"]))
    text = console.export_text()
    assert "mlstrat-demo/split.parquet" in text and "mlstrat-demo/train_synth.parquet" in text


def test_list_writes_each_column_at_one_precision(tmp_path):
    """A column holding 0.86% shows its neighbours with two decimals too (0.00%, not 0.0%)."""
    import copy

    store = RunStore(tmp_path / "runs.db")
    for train in (0.0, 0.0086):
        diagnosis = copy.deepcopy(DIAGNOSIS)
        diagnosis["errors"]["train"]["value"] = train
        store.record("train", diagnosis=diagnosis, metrics=METRICS)
    result = _invoke("runs", "list", "--store", store.path, "--json")
    assert [r["errors"]["train"] for r in json.loads(result.output)["runs"]] == [0.0, 0.0086]
    text = _invoke("runs", "list", "--store", store.path).output
    a, b = store.list()
    assert "0.00%" in next(line for line in text.splitlines() if a.short_id in line)
    assert "0.86%" in next(line for line in text.splitlines() if b.short_id in line)

"""A run whose cost becomes NaN or infinite stops at once, says "lower the learning rate" first
and is recorded as failed; ``mlstrat.train`` from Python records its run like the CLI."""

import json
import math
import re

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

import mlstrat
from mlstrat.cli import app
from mlstrat.nn import OptimConfig, train
from mlstrat.runs import RunStore
from tests.nn.conftest import small_config, split_digits

runner = CliRunner()

#: plain gradient descent at lr = 5 on the digits: the cost is infinite by the third epoch
TOO_HIGH = dict(epochs=8, batch_size=64, lr=5.0, optimizer="gd")


@pytest.fixture(scope="module")
def diverged(tmp_path_factory, digits_path):
    root = tmp_path_factory.mktemp("diverged")
    config = small_config(digits_path, optim=OptimConfig(**TOO_HIGH))
    store = RunStore(root / "runs.db")
    with pytest.warns(mlstrat.MlstratWarning, match=r"^diverged: lower the learning rate"):
        result = train(config, run_dir=root / "run", progress=False, store=store)
    return result, store


def test_a_non_finite_cost_stops_the_run_at_that_epoch(diverged):
    result, _ = diverged
    epochs = result.history["epochs"]
    last = epochs[-1]
    assert not math.isfinite(last["train_cost"]) or not math.isfinite(last["dev_cost"])
    # every earlier epoch was finite: the loop stopped at the first non-finite one, not at 8
    assert all(math.isfinite(e["train_cost"]) and math.isfinite(e["dev_cost"]) for e in epochs[:-1])
    assert len(epochs) < TOO_HIGH["epochs"]
    assert result.history["diverged"]["epoch"] == last["epoch"]
    assert result.history["diverged"]["lr"] == 5.0


def test_the_advice_is_to_lower_the_learning_rate_and_nothing_else_first(diverged):
    result, _ = diverged
    (warning,) = result.history["warnings"]
    assert warning["code"] == "diverged"
    assert warning["message"].startswith("diverged: lower the learning rate (try [optim] lr = 0.5); "
                                         f"the cost became {result.history['diverged']['cost']} "
                                         f"at epoch {result.history['diverged']['epoch']} at lr = 5")
    for remedy in ("batch norm", "init", "clip"):
        assert remedy not in warning["message"]
    on_disk = json.loads((result.run_dir / "history.json").read_text())
    assert on_disk["diverged"] == result.history["diverged"]


def test_a_diverged_run_is_recorded_as_failed(diverged):
    result, store = diverged
    (run,) = store.list()
    assert run.id == result.run_id
    assert run.metrics == {"status": "failed", "failure": result.history["warnings"][0]["message"],
                           "convergence": result.history["convergence"]}
    assert run.metrics["convergence"]["verdict"] == "diverging — lower the learning rate"
    assert run.diagnosis is None
    assert run.note.startswith("failed: diverged: lower the learning rate")


def test_a_finite_run_carries_no_divergence(tmp_path, digits_path):
    result = train(small_config(digits_path), run_dir=tmp_path / "run", progress=False, store=False)
    assert result.history["diverged"] is None
    assert result.run_id is None  # store=False: not recorded


def test_train_from_python_records_the_run_like_the_cli(tmp_path, digits_path):
    store = tmp_path / "runs.db"
    result = mlstrat.train(small_config(digits_path), run_dir=tmp_path / "run", progress=False, store=store,
                           human=["expert=0.5%"], note="from python")
    (run,) = RunStore(store).list()
    assert (run.id, run.kind, run.note) == (result.run_id, "train", "from python")
    assert result.to_dict()["run_id"] == run.id
    assert run.artifacts == str((tmp_path / "run").absolute())
    assert run.config["optim"]["lr"] == 0.01
    # the recorded dev error is the one train() measured
    assert run.errors()["dev"]["value"] == pytest.approx(result.metrics["dev"]["error"])
    assert run.diagnosis["human_level"]["bayes_proxy"]["value"] == 0.005


def test_train_from_python_can_opt_out_of_recording(tmp_path, digits_path):
    store = tmp_path / "runs.db"
    result = mlstrat.train(small_config(digits_path), run_dir=tmp_path / "run", progress=False, store=store,
                           record=False)
    assert result.run_id is None
    assert RunStore(store).list() == []


def test_the_cli_stops_with_one_line_exit_1_and_runs_list_says_failed(tmp_path):
    pq.write_table(split_digits(), tmp_path / "split.parquet")
    (tmp_path / "hot.toml").write_text(
        '[data]\nmanifest = "split.parquet"\nfeature_prefix = "px_"\n'
        '[model]\nhidden = [32]\n[optim]\nepochs = 8\nbatch_size = 64\nlr = 5.0\noptimizer = "gd"\n')
    store = tmp_path / "runs.db"
    result = runner.invoke(app, ["train", str(tmp_path / "hot.toml"), "-o", str(tmp_path / "run"),
                                 "--store", str(store)])
    assert result.exit_code == 1, result.output
    assert "Training failed: diverged: lower the learning rate (try [optim] lr = 0.5)" in result.output
    # the summary does not pass the figures off as a result
    summary = " ".join(result.output.split())
    assert re.search(r"diverged at epoch \d+: the figures below are of NaN/inf weights", summary)
    assert "Traceback" not in result.output
    listed = runner.invoke(app, ["runs", "list", "--store", str(store), "--json"])
    (run,) = json.loads(listed.output)["runs"]
    assert run["note"].startswith("failed: diverged: lower the learning rate")
    shown = runner.invoke(app, ["runs", "show", run["id"], "--store", str(store)])
    assert "failed: diverged" in shown.output

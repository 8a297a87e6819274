import json

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from mlstrat.cli import app
from tests.nn.conftest import split_digits

runner = CliRunner()


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    pq.write_table(split_digits(), root / "split.parquet")
    (root / "digits.toml").write_text(
        '[data]\nmanifest = "split.parquet"\nfeature_prefix = "px_"\n'
        "[model]\nhidden = [32]\n[optim]\nepochs = 3\nlr = 0.01\n")
    return root


@pytest.fixture(scope="module")
def trained(workdir):
    result = runner.invoke(app, ["train", str(workdir / "digits.toml"), "-o", str(workdir / "run")])
    assert result.exit_code == 0, result.output
    return workdir / "run", result.output


def test_train_writes_a_run_and_prints_errors(trained):
    run, output = trained
    assert "Error per split" in output and "train-dev" in output
    assert f"mlstrat diagnose {run / 'predictions.parquet'}" in output
    assert {p.name for p in run.iterdir()} == {"model.pt", "config.resolved.toml", "history.json",
                                               "predictions.parquet", "metrics.json"}


def test_predictions_go_straight_into_diagnose(trained):
    from mlstrat.tables import read_predictions

    run, _ = trained
    preds = read_predictions(run / "predictions.parquet", require_id=True)
    assert list(preds.sizes) == ["train", "train_dev", "dev", "test"]
    result = runner.invoke(app, ["diagnose", str(run / "predictions.parquet"), "--human", "1%", "--json"])
    assert result.exit_code == 0, result.output
    assert set(json.loads(result.output)["errors"]) == {"train", "train_dev", "dev", "test"}


def test_train_records_a_run_with_its_config_and_diagnosis(workdir, tmp_path):
    store = tmp_path / "runs.db"
    result = runner.invoke(app, ["train", str(workdir / "digits.toml"), "-o", str(tmp_path / "r"),
                                 "--store", str(store), "--human", "expert=0.5%", "--note", "baseline"])
    assert result.exit_code == 0, result.output
    from mlstrat.runs import RunStore

    (run,) = RunStore(store).list()
    assert run.kind == "train" and run.note == "baseline"
    assert run.config["model"]["hidden"] == [32]
    assert run.diagnosis["human_level"]["bayes_proxy"]["value"] == 0.005
    assert run.artifacts == str((tmp_path / "r").resolve())


def test_train_json(workdir):
    result = runner.invoke(app, ["train", str(workdir / "digits.toml"), "-o", str(workdir / "run-json"), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert set(data["metrics"]) == {"train", "train_dev", "dev", "test"}
    assert data["history"]["best_epoch"] >= 1 and data["run_dir"].endswith("run-json")


def test_train_refuses_to_overwrite_without_force(trained, workdir):
    run, _ = trained
    result = runner.invoke(app, ["train", str(workdir / "digits.toml"), "-o", str(run)])
    assert result.exit_code == 2
    assert "already holds a trained run" in result.output


def test_predict_command(trained, workdir):
    run, _ = trained
    out = workdir / "preds.parquet"
    result = runner.invoke(app, ["predict", str(run), str(workdir / "split.parquet"), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "Wrote 1,797 predictions" in result.output
    assert pq.read_table(out).num_rows == 1797


def test_gradcheck_command(workdir):
    result = runner.invoke(app, ["gradcheck", str(workdir / "digits.toml"), "--rows", "16", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["init"]["verdict"] == "ok" and data["init"]["mode"] == "full"
    assert [p["name"] for p in data["init"]["parameters"]] == ["hidden.0.weight", "hidden.0.bias",
                                                               "head.weight", "head.bias"]


def test_gradcheck_command_renders_a_table(workdir):
    result = runner.invoke(app, ["gradcheck", str(workdir / "digits.toml"), "--rows", "8",
                                 "--mode", "directional", "--after-epochs", "1", "--fail-on", "bug"])
    assert result.exit_code == 0, result.output
    assert "Gradient check at init: directional" in result.output
    assert "Gradient check at after 1 epoch(s)" in result.output and "hidden.0.weight" in result.output


@pytest.mark.parametrize("config, message", [
    ("[optim]\nepoch = 3\n", "unknown key 'epoch' (did you mean 'epochs'?)"),
    ("[regularization]\nkeep_prob = 1.5\n", "keep_prob = 1.5 must be in (0, 1]"),
    ("[regularization]\nl2 = -1\n", "l2 = -1.0 must be zero or positive"),
])
def test_bad_config_exits_2(workdir, config, message):
    path = workdir / "bad.toml"
    path.write_text(config)
    result = runner.invoke(app, ["train", str(path)])
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())


def test_bad_data_exits_2(workdir):
    table = pq.read_table(workdir / "split.parquet").drop(["split"])
    pq.write_table(table, workdir / "nosplit.parquet")
    (workdir / "nosplit.toml").write_text('[data]\nmanifest = "nosplit.parquet"\nfeature_prefix = "px_"\n')
    result = runner.invoke(app, ["train", str(workdir / "nosplit.toml"), "-o", str(workdir / "x")])
    assert result.exit_code == 2
    assert "no 'split' column" in result.output


def test_gradcheck_bad_mode_exits_2(workdir):
    result = runner.invoke(app, ["gradcheck", str(workdir / "digits.toml"), "--mode", "fulll"])
    assert result.exit_code == 2
    assert "--mode 'fulll' is not one of auto, full, directional (did you mean 'full'?)" in " ".join(result.output.split())


def _manifest_variant(workdir, name, change):
    import numpy as np
    import pyarrow as pa

    table = pq.read_table(workdir / "split.parquet")
    table = change(table, np, pa)
    pq.write_table(table, workdir / f"{name}.parquet")
    (workdir / f"{name}.toml").write_text(
        f'[data]\nmanifest = "{name}.parquet"\nfeature_prefix = "px_"\n[model]\nhidden = [32]\n[optim]\nepochs = 1\n')
    return workdir / f"{name}.toml"


def _nan_px3(t, np, pa):
    col = t["px_3"].to_numpy().copy()
    col[:5] = np.nan
    return t.set_column(t.column_names.index("px_3"), "px_3", pa.array(col))


def _unseen_label(t, np, pa):
    labels = t["label"].to_numpy().copy()
    split = np.array(t["split"].to_pylist())
    labels[np.flatnonzero(split == "test")[:2]] = 77
    return t.set_column(t.column_names.index("label"), "label", pa.array(labels))


@pytest.mark.parametrize("name, change, message", [
    ("nanfeat", _nan_px3, "feature column 'px_3' has 5 NaN/empty value(s); fill or drop those rows"),
    ("unseen", _unseen_label, "label(s) never seen in train: 77 in test (2 rows)"),
    ("nofeat", lambda t, np, pa: t.drop([c for c in t.column_names if c.startswith("px_")]),
     "no column starts with feature_prefix 'px_'"),
])
def test_bad_manifest_exits_2_with_message(workdir, name, change, message):
    config = _manifest_variant(workdir, name, change)
    result = runner.invoke(app, ["train", str(config), "-o", str(workdir / f"run-{name}")])
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())


def test_transfer_input_mismatch_exits_2(trained, workdir):
    run, _ = trained
    (workdir / "transfer.toml").write_text(
        f'[data]\nmanifest = "split.parquet"\nfeatures = ["px_0", "px_1"]\n[model]\nhidden = [32]\n'
        f'[transfer]\ninit_from = "{run}"\n')
    result = runner.invoke(app, ["train", str(workdir / "transfer.toml"), "-o", str(workdir / "run-t")])
    assert result.exit_code == 2
    assert "the source model takes 64 input features but this config selects 2" in " ".join(result.output.split())

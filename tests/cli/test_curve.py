"""`mlstrat curve CONFIG`: nested subsets trained with mlstrat's network, recorded, reported."""

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from mlstrat.cli import app
from mlstrat.runs import RunStore


def digits_curve_config(root, *, n: int, n_train: int, epochs: int):
    """``root`` with the first ``n`` digits as m.csv (``n_train`` train rows, the rest dev) and
    c.toml, a small network trained for ``epochs``."""
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    df = pd.DataFrame(X[:n] / 16.0, columns=[f"px_{i}" for i in range(64)])
    df.insert(0, "id", range(n))
    df["split"] = np.where(np.arange(n) < n_train, "train", "dev")
    df["label"] = y[:n]
    df.to_csv(root / "m.csv", index=False)
    (root / "c.toml").write_text('[data]\nmanifest = "m.csv"\nfeature_prefix = "px_"\n'
                                 f'[model]\nhidden = [16]\n[optim]\nepochs = {epochs}\nlr = 0.01\n')
    return root


@pytest.fixture(scope="module")
def config(tmp_path_factory):
    return digits_curve_config(tmp_path_factory.mktemp("curve"), n=700, n_train=500, epochs=4)


def test_curve_trains_nested_subsets_records_and_reports(config, tmp_path):
    store = tmp_path / "runs.db"
    out = tmp_path / "curve"
    result = CliRunner().invoke(app, ["curve", str(config / "c.toml"), "--sizes", "20%,50%,100%",
                                      "--human", "1%", "-o", str(out), "--store", str(store), "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert [p["size"] for p in doc["points"]] == [100, 250, 500]
    assert doc["human_level"] == 0.01 and doc["model_family"] == "neural_network"
    # the largest subset is the whole train split: its run saw every train row
    full = json.loads((out / "size-500" / "metrics.json").read_text())
    assert full["train"]["n"] == 500 and doc["points"][-1]["dev"]["value"] == full["dev"]["error"]
    ids = [set(pd.read_parquet(out / f"manifest-train-{k}.parquet").query("split == 'train'").id)
           for k in (100, 250, 500)]
    assert ids[0] < ids[1] < ids[2]  # nested
    assert (out / "curve.svg").read_text().startswith("<svg")
    (run,) = RunStore(store).list()
    assert run.kind == "curve" and run.metrics["curve"]["points"] == doc["points"]
    report = CliRunner().invoke(app, ["report", run.id, "--store", str(store), "-o", str(tmp_path / "r.html")])
    assert report.exit_code == 0, report.output
    html = (tmp_path / "r.html").read_text()
    assert "Learning curve against training-set size" in html


def test_curve_refuses_a_non_empty_folder(config, tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "keep.txt").write_text("mine")
    result = CliRunner().invoke(app, ["curve", str(config / "c.toml"), "-o", str(tmp_path / "x"), "--no-record"])
    assert result.exit_code == 2
    assert "the folder is not empty; give another --output or --force" in result.output

import dataclasses
import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from mlstrat import ConfigError, InputError
from mlstrat.nn import (
    DataConfig,
    EarlyStoppingConfig,
    ModelConfig,
    OptimConfig,
    RegularizationConfig,
    TrainConfig,
    predict,
    train,
)
from mlstrat.nn._checkpoint import load_checkpoint
from mlstrat.nn._model import Architecture, Network, initialize
from mlstrat.nn._fitter import Fitter
from mlstrat.nn._setup import make_optimizer, resolve_device
from mlstrat.tables import read_predictions
from tests.nn.conftest import small_config


@pytest.fixture(scope="module")
def run(tmp_path_factory, digits_path):
    run_dir = tmp_path_factory.mktemp("run") / "r"
    # test=True: the test figures are checked below; store=False: no look is counted
    return train(small_config(digits_path), run_dir=run_dir, test=True, store=False)


def test_run_directory_contract(run, digits_table):
    files = sorted(p.name for p in run.run_dir.iterdir())
    assert files == ["config.resolved.toml", "history.json", "metrics.json", "model.pt", "predictions.parquet"]
    history = json.loads((run.run_dir / "history.json").read_text())
    assert set(history) == {"epochs", "best_epoch", "stopped_early", "restored_best", "warnings", "threads",
                            "threads_reason", "diverged", "convergence", "train_rows"}
    assert history["train_rows"] == digits_table["split"].to_pylist().count("train")  # what a transfer reads
    assert history["diverged"] is None  # a finite cost all along
    assert history["convergence"]["verdict"] == "too few epochs to judge — train longer"  # 3 epochs
    assert history["threads"] == 1  # 51 steps: too short a run to measure
    assert history["warnings"] == []  # a healthy ReLU/He network: no gradient warning
    assert [e["epoch"] for e in history["epochs"]] == [1, 2, 3]
    assert set(history["epochs"][0]) == {"epoch", "train_cost", "dev_cost", "train_error", "dev_error",
                                         "lr", "layers", "train_dev_cost", "train_dev_error"}
    assert set(history["epochs"][0]["layers"]) == {"hidden.0", "head"}
    assert set(history["epochs"][0]["layers"]["head"]) == {"grad_norm", "weight_norm", "update_ratio", "size"}
    assert history == run.history

    preds = pq.read_table(run.run_dir / "predictions.parquet")
    classes = list(range(10))
    assert preds.column_names == ["id", "split", "y_true", "y_pred", *[f"proba_{c}" for c in classes],
                                  "domain", "group"]
    assert preds.num_rows == digits_table.num_rows  # every split
    assert preds["id"].to_pylist() == digits_table["id"].to_pylist()
    assert preds["domain"].to_pylist() == digits_table["domain"].to_pylist()
    proba = np.stack([preds[f"proba_{c}"].to_numpy() for c in classes], axis=1)
    assert np.allclose(proba.sum(axis=1), 1.0)
    assert np.array_equal(proba.argmax(axis=1), preds["y_pred"].to_numpy())
    checked = read_predictions(run.run_dir / "predictions.parquet", require_id=True)
    assert set(checked.sizes) == {"train", "train_dev", "dev", "test"}
    assert len(checked.proba_columns) == 10

    metrics = json.loads((run.run_dir / "metrics.json").read_text())
    split = np.array(preds["split"].to_pylist())
    wrong = preds["y_true"].to_numpy() != preds["y_pred"].to_numpy()
    for s in ("train", "train_dev", "dev", "test"):
        assert metrics[s]["n"] == int((split == s).sum())
        assert metrics[s]["error"] == pytest.approx(wrong[split == s].mean())
        assert metrics[s]["accuracy"] == pytest.approx(1 - metrics[s]["error"])
    assert metrics["dev"]["error"] < 0.3  # it learned something in 3 epochs
    # the epoch whose weights were kept scored train-dev and dev as the written predictions do
    kept = history["epochs"][history["best_epoch"] - 1 if history["restored_best"] else -1]
    for s in ("train_dev", "dev"):
        assert kept[f"{s}_error"] == pytest.approx(metrics[s]["error"])

    saved = TrainConfig.from_toml(run.run_dir / "config.resolved.toml")
    assert saved.model.hidden == (32,) and saved.optim.epochs == 3
    ckpt = load_checkpoint(run.run_dir)
    assert ckpt["classes"] == classes and len(ckpt["feature_names"]) == 64
    assert ckpt["config"] == saved.to_dict()


def test_normalization_uses_train_rows_only(tmp_path, digits_table):
    # blow up the non-train rows: the statistics must not move
    split = np.array(digits_table["split"].to_pylist())
    table = digits_table
    for j in range(64):
        name = f"px_{j}"
        col = table[name].to_numpy().copy()
        col[split != "train"] += 1000.0
        table = table.set_column(table.column_names.index(name), name, pa.array(col))
    path = tmp_path / "m.parquet"
    pq.write_table(table, path)
    result = train(small_config(path, optim=OptimConfig(epochs=1)), run_dir=tmp_path / "r")
    ckpt = load_checkpoint(result.run_dir)
    X = np.stack([digits_table[f"px_{j}"].to_numpy() for j in range(64)], axis=1)[split == "train"]
    assert np.allclose(ckpt["mean"].numpy(), X.mean(axis=0), atol=1e-4)
    std = X.std(axis=0)
    assert np.allclose(ckpt["std"].numpy(), np.where(std > 1e-12, std, 1.0), atol=1e-4)


def test_predict_applies_saved_normalization(run, digits_path, tmp_path):
    written = predict(run.run_dir, digits_path, output=tmp_path / "p.parquet")
    out = pq.read_table(tmp_path / "p.parquet")
    stored = pq.read_table(run.run_dir / "predictions.parquet")
    assert written.column_names == out.column_names == stored.column_names
    assert written.num_rows == stored.num_rows
    for c in range(10):
        assert np.allclose(out[f"proba_{c}"].to_numpy(), stored[f"proba_{c}"].to_numpy(), atol=1e-6)
    assert pq.read_table(tmp_path / "p.parquet").num_rows == stored.num_rows
    # unlabeled data without split: predictions only
    table = pq.read_table(digits_path).drop(["label", "split"])
    bare = predict(run.run_dir, table)
    assert "y_true" not in bare.column_names and "split" not in bare.column_names
    assert bare["y_pred"].to_pylist() == stored["y_pred"].to_pylist()


def test_predict_missing_feature(run, digits_path):
    table = pq.read_table(digits_path).drop(["px_5"])
    with pytest.raises(InputError, match=r"missing feature column 'px_5'"):
        predict(run.run_dir, table)


def test_deterministic_with_seed(tmp_path, digits_path):
    config = small_config(digits_path, regularization=RegularizationConfig(keep_prob=0.8, l2=0.1))
    a = load_checkpoint(train(config, run_dir=tmp_path / "a").run_dir)["state_dict"]
    b = load_checkpoint(train(config, run_dir=tmp_path / "b").run_dir)["state_dict"]
    assert all(torch.equal(a[k], b[k]) for k in a)
    other = dataclasses.replace(config, optim=dataclasses.replace(config.optim, seed=1))
    c = load_checkpoint(train(other, run_dir=tmp_path / "c").run_dir)["state_dict"]
    assert not torch.equal(a["head.weight"], c["head.weight"])


@pytest.fixture(scope="module")
def overfit_path(tmp_path_factory, digits_table):
    """60 train rows: a big network overfits within a few epochs, so dev cost turns up."""
    split = np.array(digits_table["split"].to_pylist())
    train_idx = np.flatnonzero(split == "train")[:60]
    keep = np.concatenate([train_idx, np.flatnonzero(split == "dev")])
    path = tmp_path_factory.mktemp("overfit") / "m.parquet"
    pq.write_table(digits_table.take(keep), path)
    return path


def overfit_config(path, **es):
    return small_config(path, model=ModelConfig(hidden=(256,)), optim=OptimConfig(epochs=40, lr=0.01, batch_size=16),
                        early_stopping=EarlyStoppingConfig(**es))


def test_restore_best_when_early_stopping_fires(tmp_path, overfit_path):
    r = train(overfit_config(overfit_path, patience=3), run_dir=tmp_path / "r")
    h = r.history
    dev_costs = [e["dev_cost"] for e in h["epochs"]]
    assert h["stopped_early"] and len(dev_costs) < 40
    assert len(dev_costs) == h["best_epoch"] + 3
    assert h["restored_best"]
    assert r.metrics["dev"]["cost"] == pytest.approx(min(dev_costs), rel=1e-5)


def test_restore_best_when_early_stopping_did_not_fire(tmp_path, overfit_path):
    # the bug to avoid: restoring only when training stopped early
    r = train(overfit_config(overfit_path, patience=0), run_dir=tmp_path / "r")
    h = r.history
    dev_costs = [e["dev_cost"] for e in h["epochs"]]
    assert not h["stopped_early"] and len(dev_costs) == 40
    assert h["best_epoch"] < 40  # precondition: the last epoch is not the best
    assert h["best_epoch"] == int(np.argmin(dev_costs)) + 1
    assert h["restored_best"]
    assert r.metrics["dev"]["cost"] == pytest.approx(min(dev_costs), rel=1e-5)
    assert r.metrics["dev"]["cost"] < dev_costs[-1]


def test_no_restore_keeps_last_weights(tmp_path, overfit_path):
    r = train(overfit_config(overfit_path, patience=0, restore_best=False), run_dir=tmp_path / "r")
    assert not r.history["restored_best"]
    assert r.metrics["dev"]["cost"] == pytest.approx(r.history["epochs"][-1]["dev_cost"], rel=1e-5)


def test_early_stopping_on_dev_error_with_min_delta(tmp_path, overfit_path):
    r = train(overfit_config(overfit_path, monitor="dev_error", patience=2, min_delta=0.5),
              run_dir=tmp_path / "r")
    # no epoch can improve dev error by more than 0.5 after the first: stops after 1 + 2 epochs
    assert r.history["stopped_early"] and len(r.history["epochs"]) == 3 and r.history["best_epoch"] == 1


def _fitter(l2=0.0, l1=0.0, optimizer="gd"):
    torch.manual_seed(0)
    X = torch.randn(40, 6)
    y = torch.randint(0, 3, (40,))
    net = Network(Architecture("mlp", 6, (5,), 3, "tanh"))
    initialize([*net.body_layers(), net.head], "xavier", torch.Generator().manual_seed(0))
    config = TrainConfig(regularization=RegularizationConfig(l2=l2, l1=l1),
                         optim=OptimConfig(optimizer=optimizer, lr=0.5, batch_size=0, epochs=1))
    return Fitter(net, config, X, y, generator=torch.Generator().manual_seed(0))


def test_l2_adds_lambda_over_m_times_w_to_the_step():
    lam, alpha, m = 3.0, 0.5, 40
    plain, reg = _fitter(), _fitter(l2=lam)
    w0 = {k: v.clone() for k, v in reg.model.state_dict().items()}
    plain.run_epoch()
    reg.run_epoch()  # one full-batch gradient-descent step
    for k, w in reg.model.state_dict().items():
        shift = w - plain.model.state_dict()[k]
        if k.endswith("weight"):  # W <- W - alpha (dJ/dW + (lambda/m) W)
            assert torch.allclose(shift, -alpha * lam / m * w0[k], atol=1e-6)
        else:
            assert torch.allclose(shift, torch.zeros_like(shift), atol=1e-7)


def test_l1_adds_lambda_over_m_times_sign_w():
    lam, alpha, m = 2.0, 0.5, 40
    plain, reg = _fitter(), _fitter(l1=lam)
    w0 = {k: v.clone() for k, v in reg.model.state_dict().items()}
    plain.run_epoch()
    reg.run_epoch()
    for k, w in reg.model.state_dict().items():
        if k.endswith("weight"):
            expected = -alpha * lam / m * torch.sign(w0[k])
            assert torch.allclose(w - plain.model.state_dict()[k], expected, atol=1e-6)


def test_reported_train_cost_includes_the_penalty():
    f = _fitter(l2=5.0)
    J, _ = f.cost(f.X_train, f.y_train, regularized=True)
    data, _ = f.cost(f.X_train, f.y_train, regularized=False)
    w2 = sum(float((p.detach() ** 2).sum()) for n, p in f.model.named_parameters() if n.endswith("weight"))
    assert J - data == pytest.approx(5.0 / (2 * 40) * w2, rel=1e-5)


@pytest.mark.parametrize("name, cls, check", [
    ("gd", torch.optim.SGD, lambda g: g["momentum"] == 0),
    ("momentum", torch.optim.SGD, lambda g: g["momentum"] == 0.8),
    ("rmsprop", torch.optim.RMSprop, lambda g: g["alpha"] == 0.95),
    ("adam", torch.optim.Adam, lambda g: g["betas"] == (0.8, 0.95)),
])
def test_optimizer_mapping(name, cls, check):
    net = Network(Architecture("mlp", 4, (3,), 2, "relu"))
    config = TrainConfig(optim=OptimConfig(optimizer=name, lr=0.1, beta1=0.8, beta2=0.95),
                         regularization=RegularizationConfig(l2=2.0))
    opt = make_optimizer(net, config, m=10)
    assert isinstance(opt, cls)
    weights, biases = opt.param_groups
    assert check(weights) and weights["lr"] == 0.1
    assert weights["weight_decay"] == pytest.approx(0.2) and biases["weight_decay"] == 0.0
    assert len(weights["params"]) == 2 and all(p.dim() == 2 for p in weights["params"])


def test_dataloader_path_learns_and_is_deterministic(tmp_path, digits_path):
    config = small_config(digits_path, data=DataConfig(manifest=str(digits_path), feature_prefix="px_",
                                                       loader="dataloader"))
    a, b = train(config, run_dir=tmp_path / "a"), train(config, run_dir=tmp_path / "b")
    assert a.metrics["dev"]["error"] < 0.3
    assert a.metrics == b.metrics


def test_augmentation_touches_train_batches_only(tmp_path, digits_path, monkeypatch):
    import mlstrat.mismatch.transforms as transforms

    seen = []
    original = transforms.apply_transforms

    def spy(x, names, **kwargs):
        seen.append((x.shape, tuple(names), kwargs["value_range"]))
        return original(x, names, **kwargs)

    monkeypatch.setattr(transforms, "apply_transforms", spy)
    config = small_config(digits_path, regularization=RegularizationConfig(augment=("shift", "noise")),
                          data=DataConfig(manifest=str(digits_path), feature_prefix="px_",
                                          image_shape=(1, 8, 8), value_range=(0.0, 16.0)))
    r = train(config, run_dir=tmp_path / "r")
    n_train = r.metrics["train"]["n"]
    assert sum(s[0][0] for s in seen) == 3 * n_train  # every train row once per epoch, nothing else
    assert all(s[0][1:] == (1, 8, 8) and s[1] == ("shift", "noise") and s[2] == (0.0, 16.0) for s in seen)


def test_cnn_trains(tmp_path, digits_path):
    config = small_config(digits_path, model=ModelConfig(kind="cnn", hidden=(32,), channels=(8,)))
    r = train(config, run_dir=tmp_path / "r")
    assert r.metrics["dev"]["error"] < 0.5
    assert any(k.startswith("convs.0") for k in load_checkpoint(r.run_dir)["state_dict"])


def test_progress_is_quiet_when_not_a_tty(tmp_path, digits_path, capfd):
    train(small_config(digits_path), run_dir=tmp_path / "r", progress=None)
    captured = capfd.readouterr()
    assert captured.out == "" and captured.err == ""


def test_progress_bar_shows_train_cost_and_dev_error(tmp_path, digits_path, monkeypatch):
    import mlstrat._progress as progress

    labels = []
    monkeypatch.setattr(progress.Steps, "advance", lambda self, label=None, amount=1: labels.append(label))
    train(small_config(digits_path), run_dir=tmp_path / "r", progress=True)
    assert len(labels) == 3
    assert labels[0].startswith("epoch 1/3  train cost ") and " dev error " in labels[0]


def test_device_auto(monkeypatch):
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto").type == "cuda"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ConfigError, match="device = 'cuda' but no CUDA GPU is available"):
        resolve_device("cuda")


def test_string_labels_and_refusing_to_overwrite(tmp_path, digits_table):
    names = np.array(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"])
    table = digits_table.set_column(1, "label", pa.array(names[digits_table["label"].to_numpy()]))
    path = tmp_path / "m.parquet"
    pq.write_table(table, path)
    r = train(small_config(path, optim=OptimConfig(epochs=1)), run_dir=tmp_path / "r")
    preds = pq.read_table(r.run_dir / "predictions.parquet")
    assert "proba_seven" in preds.column_names
    assert set(preds["y_pred"].to_pylist()) <= set(names)
    with pytest.raises(InputError, match="already holds a trained run"):
        train(small_config(path, optim=OptimConfig(epochs=1)), run_dir=tmp_path / "r")


# --- bad input ---------------------------------------------------------------------------------

def _write(tmp_path, table):
    path = tmp_path / "bad.parquet"
    pq.write_table(table, path)
    return path


def test_manifest_without_split(tmp_path, digits_table):
    path = _write(tmp_path, digits_table.drop(["split"]))
    with pytest.raises(InputError, match=r"bad.parquet: no 'split' column; .* Run `mlstrat split"):
        train(small_config(path), run_dir=tmp_path / "r")


def test_unknown_split_value(tmp_path, digits_table):
    split = digits_table["split"].to_pylist()
    split[0] = "validation"
    path = _write(tmp_path, digits_table.set_column(digits_table.column_names.index("split"), "split", pa.array(split)))
    with pytest.raises(InputError, match=r"unknown value\(s\) 'validation'; allowed: train, train_dev, dev, test"):
        train(small_config(path), run_dir=tmp_path / "r")


def test_missing_feature_column(tmp_path, digits_path):
    config = small_config(digits_path, data=DataConfig(manifest=str(digits_path), features=("px_0", "px_99")))
    with pytest.raises(InputError, match=r"missing feature column 'px_99'"):
        train(config, run_dir=tmp_path / "r")


def test_nan_features_name_column_and_count(tmp_path, digits_table):
    col = digits_table["px_10"].to_numpy().copy()
    col[[3, 50, 70]] = np.nan
    path = _write(tmp_path, digits_table.set_column(digits_table.column_names.index("px_10"), "px_10", pa.array(col)))
    with pytest.raises(InputError, match=r"feature column 'px_10' has 3 NaN/empty value\(s\); fill or drop"):
        train(small_config(path), run_dir=tmp_path / "r")


def test_label_unseen_in_train(tmp_path, digits_table):
    labels = digits_table["label"].to_numpy().copy()
    split = np.array(digits_table["split"].to_pylist())
    dev = np.flatnonzero(split == "dev")[:4]
    labels[dev] = 42
    path = _write(tmp_path, digits_table.set_column(1, "label", pa.array(labels)))
    with pytest.raises(InputError, match=r"label\(s\) never seen in train: 42 in dev \(4 rows\)"):
        train(small_config(path), run_dir=tmp_path / "r")


def test_no_features_selected(tmp_path, digits_path):
    config = small_config(digits_path, data=DataConfig(manifest=str(digits_path)))
    with pytest.raises(InputError, match=r"no features selected; set \[data\] features"):
        train(config, run_dir=tmp_path / "r")


def test_image_shape_must_match_features(tmp_path, digits_path):
    config = small_config(digits_path, data=DataConfig(manifest=str(digits_path), feature_prefix="px_",
                                                       image_shape=(1, 4, 4)))
    with pytest.raises(InputError, match=r"image_shape = \[1, 4, 4\] holds 16 values but 64 feature columns"):
        train(config, run_dir=tmp_path / "r")


def test_test_split_is_sealed_by_default(tmp_path, digits_path):
    r = train(small_config(digits_path), run_dir=tmp_path / "r")
    metrics = json.loads((r.run_dir / "metrics.json").read_text())
    assert "test" not in metrics and "test" not in r.metrics and "dev" in metrics
    assert [w["code"] for w in r.warnings] == ["test_sealed"]
    preds = read_predictions(r.run_dir / "predictions.parquet", require_id=True)
    assert preds.sizes["test"] > 0  # the predictions still hold the test rows


def test_metrics_file_is_sealed_when_written_not_after(tmp_path, digits_path, monkeypatch):
    """A process that dies right after the run directory is published (before the result is
    sealed) leaves no test figure on disk: metrics.json is written sealed in the staged folder."""
    import mlstrat.nn._train as trainer

    def die(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(trainer, "_seal_test", die)
    with pytest.raises(KeyboardInterrupt):
        train(small_config(digits_path), run_dir=tmp_path / "r")
    metrics = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert "test" not in metrics and {"train", "dev"} <= set(metrics)

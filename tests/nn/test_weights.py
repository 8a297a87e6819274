"""[data] weight_col: importance weights of the train rows in the training loss.

Reference computations: scikit-learn's weighted log loss, a hand-written weighted binary
cross-entropy, training on duplicated rows (integer weights), training without the rows
(weight 0), and the in-memory loader against the streaming one.
"""

from __future__ import annotations

import dataclasses
import tomllib

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from mlstrat import ConfigError, InputError
from mlstrat.nn import DataConfig, EarlyStoppingConfig, ModelConfig, OptimConfig, TrainConfig, train
from mlstrat.nn._model import Architecture, Network, initialize, weighted_cost_sums
from mlstrat.nn._fitter import Fitter

# -- the loss ------------------------------------------------------------------------------------


def test_weighted_loss_is_sklearns_weighted_log_loss():
    from sklearn.metrics import log_loss

    rng = np.random.default_rng(0)
    logits = torch.from_numpy(rng.normal(size=(50, 4)))
    y = torch.from_numpy(rng.integers(0, 4, 50))
    w = torch.from_numpy(rng.uniform(0, 3, 50))
    num, den = weighted_cost_sums(logits, y, w, multitask=False)
    proba = torch.softmax(logits, dim=1).numpy()
    expected = log_loss(y.numpy(), proba, sample_weight=w.numpy(), labels=[0, 1, 2, 3])
    assert float(num / den) == pytest.approx(expected, rel=1e-12)
    assert float(den) == pytest.approx(float(w.sum()), rel=1e-15)


def test_weighted_multitask_loss_by_hand():
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(30, 2))
    y = rng.integers(0, 2, (30, 2)).astype(np.float64)
    y[rng.random(y.shape) < 0.3] = np.nan
    w = rng.uniform(0, 2, 30)
    num, den = weighted_cost_sums(torch.from_numpy(logits), torch.from_numpy(y), torch.from_numpy(w),
                                  multitask=True)
    p = 1 / (1 + np.exp(-logits))
    total = weight = 0.0
    for i in range(30):
        for t in range(2):
            if not np.isnan(y[i, t]):
                total += w[i] * -(y[i, t] * np.log(p[i, t]) + (1 - y[i, t]) * np.log(1 - p[i, t]))
                weight += w[i]
    assert float(num) == pytest.approx(total, rel=1e-12) and float(den) == pytest.approx(weight, rel=1e-12)


# -- training: duplicated rows, dropped rows -----------------------------------------------------


def _data(n: int = 60, seed: int = 2, *, multitask: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 5))
    if multitask:
        y = (X[:, :2] + rng.normal(scale=0.5, size=(n, 2)) > 0).astype(np.float64)
        y[rng.random(y.shape) < 0.2] = np.nan
        return torch.from_numpy(X), torch.from_numpy(y)
    return torch.from_numpy(X), torch.from_numpy((X[:, 0] + X[:, 1] > 0).astype(np.int64) + (X[:, 2] > 1))


def _fit(X: torch.Tensor, y: torch.Tensor, w: torch.Tensor | None = None, *,
         multitask: bool = False) -> tuple[dict, dict]:
    """Full-batch Adam in float64 from a fixed init: (state_dict, history)."""
    outputs = y.shape[1] if multitask else 3
    config = TrainConfig(optim=OptimConfig(optimizer="adam", lr=0.05, batch_size=0, epochs=8, device="cpu"),
                         early_stopping=EarlyStoppingConfig(restore_best=False))
    net = Network(Architecture("mlp", 5, (8,), outputs, "tanh"))
    initialize([*net.body_layers(), net.head], "xavier", torch.Generator().manual_seed(0))
    net.double()
    if multitask:
        config = dataclasses.replace(config, multitask=dataclasses.replace(config.multitask, tasks=("a", "b")))
    history = Fitter(net, config, X, y, generator=torch.Generator().manual_seed(0), w_train=w).fit(progress=False)
    return net.state_dict(), history


def _assert_same_training(a: tuple[dict, dict], b: tuple[dict, dict]) -> None:
    for name, value in a[0].items():
        torch.testing.assert_close(value, b[0][name], rtol=0, atol=1e-10)
    for ea, eb in zip(a[1]["epochs"], b[1]["epochs"], strict=True):
        assert ea["train_cost"] == pytest.approx(eb["train_cost"], rel=1e-10)
        assert ea["train_error"] == pytest.approx(eb["train_error"], rel=1e-10)


@pytest.mark.parametrize("multitask", [False, True])
def test_integer_weights_train_like_duplicated_rows(multitask):
    X, y = _data(multitask=multitask)
    counts = np.random.default_rng(3).integers(1, 4, len(X))
    rows = torch.from_numpy(np.repeat(np.arange(len(X)), counts))
    weighted = _fit(X, y, torch.from_numpy(counts.astype(np.float64)), multitask=multitask)
    duplicated = _fit(X[rows], y[rows], multitask=multitask)
    _assert_same_training(weighted, duplicated)
    plain = _fit(X, y, multitask=multitask)  # the weights matter: without them the fit differs
    assert max(float((plain[0][k] - weighted[0][k]).abs().max()) for k in plain[0]) > 1e-3


@pytest.mark.parametrize("multitask", [False, True])
def test_rows_of_weight_zero_have_no_effect(multitask):
    X, y = _data(multitask=multitask)
    junk_X, junk_y = _data(25, seed=9, multitask=multitask)
    junk_y = junk_y.flip(0)  # labels that disagree with the features
    w = torch.cat([torch.ones(len(X), dtype=torch.float64), torch.zeros(len(junk_X), dtype=torch.float64)])
    with_junk = _fit(torch.cat([X, junk_X]), torch.cat([y, junk_y]), w, multitask=multitask)
    _assert_same_training(with_junk, _fit(X, y, multitask=multitask))


def test_scaling_the_weights_changes_nothing():
    X, y = _data()
    w = torch.from_numpy(np.random.default_rng(4).uniform(0.1, 2.0, len(X)))
    _assert_same_training(_fit(X, y, w), _fit(X, y, w * 1000.0))


# -- train(): the manifest's column, memory and stream loaders ------------------------------------


def _manifest(tmp_path, n: int = 120, **columns) -> str:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, 3))
    split = np.where(np.arange(n) % 4 == 0, "dev", "train")
    table = {"id": np.arange(n), "split": split, "label": (X[:, 0] + X[:, 1] > 0).astype(np.int64),
             "f_0": X[:, 0], "f_1": X[:, 1], "f_2": X[:, 2],
             "w": np.where(split == "train", rng.uniform(0.0, 3.0, n), np.nan)}  # dev: no weight
    table.update(columns)
    path = tmp_path / "manifest.parquet"
    pq.write_table(pa.table(table), path)
    return str(path)


def _config(manifest: str, *, loader: str = "memory", weight_col: str | None = "w", **data) -> TrainConfig:
    return TrainConfig(
        data=DataConfig(manifest=manifest, feature_prefix="f_", loader=loader, weight_col=weight_col, **data),
        model=ModelConfig(hidden=(8,)),
        optim=OptimConfig(optimizer="gd", lr=0.5, batch_size=0, epochs=4, device="cpu"),
        early_stopping=EarlyStoppingConfig(restore_best=False))


def _weights(run) -> dict:
    return torch.load(run.run_dir / "model.pt", weights_only=False)["state_dict"]


def test_streamed_weighted_training_equals_in_memory(tmp_path):
    manifest = _manifest(tmp_path)
    memory = train(_config(manifest), run_dir=tmp_path / "m", progress=False)
    stream = train(_config(manifest, loader="stream", chunk_size=32), run_dir=tmp_path / "s", progress=False)
    plain = train(_config(manifest, weight_col=None), run_dir=tmp_path / "p", progress=False)
    for name, value in _weights(memory).items():
        torch.testing.assert_close(_weights(stream)[name], value, rtol=0, atol=1e-5)
    assert max(float((_weights(plain)[k] - v).abs().max()) for k, v in _weights(memory).items()) > 1e-3
    # the epoch figures are the weighted ones; the dev figures are not weighted
    for a, b in zip(memory.history["epochs"], stream.history["epochs"], strict=True):
        assert a["train_cost"] == pytest.approx(b["train_cost"], rel=1e-5)
        assert a["dev_cost"] == pytest.approx(b["dev_cost"], rel=1e-5)


def test_dev_cost_is_not_weighted(tmp_path):
    manifest = _manifest(tmp_path)
    run = train(_config(manifest), run_dir=tmp_path / "m", progress=False)
    preds = pq.read_table(run.run_dir / "predictions.parquet").to_pandas()
    dev = preds[preds.split == "dev"]
    proba = np.where(dev.y_true == 1, dev.proba_1, dev.proba_0)
    assert run.history["epochs"][-1]["dev_cost"] == pytest.approx(float(-np.log(proba).mean()), rel=1e-5)
    assert run.metrics["dev"]["cost"] == pytest.approx(float(-np.log(proba).mean()), rel=1e-6)


def test_weight_col_is_in_the_resolved_config_and_the_run_record(tmp_path):
    from typer.testing import CliRunner

    from mlstrat.cli import app
    from mlstrat.runs import RunStore

    manifest = _manifest(tmp_path)
    config = tmp_path / "c.toml"
    config.write_text(f'[data]\nmanifest = "{manifest}"\nfeature_prefix = "f_"\nweight_col = "w"\n'
                      '[model]\nhidden = [4]\n[optim]\nepochs = 1\n')
    store = tmp_path / "runs.db"
    result = CliRunner().invoke(app, ["train", str(config), "-o", str(tmp_path / "r"), "--store", str(store)])
    assert result.exit_code == 0, result.output
    resolved = tomllib.loads((tmp_path / "r" / "config.resolved.toml").read_text())
    assert resolved["data"]["weight_col"] == "w"
    (run,) = RunStore(store).list()
    assert run.config["data"]["weight_col"] == "w"
    assert TrainConfig.from_toml(tmp_path / "r" / "config.resolved.toml").data.weight_col == "w"


# -- bad weights: one line, exit 2 ----------------------------------------------------------------

W = "weight column 'w'"


@pytest.mark.parametrize("values, message", [
    (["1", "2"], f"{W} \\(\\[data\\] weight_col\\) has type string; importance weights must be numbers >= 0"),
    ([-0.5, 1.0], f"{W} has 45 negative value\\(s\\) in train rows \\(smallest -0.5\\); importance weights "
                  "must be >= 0"),
    ([np.nan, 1.0], f"{W} has 45 empty, NaN or infinite value\\(s\\) in train rows; every train row needs a "
                    "finite weight >= 0 \\(give target rows in train one too\\)"),
    ([np.inf, 1.0], f"{W} has 45 empty, NaN or infinite value\\(s\\) in train rows"),
    ([None, 1.0], f"{W} has 45 empty, NaN or infinite value\\(s\\) in train rows"),
    ([0.0, 0.0], f"{W} is 0 on every train row; at least one train row needs a positive weight"),
])
@pytest.mark.parametrize("loader", ["memory", "stream"])
def test_bad_weights_are_refused_by_both_loaders(tmp_path, values, message, loader):
    n = 120
    # rows 0-3, 8-11, ... get values[0]: 15 blocks x 3 train rows (row 4k is dev) = 45 train rows
    w = [values[(i // 4) % 2] for i in range(n)]
    if values == [0.0, 0.0]:
        w = [0.0 if i % 4 else 5.0 for i in range(n)]  # only dev rows (i % 4 == 0) are positive
    manifest = _manifest(tmp_path, w=pa.array(w))
    with pytest.raises(InputError, match=f"^{manifest}: {message}"):
        train(_config(manifest, loader=loader), run_dir=tmp_path / "r", progress=False)
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("loader", ["memory", "stream"])
def test_a_missing_weight_column_suggests_the_near_name(tmp_path, loader):
    manifest = _manifest(tmp_path, weight=np.ones(120))
    with pytest.raises(InputError, match=f"^{manifest}: missing weight column \\(\\[data\\] weight_col\\) "
                                         "'wieght' \\(did you mean 'weight'\\?\\); available columns: id, split"):
        train(_config(manifest, loader=loader, weight_col="wieght"), run_dir=tmp_path / "r", progress=False)


def test_a_weight_column_picked_up_by_the_feature_prefix_is_refused(tmp_path):
    manifest = _manifest(tmp_path, f_w=np.ones(120))
    with pytest.raises(InputError, match=f"^{manifest}: weight column 'f_w' is also selected as a feature by "
                                         "feature_prefix 'f_'; rename the weight column or list \\[data\\] "
                                         "features$"):
        train(_config(manifest, weight_col="f_w"), run_dir=tmp_path / "r", progress=False)


@pytest.mark.parametrize("data, message", [
    (dict(weight_col="label"), "[data] weight_col = 'label' is also the label column"),
    (dict(weight_col="id"), "[data] weight_col = 'id' is also the id column"),
    (dict(weight_col="px_1", features=("px_0", "px_1")), "[data] weight_col = 'px_1' is also listed in features"),
    (dict(weight_col=""), "[data] weight_col is empty"),
])
def test_config_refuses_a_weight_column_with_another_role(data, message):
    with pytest.raises(ConfigError, match="^" + message.replace("[", "\\[").replace("]", "\\]")):
        DataConfig(**data)


def test_cli_prints_one_line_and_exits_2(tmp_path):
    from typer.testing import CliRunner

    from mlstrat.cli import app

    manifest = _manifest(tmp_path, w=np.full(120, -1.0))
    config = tmp_path / "c.toml"
    config.write_text(f'[data]\nmanifest = "{manifest}"\nfeature_prefix = "f_"\nweight_col = "w"\n')
    result = CliRunner().invoke(app, ["train", str(config), "-o", str(tmp_path / "r"), "--no-record"])
    assert result.exit_code == 2
    assert "weight column 'w' has 90 negative value(s) in train rows (smallest -1)" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("scale", [1e-300, 1e300])
def test_extreme_weight_scales_train_the_same_model(scale):
    """The loss sum(w l) / sum(w) is scale invariant; so is training, however small or large the weights."""
    X, y = _data()
    w = torch.from_numpy(np.random.default_rng(4).uniform(0.1, 2.0, len(X)))
    _assert_same_training(_fit(X, y, w), _fit(X, y, w * scale))


@pytest.mark.parametrize("loader", ["memory", "stream"])
@pytest.mark.parametrize("scale", [1e-300, 1e300])
def test_extreme_weight_scales_in_the_manifest_train_the_same_model(tmp_path, loader, scale):
    """Weights are divided by their largest train value (in float64) before the float32 training
    casts them: 1e-300 would otherwise be 0 and 1e300 infinite."""
    manifest = _manifest(tmp_path)
    table = pq.read_table(manifest)
    scaled = tmp_path / "scaled.parquet"
    pq.write_table(table.set_column(table.schema.get_field_index("w"), "w",
                                    pa.array(table.column("w").to_numpy() * scale)), scaled)
    base = train(_config(manifest, loader=loader), run_dir=tmp_path / "a", progress=False)
    run = train(_config(str(scaled), loader=loader), run_dir=tmp_path / "b", progress=False)
    for name, value in _weights(base).items():
        torch.testing.assert_close(_weights(run)[name], value, rtol=0, atol=1e-6)
    for a, b in zip(base.history["epochs"], run.history["epochs"], strict=True):
        assert a["train_cost"] == pytest.approx(b["train_cost"], rel=1e-6)

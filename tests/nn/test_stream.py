"""The streaming loader ([data] loader = "stream") and image files on disk ([data] image_col)."""

import dataclasses
import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from mlstrat import ConfigError, InputError
from mlstrat.nn import DataConfig, ModelConfig, OptimConfig, TrainConfig, predict, train
from mlstrat.nn._checkpoint import load_checkpoint
from mlstrat.nn._data import Normalizer, load_dataset
from mlstrat.nn._stream import StreamSource, TrainStream, choose_loader, load_images
from mlstrat.nn._train import _resolve_loader
from mlstrat.tables import connect, read_predictions
from tests.nn.conftest import small_config

RUN_FILES = ["config.resolved.toml", "history.json", "metrics.json", "model.pt", "predictions.parquet"]


def stream_config(manifest, **data):
    config = small_config(manifest)
    options = dict(loader="stream", chunk_size=128, shuffle_buffer=512)
    options.update(data)
    return dataclasses.replace(config, data=dataclasses.replace(config.data, **options))


@pytest.fixture(scope="module")
def memory_run(tmp_path_factory, digits_path):
    config = dataclasses.replace(small_config(digits_path),
                                 data=dataclasses.replace(small_config(digits_path).data, loader="memory"))
    return train(config, run_dir=tmp_path_factory.mktemp("mem") / "r", test=True, store=False)


@pytest.fixture(scope="module")
def stream_run(tmp_path_factory, digits_path):
    return train(stream_config(digits_path), run_dir=tmp_path_factory.mktemp("stream") / "r", test=True,
                 store=False)


def test_stream_statistics_match_memory(digits_path):
    data = DataConfig(manifest=str(digits_path), feature_prefix="px_", chunk_size=97)  # many uneven chunks
    stats = StreamSource.open(str(digits_path), data).scan()
    ds = load_dataset(str(digits_path), data)
    reference = Normalizer.fit(ds.X[ds.mask("train")])
    np.testing.assert_allclose(stats.normalizer.mean, reference.mean, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(stats.normalizer.std, reference.std, rtol=1e-6, atol=1e-6)
    # and against an independent float64 computation
    X = ds.X[ds.mask("train")].astype(np.float64)
    np.testing.assert_allclose(stats.normalizer.mean, X.mean(0), rtol=1e-6, atol=1e-6)
    assert stats.classes == ds.classes
    assert stats.m == int(ds.mask("train").sum())
    assert stats.n == {s: int(ds.mask(s).sum()) for s in ("train", "train_dev", "dev", "test")}
    assert (stats.low, stats.high) == (float(X.min()), float(X.max()))


def test_decimal_features_read_as_numbers(tmp_path, digits_table):
    # Spark and SQL exports write fixed-point features as decimals: both loaders refused them as
    # "has type decimal128(8, 2); features must be numeric"
    import pyarrow.compute as pc

    decimal, floating = digits_table, digits_table
    for i, name in enumerate(digits_table.column_names):
        if name.startswith("px_"):
            decimal = decimal.set_column(i, name, pc.round(digits_table[name], 2).cast(pa.decimal128(8, 2)))
            floating = floating.set_column(i, name, decimal[name].cast(pa.float64()))
    pq.write_table(decimal, tmp_path / "decimal.parquet")
    pq.write_table(floating, tmp_path / "float.parquet")
    floats = DataConfig(manifest=str(tmp_path / "float.parquet"), feature_prefix="px_", chunk_size=97)
    decimals = dataclasses.replace(floats, manifest=str(tmp_path / "decimal.parquet"))
    np.testing.assert_array_equal(load_dataset(decimals.manifest, decimals).X,
                                  load_dataset(floats.manifest, floats).X)
    streamed = StreamSource.open(decimals.manifest, decimals).scan().normalizer
    reference = StreamSource.open(floats.manifest, floats).scan().normalizer
    np.testing.assert_allclose(streamed.mean, reference.mean, rtol=1e-6)
    np.testing.assert_allclose(streamed.std, reference.std, rtol=1e-6)


def test_stream_run_directory_contract(stream_run, memory_run, digits_table):
    run_dir = stream_run.run_dir
    assert sorted(p.name for p in run_dir.iterdir()) == RUN_FILES
    history = json.loads((run_dir / "history.json").read_text())
    assert history == stream_run.history and [e["epoch"] for e in history["epochs"]] == [1, 2, 3]
    assert set(history["epochs"][0]) == set(memory_run.history["epochs"][0])

    preds = pq.read_table(run_dir / "predictions.parquet")
    mem = pq.read_table(memory_run.run_dir / "predictions.parquet")
    assert preds.column_names == mem.column_names
    assert preds.num_rows == digits_table.num_rows
    assert preds["id"].to_pylist() == digits_table["id"].to_pylist()  # manifest order kept
    assert preds["y_true"].to_pylist() == mem["y_true"].to_pylist()
    assert preds["group"].to_pylist() == digits_table["group"].to_pylist()
    proba = np.stack([preds[f"proba_{c}"].to_numpy() for c in range(10)], axis=1)
    assert np.allclose(proba.sum(axis=1), 1.0)
    assert np.array_equal(proba.argmax(axis=1), preds["y_pred"].to_numpy())
    checked = read_predictions(run_dir / "predictions.parquet", require_id=True)
    assert set(checked.sizes) == {"train", "train_dev", "dev", "test"}
    assert len(checked.proba_columns) == 10

    metrics = json.loads((run_dir / "metrics.json").read_text())
    split = np.array(preds["split"].to_pylist())
    wrong = preds["y_true"].to_numpy() != preds["y_pred"].to_numpy()
    p_true = proba[np.arange(len(proba)), preds["y_true"].to_numpy()]
    for s in ("train", "train_dev", "dev", "test"):
        rows = split == s
        assert metrics[s]["n"] == int(rows.sum())
        assert metrics[s]["error"] == pytest.approx(wrong[rows].mean())
        assert metrics[s]["cost"] == pytest.approx(-np.log(p_true[rows] + 1e-12).mean())
    # the last epoch's dev figures are the streamed dev pass over the final weights
    assert history["epochs"][-1]["dev_error"] == pytest.approx(metrics["dev"]["error"])

    ckpt = load_checkpoint(run_dir)
    ref = load_checkpoint(memory_run.run_dir)
    assert ckpt["feature_names"] == ref["feature_names"] and ckpt["classes"] == ref["classes"]
    torch.testing.assert_close(ckpt["mean"], ref["mean"], rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(ckpt["std"], ref["std"], rtol=1e-6, atol=1e-6)
    assert TrainConfig.from_toml(run_dir / "config.resolved.toml").data.loader == "stream"
    # predict() on the streamed model gives the streamed predictions
    again = predict(run_dir, digits_table)
    np.testing.assert_allclose(again["proba_3"].to_numpy(), preds["proba_3"].to_numpy(), atol=1e-6)


def test_stream_learns_like_memory(stream_run, memory_run):
    mem, st = memory_run.metrics["dev"]["error"], stream_run.metrics["dev"]["error"]
    print(f"\ndev error after 3 epochs: memory {mem:.4f}, stream {st:.4f}")
    assert st < 0.3
    assert abs(st - mem) < 0.06


def test_stream_is_deterministic_with_a_seed(tmp_path, digits_path):
    config = stream_config(digits_path, shuffle_buffer=256)
    config = dataclasses.replace(config, optim=dataclasses.replace(config.optim, epochs=2))
    a = train(config, run_dir=tmp_path / "a")
    b = train(config, run_dir=tmp_path / "b")
    other = dataclasses.replace(config, optim=dataclasses.replace(config.optim, seed=1))
    c = train(other, run_dir=tmp_path / "c")
    sa, sb, sc = (load_checkpoint(r.run_dir)["state_dict"] for r in (a, b, c))
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not all(torch.equal(sa[k], sc[k]) for k in sa)
    assert a.history == b.history
    pa_, pb_ = (pq.read_table(r.run_dir / "predictions.parquet") for r in (a, b))
    assert pa_.equals(pb_)


def test_shuffle_buffer_yields_every_train_row_once_in_a_seeded_order(digits_path):
    data = DataConfig(manifest=str(digits_path), feature_prefix="px_", chunk_size=50, shuffle_buffer=200)
    src = StreamSource.open(str(digits_path), data)
    stats = src.scan()
    identity = Normalizer(np.zeros(64, np.float32), np.ones(64, np.float32))
    stream = TrainStream(src, stats, identity, batch_size=64, device=torch.device("cpu"))
    ds = load_dataset(str(digits_path), data)
    train_X = ds.X[ds.mask("train")]

    def epoch(seed):
        batches = list(stream.epoch(seed))
        assert all(len(y) == 64 and w is None for _, y, w in batches[:-1]) and 0 < len(batches[-1][1]) <= 64
        return torch.cat([x for x, _, _ in batches]).numpy(), torch.cat([y for _, y, _ in batches]).numpy()

    X1, y1 = epoch(1)
    X1b, _ = epoch(1)
    X2, _ = epoch(2)
    assert X1.shape == train_X.shape
    # a permutation of the train rows: same multiset of rows
    key = lambda X: np.array(sorted(map(bytes, np.ascontiguousarray(X))))  # noqa: E731
    assert np.array_equal(key(X1), key(train_X))
    assert np.array_equal(np.bincount(y1, minlength=10), np.bincount(ds.y[ds.mask("train")], minlength=10))
    assert np.array_equal(X1, X1b) and not np.array_equal(X1, X2)
    assert not np.array_equal(X1, train_X)  # shuffled
    # a bounded buffer: the first batch only draws from the first buffer's rows
    first = {bytes(r) for r in np.ascontiguousarray(train_X[:200])}
    assert all(bytes(r) in first for r in np.ascontiguousarray(X1[:64]))


def test_stream_never_materializes_the_manifest(tmp_path, digits_path, monkeypatch):
    import ibis.expr.types as ir

    import mlstrat.nn._stream as stream_module

    def refuse(*args, **kwargs):
        raise AssertionError("the whole manifest was materialized")

    con = connect()
    for name in ("to_pyarrow", "to_pandas", "execute", "to_pyarrow_batches"):
        monkeypatch.setattr(ir.Table, name, refuse)
        monkeypatch.setattr(type(con), name, refuse)
    seen = []
    real = stream_module.record_batches

    def spy(con_, expr, chunk_size):
        for batch in real(con_, expr, chunk_size):
            seen.append(batch.num_rows)
            yield batch

    monkeypatch.setattr(stream_module, "record_batches", spy)
    config = stream_config(digits_path, chunk_size=40, shuffle_buffer=100)
    config = dataclasses.replace(config, optim=dataclasses.replace(config.optim, epochs=1))
    # record=False: recording diagnoses the written predictions, which is not the stream's work
    result = train(config, run_dir=tmp_path / "r", con=con, record=False)
    assert result.metrics["dev"]["n"] == 283
    assert seen and max(seen) <= 40
    # the spy can fail: the memory path materializes the manifest
    memory = dataclasses.replace(config, data=dataclasses.replace(config.data, loader="memory"))
    with pytest.raises(AssertionError, match="materialized"):
        train(memory, run_dir=tmp_path / "m", con=con, record=False)


def test_auto_loader_threshold(digits_path, monkeypatch):
    config = small_config(digits_path)
    assert config.data.loader == "auto"
    monkeypatch.delenv("MLSTRAT_STREAM_ROWS", raising=False)
    assert _resolve_loader(config, None) == "memory"
    monkeypatch.setenv("MLSTRAT_STREAM_ROWS", "1000")  # digits: 1797 rows
    assert _resolve_loader(config, None) == "stream"
    monkeypatch.setenv("MLSTRAT_STREAM_ROWS", "5000")
    assert _resolve_loader(config, None) == "memory"
    assert choose_loader(DataConfig(image_col="path", image_shape=(1, 8, 8)), 10) == "stream"
    assert choose_loader(DataConfig(loader="memory"), 10**9) == "memory"
    monkeypatch.setenv("MLSTRAT_STREAM_ROWS", "many")
    with pytest.raises(ConfigError, match="MLSTRAT_STREAM_ROWS = 'many' must be a whole number"):
        _resolve_loader(config, None)


def test_stream_reports_bad_data_like_memory(tmp_path, digits_table):
    px = digits_table["px_10"].to_numpy().astype(np.float64)
    px[:3] = np.nan
    table = digits_table.set_column(digits_table.column_names.index("px_10"), "px_10", pa.array(px))
    pq.write_table(table, tmp_path / "nan.parquet")
    with pytest.raises(InputError, match=r"feature column 'px_10' has 3 NaN/empty value\(s\)"):
        train(stream_config(tmp_path / "nan.parquet"), run_dir=tmp_path / "r")

    split = np.array(digits_table["split"].to_pylist())
    labels = digits_table["label"].to_numpy().copy()
    labels[np.flatnonzero(split == "dev")[:4]] = 42
    table = digits_table.set_column(digits_table.column_names.index("label"), "label", pa.array(labels))
    pq.write_table(table, tmp_path / "unseen.parquet")
    with pytest.raises(InputError, match=r"label\(s\) never seen in train: 42 in dev \(4 rows\)"):
        train(stream_config(tmp_path / "unseen.parquet"), run_dir=tmp_path / "r")

    pq.write_table(digits_table.drop_columns(["split"]), tmp_path / "nosplit.parquet")
    with pytest.raises(InputError, match="no 'split' column"):
        train(stream_config(tmp_path / "nosplit.parquet"), run_dir=tmp_path / "r")
    assert not (tmp_path / "r").exists()


# -- image files on disk -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def image_manifest(tmp_path_factory, digits_table):
    """60 digits as 16x16 PNGs (6 per class: 4 train, 1 dev, 1 test) and a manifest of relative paths."""
    from PIL import Image

    root = tmp_path_factory.mktemp("images")
    (root / "img").mkdir()
    labels = digits_table["label"].to_numpy()
    X = np.stack([digits_table[f"px_{j}"].to_numpy() for j in range(64)], axis=1)
    rows, paths, splits = [], [], []
    for c in range(10):
        for k, i in enumerate(np.flatnonzero(labels == c)[:6]):
            pixels = (X[i].reshape(8, 8) * 255 / 16).round().astype(np.uint8)
            name = f"img/{c}_{k}.png"
            Image.fromarray(pixels, mode="L").resize((16, 16), Image.NEAREST).save(root / name)
            rows.append(i)
            paths.append(name)
            splits.append("train" if k < 4 else ("dev" if k == 4 else "test"))
    table = pa.table({"id": [f"im{i}" for i in rows], "path": paths, "label": labels[rows],
                      "split": splits})
    pq.write_table(table, root / "manifest.parquet")
    return root / "manifest.parquet"


def image_config(manifest, **model):
    return TrainConfig(
        data=DataConfig(manifest=str(manifest), image_col="path", image_shape=(1, 8, 8), chunk_size=16),
        model=ModelConfig(**{"kind": "cnn", "channels": (4,), "hidden": (16,), **model}),
        optim=OptimConfig(epochs=4, batch_size=16, lr=0.01))


def test_train_on_image_files(tmp_path, image_manifest):
    config = image_config(image_manifest)
    assert config.data.loader == "auto"  # auto streams image files
    result = train(config, run_dir=tmp_path / "r")
    assert sorted(p.name for p in result.run_dir.iterdir()) == RUN_FILES
    assert len(result.history["epochs"]) == 4
    preds = read_predictions(result.run_dir / "predictions.parquet", require_id=True)
    assert preds.sizes == {"train": 40, "dev": 10, "test": 10}
    assert len(preds.proba_columns) == 10
    assert result.metrics["train"]["n"] == 40
    assert result.metrics["train"]["error"] < 0.9  # it learned something in 4 epochs on 40 images

    # normalization: per pixel over the train images (decoded and resized), streamed
    manifest = pq.read_table(image_manifest)
    train_paths = [str(image_manifest.parent / p) for p, s in
                   zip(manifest["path"].to_pylist(), manifest["split"].to_pylist()) if s == "train"]
    X = load_images(train_paths, (1, 8, 8)).astype(np.float64)
    ckpt = load_checkpoint(result.run_dir)
    np.testing.assert_allclose(ckpt["mean"].numpy(), X.mean(0), atol=1e-6)
    std = X.std(0)
    np.testing.assert_allclose(ckpt["std"].numpy(), np.where(std > 1e-12, std, 1.0), atol=1e-6)
    assert ckpt["feature_names"] == ["path"]

    # predict() reads the image files named by the new table, relative to its folder
    table = predict(result.run_dir, image_manifest)
    written = pq.read_table(result.run_dir / "predictions.parquet")
    np.testing.assert_allclose(table["proba_0"].to_numpy(), written["proba_0"].to_numpy(), atol=1e-6)


def test_images_are_decoded_to_the_configured_shape(tmp_path):
    from PIL import Image

    rgb = np.zeros((6, 4, 3), np.uint8)
    rgb[..., 0] = 255  # pure red, 4 wide x 6 high
    Image.fromarray(rgb, mode="RGB").save(tmp_path / "red.png")
    x = load_images([str(tmp_path / "red.png")], (3, 3, 2))
    assert x.shape == (1, 18) and x.dtype == np.float32
    channels = x.reshape(3, 3, 2)
    assert np.allclose(channels[0], 1.0) and np.allclose(channels[1:], 0.0)
    gray = load_images([str(tmp_path / "red.png")], (1, 6, 4)).reshape(6, 4)
    assert np.allclose(gray, round(0.299 * 255) / 255, atol=1 / 255)  # ITU-R 601 luma of red


def test_missing_image_files(tmp_path, image_manifest):
    manifest = pq.read_table(image_manifest)
    paths = manifest["path"].to_pylist()
    paths[3], paths[7], paths[50] = "img/gone_a.png", "img/gone_b.png", "img/gone_c.png"
    table = manifest.set_column(manifest.column_names.index("path"), "path", pa.array(paths))
    pq.write_table(table, image_manifest.parent / "broken.parquet")
    with pytest.raises(InputError, match=r"3 image file\(s\) of column 'path' not found, e\.g\. .*gone_a\.png, "
                                         r".*gone_b\.png, .*gone_c\.png; paths are relative to the manifest's"):
        train(image_config(image_manifest.parent / "broken.parquet"), run_dir=tmp_path / "r")
    run = train(image_config(image_manifest, kind="mlp"), run_dir=tmp_path / "ok")
    with pytest.raises(InputError, match=r"3 image file\(s\) of column 'path' not found"):
        predict(run.run_dir, image_manifest.parent / "broken.parquet")


def test_image_config_errors():
    with pytest.raises(ConfigError, match=r"image_col needs image_shape = \[C, H, W\] with C = 1"):
        DataConfig(image_col="path")
    with pytest.raises(ConfigError, match=r"image_col needs image_shape"):
        DataConfig(image_col="path", image_shape=(2, 8, 8))
    with pytest.raises(ConfigError, match="either image_col .* or features/feature_prefix"):
        DataConfig(image_col="path", image_shape=(1, 8, 8), feature_prefix="px_")
    with pytest.raises(ConfigError, match="loader = 'memory' cannot read image files"):
        DataConfig(image_col="path", image_shape=(1, 8, 8), loader="memory")
    with pytest.raises(ConfigError, match=r"\[data\] loader = 'strem' is not one of .*stream"):
        DataConfig(loader="strem")
    with pytest.raises(ConfigError, match=r"\[data\] chunk_size = 0 must be positive"):
        DataConfig(chunk_size=0)
    config = TrainConfig.from_dict({"data": {"manifest": "m.parquet", "image_col": "path",
                                             "image_shape": [3, 32, 32], "shuffle_buffer": 1000}})
    assert TrainConfig.from_dict(config.to_dict()) == config


@pytest.mark.parametrize("values, message", [
    ([None, None], r"column 'split' has 2 empty value\(s\)"),
    (["", "val"], r"column 'split' has unknown value\(s\) '', 'val'; allowed"),
])
def test_stream_checks_split_values(tmp_path, digits_table, values, message):
    split = digits_table["split"].to_pylist()
    split[5], split[900] = values
    table = digits_table.set_column(digits_table.column_names.index("split"), "split", pa.array(split))
    pq.write_table(table, tmp_path / "m.parquet")
    with pytest.raises(InputError, match=message):
        train(stream_config(tmp_path / "m.parquet"), run_dir=tmp_path / "r")
    memory = stream_config(tmp_path / "m.parquet", loader="memory")
    with pytest.raises(InputError, match=message):  # the same message as the memory path
        train(memory, run_dir=tmp_path / "r")


def test_gradcheck_on_image_files(image_manifest):
    from mlstrat.nn import gradcheck_config

    config = image_config(image_manifest, kind="mlp", hidden=(8,))
    results = gradcheck_config(config, rows=8, after_epochs=1)
    assert [label for label, _ in results] == ["init", "after 1 epoch(s)"]
    assert all(r.verdict == "ok" for _, r in results), [r.difference for _, r in results]


def test_unreadable_image_file(tmp_path):
    (tmp_path / "bad.png").write_bytes(b"not a png")
    with pytest.raises(InputError, match=r"bad\.png: cannot be read as an image \(UnidentifiedImageError"):
        load_images([str(tmp_path / "bad.png")], (1, 8, 8))

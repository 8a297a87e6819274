import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mlstrat import InputError
from mlstrat.nn import DataConfig, ModelConfig, MultitaskConfig, OptimConfig, TrainConfig, predict, train
from mlstrat.tables import read_predictions


@pytest.fixture(scope="module")
def multitask_path(tmp_path_factory, digits_table):
    label = digits_table["label"].to_numpy()
    rng = np.random.default_rng(0)
    table = digits_table
    for name, values in (("even", label % 2 == 0), ("big", label >= 5), ("zero", label == 0)):
        v = values.astype(np.float64)
        v[rng.random(len(v)) < 0.3] = np.nan  # 30% of the labels are missing ("?")
        table = table.append_column(name, pa.array(v, from_pandas=True))
    path = tmp_path_factory.mktemp("mt") / "m.parquet"
    pq.write_table(table, path)
    return path


def config(path):
    return TrainConfig(data=DataConfig(manifest=str(path), feature_prefix="px_"), model=ModelConfig(hidden=(64,)),
                       optim=OptimConfig(epochs=8, lr=0.003), multitask=MultitaskConfig(tasks=("even", "big", "zero")))


def test_multitask_trains_with_per_task_metrics(tmp_path, multitask_path, digits_table):
    r = train(config(multitask_path), run_dir=tmp_path / "r")
    metrics = json.loads((r.run_dir / "metrics.json").read_text())
    assert set(metrics["tasks"]) == {"even", "big", "zero"}
    for task, per_split in metrics["tasks"].items():
        assert per_split["dev"]["error"] < 0.25, task
    table = pq.read_table(multitask_path)
    split = np.array(table["split"].to_pylist())
    labeled = ~np.isnan(np.stack([table[t].to_numpy() for t in ("even", "big", "zero")], axis=1))
    assert metrics["dev"]["n"] == int(labeled[split == "dev"].sum())  # labeled entries only
    assert metrics["tasks"]["even"]["dev"]["n"] == int(labeled[split == "dev", 0].sum())
    preds = read_predictions(r.run_dir / "predictions.parquet")
    assert preds.table.count().execute() == int(labeled.sum())  # one row per labeled (example, task)
    assert {"task", "proba_0", "proba_1", "domain", "group"} <= set(preds.table.columns)
    out = predict(r.run_dir, multitask_path)
    assert out.num_rows == int(labeled.sum())


def test_task_values_must_be_binary(tmp_path, digits_table):
    table = digits_table.append_column("t", pa.array(digits_table["label"].to_numpy().astype(float)))
    path = tmp_path / "m.parquet"
    pq.write_table(table, path)
    c = TrainConfig(data=DataConfig(manifest=str(path), feature_prefix="px_"),
                    multitask=MultitaskConfig(tasks=("t",)))
    with pytest.raises(InputError, match=r"task column 't' has \d+ value\(s\) other than 0, 1 or empty"):
        train(c, run_dir=tmp_path / "r")


def test_missing_task_column(tmp_path, multitask_path):
    c = TrainConfig(data=DataConfig(manifest=str(multitask_path), feature_prefix="px_"),
                    multitask=MultitaskConfig(tasks=("even", "odd")))
    with pytest.raises(InputError, match=r"missing task column 'odd'"):
        train(c, run_dir=tmp_path / "r")


def test_streamed_multitask_predictions_equal_the_in_memory_ones(tmp_path, multitask_path, monkeypatch):
    from mlstrat.nn import _predict

    r = train(config(multitask_path), run_dir=tmp_path / "r")
    monkeypatch.setattr(_predict, "_ENGINE_ROWS", 256)
    monkeypatch.setattr(_predict, "_BATCH_ROWS", 1024)  # two batches, each expanded to (row, task) entries
    expected = predict(r.run_dir, multitask_path)
    predict(r.run_dir, multitask_path, output=tmp_path / "p.parquet")
    assert pq.read_table(tmp_path / "p.parquet").to_pylist() == expected.to_pylist()

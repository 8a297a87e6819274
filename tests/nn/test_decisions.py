"""The transfer and multi-task decision checks: sizes stated, warnings when the data argue
against the config's choice (docs/method.md §7)."""

import json
import re
import warnings

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from mlstrat.nn import DataConfig, ModelConfig, MultitaskConfig, OptimConfig, TrainConfig, TransferConfig, train
from mlstrat.nn._decisions import DecisionWarning, multitask_counts, source_train_rows, transfer_sizes


def write_run(folder, *, history=None, metrics=None):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model.pt").write_bytes(b"")
    if history is not None:
        (folder / "history.json").write_text(json.dumps(history))
    if metrics is not None:
        (folder / "metrics.json").write_text(json.dumps(metrics))
    return folder


# -- the source's training-set size --------------------------------------------------------------


def test_source_rows_from_history_then_single_task_metrics(tmp_path):
    both = write_run(tmp_path / "a", history={"train_rows": 700}, metrics={"train": {"n": 5}})
    assert source_train_rows(both) == 700
    assert source_train_rows(both / "model.pt") == 700  # a model.pt: its run directory's record
    older = write_run(tmp_path / "b", history={"epochs": []}, metrics={"train": {"n": 640}})
    assert source_train_rows(older) == 640


def test_source_rows_unknown(tmp_path):
    assert source_train_rows(write_run(tmp_path / "bare")) is None
    # a multi-task n counts labelled (row, task) entries, not rows
    multi = write_run(tmp_path / "mt", metrics={"train": {"n": 900}, "tasks": {"a": {"train": {"n": 300}}}})
    assert source_train_rows(multi) is None
    broken = write_run(tmp_path / "broken")
    (broken / "history.json").write_text("{not json")
    assert source_train_rows(broken) is None


# -- transfer: source vs target ------------------------------------------------------------------


def test_small_source_warns_with_the_ratio(tmp_path):
    src = write_run(tmp_path / "src", history={"train_rows": 5_000})
    found = transfer_sizes(src, 1_000)
    assert found["source_train_rows"] == 5_000 and found["target_train_rows"] == 1_000
    assert found["ratio"] == pytest.approx(5.0)
    assert found["warnings"] == [{"code": "transfer-source-small", "message": (
        f"[transfer] init_from {src}: the source was trained on 5,000 rows, 5.0x this run's 1,000 "
        "train rows; transfer pays off when the source has much more data than the target (here at "
        "least 10x), so compare with training from scratch (the config without [transfer])")}]


def test_source_ten_times_larger_is_quiet(tmp_path):
    src = write_run(tmp_path / "src", history={"train_rows": 10_000})
    assert transfer_sizes(src, 1_000)["warnings"] == []
    assert transfer_sizes(src, 1_001)["warnings"][0]["code"] == "transfer-source-small"


def test_unknown_source_size_is_said_once(tmp_path):
    src = write_run(tmp_path / "src")
    found = transfer_sizes(src / "model.pt", 80)
    assert found["source_train_rows"] is None and found["ratio"] is None
    assert found["warnings"] == [{"code": "transfer-source-size-unknown", "message": (
        f"[transfer] init_from {src / 'model.pt'}: the source run records no training-set size "
        "(history.json train_rows), so whether it has much more data than this run's 80 train "
        "rows cannot be checked")}]


# -- multi-task: per-task counts -----------------------------------------------------------------


def test_task_counts_match_a_direct_count():
    rng = np.random.default_rng(1)
    y = (rng.random((500, 3)) < [0.2, 0.5, 0.7]).astype(np.float64)
    y[rng.random(y.shape) < [0.1, 0.3, 0.5]] = np.nan
    found = multitask_counts(["a", "b", "c"], y)
    for j, task in enumerate("abc"):
        column = [v for v in y[:, j].tolist() if v == v]  # NaN != NaN: the labelled ones
        assert found["tasks"][task] == {"labelled": len(column), "positives": sum(v == 1.0 for v in column)}
    assert found["warnings"] == []


def test_far_apart_tasks_warn_at_under_ten_percent():
    def y(n_small):
        out = np.full((100, 2), np.nan)
        out[:, 0] = np.arange(100) % 2
        out[:n_small, 1] = np.arange(n_small) % 2
        return out

    assert multitask_counts(["big", "rare"], y(10))["warnings"] == []  # exactly 10%
    assert multitask_counts(["big", "rare"], y(9))["warnings"] == [{"code": "multitask-unbalanced", "message": (
        "[multitask] task 'rare' has 9 labelled train rows against 100 for task 'big' (9.0%); multi-task learning "
        "helps when the tasks have similar amounts of data (here at least 10% of the largest), so "
        "compare with training 'rare' on its own")}]


def test_a_task_with_one_outcome_warns():
    y = np.stack([np.arange(40) % 2, np.zeros(40), np.ones(40)], axis=1).astype(float)
    found = multitask_counts(["ok", "never", "always"], y)
    assert found["tasks"]["never"] == {"labelled": 40, "positives": 0}
    assert [w["message"] for w in found["warnings"]] == [
        "[multitask] task 'never': all 40 labelled train rows are 0; its output can only learn to say "
        "that; drop the task or label both outcomes",
        "[multitask] task 'always': all 40 labelled train rows are 1; its output can only learn to say "
        "that; drop the task or label both outcomes"]


# -- through train() and the CLI -------------------------------------------------------------------


def quick(manifest, **sections):
    return TrainConfig(data=DataConfig(manifest=str(manifest), feature_prefix="px_"), model=ModelConfig(hidden=(16,)),
                       optim=OptimConfig(epochs=1, lr=0.01), **sections)


def train_rows(path):
    return pq.read_table(path)["split"].to_pylist().count("train")


@pytest.fixture(scope="module")
def tables(tmp_path_factory, digits_table):
    root = tmp_path_factory.mktemp("decisions")
    pq.write_table(digits_table, root / "full.parquet")
    pq.write_table(digits_table.slice(0, 200), root / "small.parquet")
    split = np.array(digits_table["split"].to_pylist(), dtype=object)
    split[np.flatnonzero(split == "train")[60:]] = "dev"  # 60 train rows, the rest dev
    few = digits_table.set_column(digits_table.column_names.index("split"), "split", pa.array(split.tolist()))
    pq.write_table(few, root / "few.parquet")
    return root


def test_train_warns_when_the_source_is_smaller(tmp_path, tables):
    source = train(quick(tables / "small.parquet"), run_dir=tmp_path / "src", store=False).run_dir
    n_src, n_tgt = train_rows(tables / "small.parquet"), train_rows(tables / "full.parquet")
    assert json.loads((source / "history.json").read_text())["train_rows"] == n_src
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        r = train(quick(tables / "full.parquet", transfer=TransferConfig(init_from=str(source))),
                  run_dir=tmp_path / "tgt", store=tmp_path / "runs.db")
    ratio = n_src / n_tgt
    message = (f"[transfer] init_from {source}: the source was trained on {n_src:,} rows, {ratio:.1f}x this "
               f"run's {n_tgt:,} train rows; transfer pays off when the source has much more data than the "
               "target (here at least 10x), so compare with training from scratch (the config without "
               "[transfer])")
    decisions = [w for w in caught if issubclass(w.category, DecisionWarning)]
    assert [(str(w.message), w.message.code) for w in decisions] == [(message, "transfer-source-small")]
    assert decisions[0].filename == __file__  # points at the caller's line
    recorded = json.loads((r.run_dir / "history.json").read_text())
    assert recorded["transfer"] == {"init_from": str(source), "source_train_rows": n_src,
                                    "target_train_rows": n_tgt, "ratio": pytest.approx(ratio), "min_ratio": 10.0}
    assert {"code": "transfer-source-small", "message": message} in recorded["warnings"]
    from mlstrat.runs import RunStore

    run = RunStore(tmp_path / "runs.db").get(r.run_id)
    assert run.metrics["transfer"]["source_train_rows"] == n_src


def test_train_is_quiet_when_the_source_is_much_larger(tmp_path, tables):
    source = train(quick(tables / "full.parquet"), run_dir=tmp_path / "src", store=False).run_dir
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        r = train(quick(tables / "few.parquet", transfer=TransferConfig(init_from=str(source))),
                  run_dir=tmp_path / "tgt", store=False)
    assert not [w for w in caught if issubclass(w.category, DecisionWarning)]
    assert r.history["transfer"]["source_train_rows"] == train_rows(tables / "full.parquet")
    assert r.history["transfer"]["target_train_rows"] == 60
    assert r.history["train_rows"] == 60


def test_train_counts_task_labels_and_warns_when_far_apart(tmp_path, digits_table):
    label = digits_table["label"].to_numpy()
    split = np.array(digits_table["split"].to_pylist())
    rare = np.where(label == 0, 1.0, 0.0)
    train_idx = np.flatnonzero(split == "train")
    rare[train_idx[30:]] = np.nan  # 30 labelled train rows against every row for "even"
    table = digits_table.append_column("even", pa.array((label % 2 == 0).astype(float)))
    table = table.append_column("zero", pa.array(rare, from_pandas=True))
    pq.write_table(table, tmp_path / "m.parquet")
    config = quick(tmp_path / "m.parquet", multitask=MultitaskConfig(tasks=("even", "zero")))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        r = train(config, run_dir=tmp_path / "r", store=False)
    n = len(train_idx)
    counts = r.history["multitask"]["tasks"]
    assert counts["even"] == {"labelled": n, "positives": int((label[train_idx] % 2 == 0).sum())}
    assert counts["zero"] == {"labelled": 30, "positives": int((label[train_idx[:30]] == 0).sum())}
    assert [w.message.code for w in caught if issubclass(w.category, DecisionWarning)] == ["multitask-unbalanced"]
    assert r.history["multitask"]["min_share"] == 0.1


def test_cli_states_the_sizes_and_warns_in_one_line(tmp_path, tables):
    from mlstrat.cli import app

    source = train(quick(tables / "small.parquet"), run_dir=tmp_path / "src", store=False).run_dir
    (tmp_path / "t.toml").write_text(
        f'[data]\nmanifest = "{tables / "full.parquet"}"\nfeature_prefix = "px_"\n[model]\nhidden = [16]\n'
        f'[optim]\nepochs = 1\nlr = 0.01\n[transfer]\ninit_from = "{source}"\n')
    result = CliRunner().invoke(app, ["train", str(tmp_path / "t.toml"), "-o", str(tmp_path / "r"), "--no-record"])
    assert result.exit_code == 0, result.output
    n_src, n_tgt = train_rows(tables / "small.parquet"), train_rows(tables / "full.parquet")
    assert (f"Transfer: source trained on {n_src:,} rows, this run on {n_tgt:,} train rows "
            f"({n_src / n_tgt:.1f}x).") in result.output
    lines = [line for line in result.output.splitlines() if "transfer pays off" in line]
    assert len(lines) == 1 and re.match(r"warning: \[transfer\] init_from .*the source was trained on", lines[0])


def test_the_streaming_loader_states_the_sizes_too(tmp_path, tables):
    source = train(quick(tables / "full.parquet"), run_dir=tmp_path / "src", store=False).run_dir
    config = TrainConfig(data=DataConfig(manifest=str(tables / "few.parquet"), feature_prefix="px_", loader="stream"),
                         model=ModelConfig(hidden=(16,)), optim=OptimConfig(epochs=1, lr=0.01, batch_size=32),
                         transfer=TransferConfig(init_from=str(source)))
    r = train(config, run_dir=tmp_path / "tgt", store=False)
    assert r.history["train_rows"] == 60
    assert r.history["transfer"]["source_train_rows"] == train_rows(tables / "full.parquet")
    assert r.history["transfer"]["target_train_rows"] == 60

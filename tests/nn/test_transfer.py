"""Transfer A -> B on digits: pre-train on classes 0-4, fine-tune on 5-9 with 50 examples."""

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
    TrainConfig,
    TransferConfig,
    train,
)
from mlstrat.nn._checkpoint import load_checkpoint

CNN = ModelConfig(kind="cnn", hidden=(64,), channels=(16, 32))


def data(path, **kw):
    return DataConfig(manifest=str(path), feature_prefix="px_", image_shape=(1, 8, 8), **kw)


@pytest.fixture(scope="module")
def tasks(tmp_path_factory, digits_table):
    root = tmp_path_factory.mktemp("transfer")
    label = digits_table["label"].to_numpy()
    pq.write_table(digits_table.filter(pa.array(label < 5)), root / "a.parquet")
    target = np.flatnonzero(label >= 5)
    few = np.random.default_rng(0).choice(target, 50, replace=False)
    split = np.full(len(label), "dev", dtype=object)
    split[few] = "train"  # 50 training examples; every other 5-9 image is dev
    b = digits_table.set_column(digits_table.column_names.index("split"), "split", pa.array(split.tolist()))
    pq.write_table(b.take(target), root / "b.parquet")
    pretrain = TrainConfig(data=data(root / "a.parquet"), model=CNN, optim=OptimConfig(epochs=20, lr=0.003))
    source = train(pretrain, run_dir=root / "a").run_dir
    return root, source


def target_config(root, **transfer):
    return TrainConfig(data=data(root / "b.parquet"), model=CNN,
                       optim=OptimConfig(epochs=40, lr=0.003, batch_size=16, seed=0),
                       early_stopping=EarlyStoppingConfig(restore_best=False),
                       transfer=TransferConfig(**transfer))


def test_transfer_beats_training_from_scratch(tasks):
    root, source = tasks
    transferred = train(target_config(root, init_from=str(source)), run_dir=root / "transferred")
    scratch = train(target_config(root), run_dir=root / "scratch")
    t, s = transferred.metrics["dev"]["error"], scratch.metrics["dev"]["error"]
    n = transferred.metrics["dev"]["n"]
    print(f"\ndigits 5-9 from 50 examples, dev n={n}: transferred from 0-4 {t:.1%}, from scratch {s:.1%}")
    assert transferred.metrics["train"]["n"] == 50
    assert t < s
    assert transferred.classes == [5, 6, 7, 8, 9]


def test_head_is_replaced_and_body_copied(tasks):
    root, source = tasks
    r = train(target_config(root, init_from=str(source), freeze="all_but_head"),
              run_dir=root / "frozen", )
    src, new = load_checkpoint(source)["state_dict"], load_checkpoint(r.run_dir)["state_dict"]
    for name in src:
        if name.startswith("head."):
            assert new[name].shape[0] == 5 and not torch.equal(new[name], src[name])
        else:  # every body layer frozen: identical to the source after 40 epochs
            assert torch.equal(new[name], src[name]), name


def test_freeze_first_k_layers(tasks):
    root, source = tasks
    r = train(target_config(root, init_from=str(source), freeze=1), run_dir=root / "k1")
    src, new = load_checkpoint(source)["state_dict"], load_checkpoint(r.run_dir)["state_dict"]
    assert torch.equal(new["convs.0.weight"], src["convs.0.weight"])  # layer 1 frozen
    assert not torch.equal(new["convs.1.weight"], src["convs.1.weight"])  # layer 2 fine-tuned
    assert not torch.equal(new["hidden.0.weight"], src["hidden.0.weight"])


def test_freeze_more_layers_than_the_body_has(tasks):
    root, source = tasks
    with pytest.raises(ConfigError, match=r"freeze = 4 but the model has only 3 layer\(s\) before the head"):
        train(target_config(root, init_from=str(source), freeze=4), run_dir=root / "x")


def test_input_size_mismatch_is_a_clear_error(tasks):
    root, source = tasks
    config = TrainConfig(data=DataConfig(manifest=str(root / "b.parquet"), features=("px_0", "px_1", "px_2")),
                         model=ModelConfig(hidden=(64,)), transfer=TransferConfig(init_from=str(source)))
    with pytest.raises(InputError, match=r"the source model takes 64 input features but this config selects 3"):
        train(config, run_dir=root / "x")


def test_architecture_mismatch_is_a_clear_error(tasks):
    root, source = tasks
    config = TrainConfig(data=data(root / "b.parquet"), model=ModelConfig(kind="cnn", hidden=(32,), channels=(16, 32)),
                         transfer=TransferConfig(init_from=str(source)))
    with pytest.raises(ConfigError, match=r"differs in hidden: source \(64,\), config \(32,\)"):
        train(config, run_dir=root / "x")


def test_missing_source(tasks, tmp_path):
    root, _ = tasks
    with pytest.raises(InputError, match="no model found"):
        train(target_config(root, init_from=str(tmp_path / "nothing")), run_dir=root / "x")

import dataclasses

import pytest

from mlstrat import ConfigError
from mlstrat.nn import (
    DataConfig,
    EarlyStoppingConfig,
    ModelConfig,
    MultitaskConfig,
    OptimConfig,
    RegularizationConfig,
    TrainConfig,
    TransferConfig,
)


def write(tmp_path, text):
    path = tmp_path / "c.toml"
    path.write_text(text)
    return path


def test_from_toml_reads_every_section_and_resolves_paths(tmp_path):
    path = write(tmp_path, """
[data]
manifest = "split.parquet"
feature_prefix = "px_"
image_shape = [1, 8, 8]
[model]
kind = "cnn"
hidden = [64]
activation = "tanh"
init = "xavier"
[regularization]
l2 = 0.5
keep_prob = [0.8]
augment = ["shift", "noise"]
[optim]
optimizer = "momentum"
lr = 1
beta1 = 0.8
batch_size = 32
epochs = 4
seed = 7
[early_stopping]
monitor = "dev_error"
patience = 3
min_delta = 0.001
restore_best = false
[transfer]
init_from = "runs/a"
freeze = "all_but_head"
[multitask]
tasks = []
""")
    c = TrainConfig.from_toml(path)
    assert c.data.manifest == str(tmp_path / "split.parquet")
    assert c.transfer.init_from == str(tmp_path / "runs" / "a")
    assert c.data.image_shape == (1, 8, 8)
    assert c.model == ModelConfig(kind="cnn", hidden=(64,), activation="tanh", init="xavier")
    assert c.regularization.keep_prob == (0.8,) and c.regularization.augment == ("shift", "noise")
    assert c.optim.lr == 1.0 and isinstance(c.optim.lr, float)
    assert c.early_stopping == EarlyStoppingConfig("dev_error", 3, 0.001, False)
    assert c.transfer.freeze == "all_but_head"


def test_toml_round_trip(tmp_path):
    c = TrainConfig(data=DataConfig(manifest="/x/m.parquet", features=("a", "b")),
                    regularization=RegularizationConfig(l2=0.1, keep_prob=(0.5, 0.9)),
                    optim=OptimConfig(epsilon=1e-5), transfer=TransferConfig(init_from="/r", freeze=1),
                    multitask=MultitaskConfig(tasks=("t1", "t2")))
    assert TrainConfig.from_toml(write(tmp_path, c.to_toml())) == c
    default = TrainConfig()
    assert TrainConfig.from_toml(write(tmp_path, default.to_toml())) == default


def test_config_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        TrainConfig().optim.lr = 1.0


@pytest.mark.parametrize("text, message", [
    ("[optim]\nlearning_rate = 0.1", r"\[optim\] unknown key 'learning_rate'"),
    ("[optim]\nepoch = 3", r"unknown key 'epoch' \(did you mean 'epochs'\?\)"),
    ("[regularisation]\nl2 = 1", r"unknown section \[regularisation\] \(did you mean 'regularization'\?\)"),
    ("[regularization]\nkeep_prob = 0", r"keep_prob = 0.0 must be in \(0, 1\]"),
    ("[regularization]\nkeep_prob = 1.5", r"keep_prob = 1.5 must be in \(0, 1\]"),
    ("[regularization]\nkeep_prob = [0.5, 1.2]", r"keep_prob = 1.2 must be in \(0, 1\]"),
    ("[regularization]\nl2 = -0.1", r"\[regularization\] l2 = -0.1 must be zero or positive"),
    ("[regularization]\nl1 = -1", r"\[regularization\] l1 = -1.0 must be zero or positive"),
    ("[regularization]\naugment = ['blurr']\n[data]\nimage_shape = [1, 8, 8]",
     r"unknown transform 'blurr' \(did you mean 'blur'\?\)"),
    ("[optim]\noptimizer = 'adamw'", r"optimizer = 'adamw' is not one of gd, momentum, rmsprop, adam \(did you mean 'adam'\?\)"),
    ("[optim]\nlr = 'fast'", r"\[optim\] lr = 'fast' must be a positive number or \"find\""),
    ("[optim]\nepochs = 0", r"\[optim\] epochs = 0 must be positive"),
    ("[model]\nhidden = 64", r"\[model\] hidden = 64: expected a list of integers"),
    ("[model]\nkind = 'cnn'", r"kind = 'cnn' needs \[data\] image_shape"),
    ("[early_stopping]\nmonitor = 'dev_acc'", r"monitor = 'dev_acc' is not one of dev_cost, dev_error"),
    ("[transfer]\nfreeze = 'all'", r"freeze = 'all' must be a number of layers or 'all_but_head'"),
    ("[transfer]\nfreeze = 2", r"freeze needs init_from"),
    ("[data]\nimage_shape = [8, 8]", r"image_shape = \[8, 8\] must be three positive sizes"),
    ("[data\n", r"not valid TOML"),
])
def test_bad_config_messages(tmp_path, text, message):
    with pytest.raises(ConfigError, match=message):
        TrainConfig.from_toml(write(tmp_path, text))


def test_error_names_the_file(tmp_path):
    path = write(tmp_path, "[optim]\nlr = -1")
    with pytest.raises(ConfigError, match=rf"^{path}: \[optim\] lr = -1.0 must be positive"):
        TrainConfig.from_toml(path)


def test_a_byte_order_mark_is_read_and_utf16_is_named(tmp_path):
    # Windows Notepad saves UTF-8 with a byte-order mark: it was "not valid TOML (Invalid
    # statement (at line 1, column 1))", about a character the user cannot see
    path = tmp_path / "c.toml"
    path.write_bytes("[optim]\nepochs = 3\n".encode("utf-8-sig"))
    assert TrainConfig.from_toml(path).optim.epochs == 3
    path.write_bytes("[optim]\nepochs = 3\n".encode("utf-16"))
    with pytest.raises(ConfigError) as caught:
        TrainConfig.from_toml(path)
    assert str(caught.value) == f"{path}: is not UTF-8 text; save the config as UTF-8"


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="no such config file"):
        TrainConfig.from_toml(tmp_path / "nope.toml")


def test_keep_prob_list_must_match_layers():
    r = RegularizationConfig(keep_prob=(0.5, 0.8))
    assert r.keep_probs(2) == (0.5, 0.8)
    assert RegularizationConfig(keep_prob=0.7).keep_probs(3) == (0.7, 0.7, 0.7)
    with pytest.raises(ConfigError, match=r"keep_prob has 2 value\(s\) but the model has 3 hidden layer"):
        r.keep_probs(3)


def test_every_field_has_a_comment():
    import inspect

    import mlstrat.nn._config as mod

    source = inspect.getsource(mod)
    for cls in (DataConfig, ModelConfig, RegularizationConfig, OptimConfig, EarlyStoppingConfig,
                TransferConfig, MultitaskConfig, TrainConfig):
        for f in dataclasses.fields(cls):
            lines = [ln for ln in source.splitlines() if ln.strip().startswith(f"{f.name}:")]
            assert lines and all("#" in ln for ln in lines), f"{cls.__name__}.{f.name} has no comment"

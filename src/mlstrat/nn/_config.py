"""The training configuration: a frozen dataclass tree read from and written to TOML.

Each section mirrors a knob group of docs/method.md §5-7; every field carries a comment. Unknown
keys, wrong types and out-of-range values raise :class:`~mlstrat.ConfigError` naming the
``[section] key``, the value and the fix.
"""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from mlstrat._exceptions import ConfigError
from mlstrat._numbers import did_you_mean
from mlstrat.nn._config_checks import (
    ACTIVATIONS,
    AUGMENT_ALIASES,
    DEVICES,
    INITS,
    KINDS,
    LIMITS,
    LOADERS,
    LR_DECAYS,
    MONITORS,
    OPTIMIZERS,
    PRECISIONS,
    _at_most,
    _choice,
    _positive,
)
from mlstrat.nn._config_toml import _build_section, _toml_value, read_toml

__all__ = [
    "DataConfig", "ModelConfig", "RegularizationConfig", "OptimConfig", "EarlyStoppingConfig",
    "TransferConfig", "MultitaskConfig", "TrainConfig",
    "KINDS", "ACTIVATIONS", "INITS", "OPTIMIZERS", "MONITORS", "LOADERS", "DEVICES", "LR_DECAYS",
]


@dataclass(frozen=True)
class DataConfig:
    """``[data]``: where the examples come from and which columns to use."""

    _section: ClassVar[str] = "data"
    manifest: str = ""  # table with a `split` column (output of `mlstrat split`); relative to the config file
    features: tuple[str, ...] | None = None  # feature columns, in order; or use feature_prefix
    feature_prefix: str | None = None  # every column starting with this prefix, in table order ("px_")
    label: str = "label"  # class label column (single-task)
    id: str = "id"  # example id column, copied to the predictions table
    image_shape: tuple[int, ...] | None = None  # (C, H, W) of the features, needed by cnn and augment
    value_range: tuple[float, float] | None = None  # pixel range for augment; default: train min..max
    loader: str = "auto"  # memory: tensors in memory; dataloader: torch DataLoader over them; stream: read in record batches; auto: see docs
    image_col: str | None = None  # column of image file paths (relative to the manifest's folder), instead of feature columns
    chunk_size: int = 65536  # stream: rows per record batch read from the engine
    shuffle_buffer: int = 65536  # stream: rows shuffled together (seeded); >= train rows = a full shuffle
    weight_col: str | None = None  # importance weight of each train row (>= 0; e.g. `mlstrat mismatch -o`'s weight): the loss is sum(w l) / sum(w) per global batch; dev is never weighted

    def __post_init__(self) -> None:
        _choice("data", "loader", self.loader, LOADERS)
        _positive("data", "chunk_size", self.chunk_size)
        _positive("data", "shuffle_buffer", self.shuffle_buffer)
        if self.image_col is not None:
            if self.features is not None or self.feature_prefix is not None:
                raise ConfigError("[data] give either image_col (image files) or features/feature_prefix, not both")
            if self.image_shape is None or self.image_shape[0] not in (1, 3):
                raise ConfigError("[data] image_col needs image_shape = [C, H, W] with C = 1 (grayscale) or "
                                  "3 (RGB), e.g. [1, 28, 28]")
            if self.loader in ("memory", "dataloader"):
                raise ConfigError(f"[data] loader = {self.loader!r} cannot read image files; use 'stream' "
                                  "or 'auto' with image_col")
        if self.features is not None and self.feature_prefix is not None:
            raise ConfigError("[data] give either features or feature_prefix, not both")
        if self.features is not None and not self.features:
            raise ConfigError("[data] features is empty; list the feature columns or use feature_prefix")
        if self.image_shape is not None:
            if len(self.image_shape) != 3 or min(self.image_shape) < 1:
                raise ConfigError(f"[data] image_shape = {list(self.image_shape)} must be three positive "
                                  "sizes [channels, height, width], e.g. [1, 8, 8]")
        if self.weight_col is not None:
            self._check_weight_col()
        if self.value_range is not None and not self.value_range[0] < self.value_range[1]:
            raise ConfigError(f"[data] value_range = {list(self.value_range)} must be [low, high] with low < high")


    def _check_weight_col(self) -> None:
        """The weight column must be a column of its own, not one the trainer reads as something else."""
        col = self.weight_col
        roles = {self.label: "label", self.id: "id", "split": "split", self.image_col: "image_col"}
        if not col:
            raise ConfigError("[data] weight_col is empty; name the column of importance weights or leave it out")
        if col in roles:
            raise ConfigError(f"[data] weight_col = {col!r} is also the {roles[col]} column; name the column of "
                              "importance weights (e.g. \"weight\" from `mlstrat mismatch -o`)")
        if self.features is not None and col in self.features:
            raise ConfigError(f"[data] weight_col = {col!r} is also listed in features; a row's weight must "
                              "not be an input of the model")


@dataclass(frozen=True)
class ModelConfig:
    """``[model]``: the network."""

    _section: ClassVar[str] = "model"
    kind: str = "mlp"  # mlp: dense layers; cnn: conv layers on image_shape, then dense layers
    hidden: tuple[int, ...] = (256, 256)  # units of each dense hidden layer
    activation: str = "relu"  # relu | tanh | leaky_relu (slope 0.01) | sigmoid
    init: str = "he"  # he: N(0, 2/n_prev); xavier: N(0, 1/n_prev); glorot: N(0, 2/(n_prev + n))
    init_scale: float = 1.0  # multiplies the init's standard deviation; != 1 only to study vanishing/exploding gradients
    channels: tuple[int, ...] = (16, 32)  # cnn only: output channels of each 3x3 conv (each followed by 2x2 max-pool)
    batch_norm: bool = False  # batch normalization of each hidden (and conv) layer's pre-activations; learned gamma, beta

    def __post_init__(self) -> None:
        _choice("model", "kind", self.kind, KINDS)
        _positive("model", "init_scale", self.init_scale)
        _choice("model", "activation", self.activation, ACTIVATIONS)
        _choice("model", "init", self.init, INITS)
        for key, sizes in (("hidden", self.hidden), ("channels", self.channels)):
            if any(s < 1 for s in sizes):
                raise ConfigError(f"[model] {key} = {list(sizes)}: every size must be a positive integer")
            if any(s > LIMITS[key] for s in sizes):
                raise ConfigError(f"[model] {key} = {list(sizes)}: a layer of more than {LIMITS[key]:,} "
                                  "units is too large")
        if self.kind == "cnn" and not self.channels:
            raise ConfigError("[model] kind = 'cnn' needs at least one conv layer in channels")


@dataclass(frozen=True)
class RegularizationConfig:
    """``[regularization]``: the variance knobs."""

    _section: ClassVar[str] = "regularization"
    l2: float = 0.0  # lambda of (lambda/2m) sum ||W||_F^2 over weights (not biases); m = train rows
    l1: float = 0.0  # lambda of (lambda/m) sum |w| over weights
    keep_prob: float | tuple[float, ...] = 1.0  # inverted dropout after each hidden layer; a list: one per layer
    augment: tuple[str | dict, ...] = ()  # transforms of train batches only (needs image_shape): names, or {name = "rotate", degrees = 10}

    def __post_init__(self) -> None:
        for key in ("l2", "l1"):
            value = getattr(self, key)
            if value < 0 or not math.isfinite(value):
                raise ConfigError(f"[regularization] {key} = {value!r} must be zero or positive "
                                  "(it is the regularization strength lambda)")
        probs = self.keep_prob if isinstance(self.keep_prob, tuple) else (self.keep_prob,)
        for p in probs:
            if not 0.0 < p <= 1.0:
                raise ConfigError(f"[regularization] keep_prob = {p!r} must be in (0, 1]: the probability "
                                  "of keeping a unit (1.0 = no dropout)")
        if self.augment:
            self.augment_plan()  # validates names and strengths

    def augment_plan(self) -> tuple[list[str], dict[str, dict[str, Any]]]:
        """(transform names in order, their parameters) for ``apply_transforms``; strengths
        may use the friendly names of :data:`AUGMENT_ALIASES` (rotate ``degrees``, shift ``pixels``)."""
        from mlstrat.mismatch.transforms import TRANSFORMS

        names: list[str] = []
        params: dict[str, dict[str, Any]] = {}
        for entry in self.augment:
            spec = dict(entry) if isinstance(entry, dict) else {"name": entry}
            name = spec.pop("name", None)
            if not isinstance(name, str) or name not in TRANSFORMS:
                raise ConfigError(f"[regularization] augment: unknown transform {name!r}"
                                  f"{did_you_mean(str(name), TRANSFORMS)}; available: {', '.join(TRANSFORMS)}")
            if name in names:
                raise ConfigError(f"[regularization] augment lists {name!r} twice; give it once with its strength")
            aliases = AUGMENT_ALIASES.get(name, {})
            allowed = {**{k: k for k in TRANSFORMS[name].defaults}, **aliases}
            kwargs = {}
            for key, value in spec.items():
                if key not in allowed:
                    raise ConfigError(f"[regularization] augment {name}: unknown strength {key!r}"
                                      f"{did_you_mean(key, allowed)}; {name} takes {', '.join(allowed)}")
                if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                    raise ConfigError(f"[regularization] augment {name}: {key} = {value!r} must be a number >= 0")
                kwargs[allowed[key]] = value
            names.append(name)
            params[name] = kwargs
        return names, params
    def keep_probs(self, n_layers: int) -> tuple[float, ...]:
        """One keep probability per hidden layer."""
        if not isinstance(self.keep_prob, tuple):
            return (float(self.keep_prob),) * n_layers
        if len(self.keep_prob) != n_layers:
            raise ConfigError(f"[regularization] keep_prob has {len(self.keep_prob)} value(s) but the model "
                              f"has {n_layers} hidden layer(s); give one per hidden layer or a single number")
        return tuple(float(p) for p in self.keep_prob)


@dataclass(frozen=True)
class OptimConfig:
    """``[optim]``: the optimizer and the loop."""

    _section: ClassVar[str] = "optim"
    optimizer: str = "adam"  # gd | momentum | rmsprop | adam (torch.optim SGD, SGD+momentum, RMSprop, Adam)
    lr: float | str = 0.001  # learning rate alpha; "find": the learning-rate range test picks it (nn/_lr_find.py)
    beta1: float = 0.9  # momentum: momentum coefficient; adam: first-moment decay
    beta2: float = 0.999  # rmsprop: squared-gradient decay; adam: second-moment decay
    epsilon: float = 1e-8  # rmsprop/adam: added to the denominator
    batch_size: int = 64  # mini-batch size; 0 = the whole train split (batch gradient descent)
    epochs: int = 30  # passes over the train split
    seed: int = 0  # seeds init, shuffling, dropout and augmentation: same seed, same weights (CPU)
    device: str = "auto"  # auto: cuda when available, else cpu
    threads: int = 0  # torch CPU threads while training; 0 = auto (from the measured table in nn/_threads.py)
    lr_decay: str = "none"  # none | inverse: lr/(1 + decay_rate*epoch) | exponential: lr*decay_gamma^epoch | step: lr*decay_gamma^(epoch//decay_step) | cosine: to lr_min over epochs (epoch counts from 0)
    decay_rate: float = 1.0  # inverse decay rate
    decay_gamma: float = 0.95  # exponential and step: factor per epoch / per step
    decay_step: int = 10  # step: epochs between two decays
    lr_min: float = 0.0  # cosine: the learning rate reached at the last epoch
    clip_grad_norm: float = 0.0  # rescale the gradient when its global L2 norm exceeds this; 0 = off
    precision: str = "32"  # 32 | bf16: training forward passes under bfloat16 autocast (mixed precision)

    def __post_init__(self) -> None:
        _choice("optim", "optimizer", self.optimizer, OPTIMIZERS)
        _choice("optim", "precision", self.precision, PRECISIONS)
        _choice("optim", "lr_decay", self.lr_decay, LR_DECAYS)
        _positive("optim", "decay_rate", self.decay_rate, strict=False)
        _positive("optim", "decay_step", self.decay_step)
        _positive("optim", "lr_min", self.lr_min, strict=False)
        _positive("optim", "clip_grad_norm", self.clip_grad_norm, strict=False)
        if not 0.0 < self.decay_gamma <= 1.0:
            raise ConfigError(f"[optim] decay_gamma = {self.decay_gamma!r} must be in (0, 1]: the factor the "
                              "learning rate is multiplied by (0.95 = 5% less per epoch)")
        _choice("optim", "device", self.device, DEVICES)
        if isinstance(self.lr, str):
            if self.lr != "find":
                raise ConfigError(f"[optim] lr = {self.lr!r} must be a positive number or \"find\" "
                                  "(the learning-rate range test picks it)")
        else:
            _positive("optim", "lr", self.lr)
        _positive("optim", "epsilon", self.epsilon)
        for key in ("beta1", "beta2"):
            value = getattr(self, key)
            if not 0.0 <= value < 1.0:
                raise ConfigError(f"[optim] {key} = {value!r} must be in [0, 1)")
        _positive("optim", "epochs", self.epochs)
        _positive("optim", "batch_size", self.batch_size, strict=False)
        _positive("optim", "threads", self.threads, strict=False)
        for key in ("lr", "epsilon", "epochs", "batch_size", "threads"):
            if not isinstance(getattr(self, key), str):
                _at_most("optim", key, getattr(self, key))
        if self.lr_decay == "cosine" and not isinstance(self.lr, str) and self.lr_min >= self.lr:
            raise ConfigError(f"[optim] lr_min = {self.lr_min!r} must be below lr = {self.lr!r}: cosine decay "
                              "goes from lr down to lr_min")


@dataclass(frozen=True)
class EarlyStoppingConfig:
    """``[early_stopping]``: stop when the dev metric stops improving; keep the best weights."""

    _section: ClassVar[str] = "early_stopping"
    monitor: str = "dev_cost"  # dev_cost | dev_error
    patience: int = 0  # stop after this many epochs without improvement; 0 = never stop early
    min_delta: float = 0.0  # an improvement must lower the monitored value by more than this
    restore_best: bool = True  # end with the best dev epoch's weights, whether or not training stopped early

    def __post_init__(self) -> None:
        _choice("early_stopping", "monitor", self.monitor, MONITORS)
        _positive("early_stopping", "patience", self.patience, strict=False)
        _positive("early_stopping", "min_delta", self.min_delta, strict=False)


@dataclass(frozen=True)
class TransferConfig:
    """``[transfer]``: start from a trained model, replace its head, optionally freeze layers."""

    _section: ClassVar[str] = "transfer"
    init_from: str | None = None  # a run directory or a model.pt; relative to the config file
    freeze: int | str = 0  # freeze the first k layers, or "all_but_head" (train only the new head)
    unfreeze_after: int = 0  # two-stage fine-tuning: after this many epochs with the freeze, train all layers; 0 = never

    def __post_init__(self) -> None:
        if isinstance(self.freeze, str) and self.freeze != "all_but_head":
            raise ConfigError(f"[transfer] freeze = {self.freeze!r} must be a number of layers or "
                              f"'all_but_head'{did_you_mean(self.freeze, ['all_but_head'])}")
        if isinstance(self.freeze, int) and self.freeze < 0:
            raise ConfigError(f"[transfer] freeze = {self.freeze} must be zero or positive")
        _positive("transfer", "unfreeze_after", self.unfreeze_after, strict=False)
        if self.unfreeze_after and self.freeze in (0, None):
            raise ConfigError(f"[transfer] unfreeze_after = {self.unfreeze_after} needs freeze: the first stage "
                              "trains the new head with the transferred layers frozen")
        if self.freeze not in (0, None) and self.init_from is None:
            raise ConfigError("[transfer] freeze needs init_from: freezing randomly initialised layers "
                              "makes no sense")


@dataclass(frozen=True)
class MultitaskConfig:
    """``[multitask]``: several binary targets, one sigmoid output each."""

    _section: ClassVar[str] = "multitask"
    tasks: tuple[str, ...] = ()  # binary target columns (0/1; empty or NaN = label missing)

    def __post_init__(self) -> None:
        if len(set(self.tasks)) != len(self.tasks):
            raise ConfigError(f"[multitask] tasks = {list(self.tasks)} lists a column twice")


_SECTIONS: dict[str, type] = {
    "data": DataConfig,
    "model": ModelConfig,
    "regularization": RegularizationConfig,
    "optim": OptimConfig,
    "early_stopping": EarlyStoppingConfig,
    "transfer": TransferConfig,
    "multitask": MultitaskConfig,
}


@dataclass(frozen=True)
class TrainConfig:
    """Everything ``mlstrat train`` needs, one section per knob group (docs/method.md §5-7).

    Build it with :meth:`from_toml`, :meth:`from_dict` or directly::

        TrainConfig(data=DataConfig(manifest="split.parquet", feature_prefix="px_"),
                    model=ModelConfig(hidden=(64,)), optim=OptimConfig(epochs=20))
    """

    data: DataConfig = field(default_factory=DataConfig)  # [data]
    model: ModelConfig = field(default_factory=ModelConfig)  # [model]
    regularization: RegularizationConfig = field(default_factory=RegularizationConfig)  # [regularization]
    optim: OptimConfig = field(default_factory=OptimConfig)  # [optim]
    early_stopping: EarlyStoppingConfig = field(default_factory=EarlyStoppingConfig)  # [early_stopping]
    transfer: TransferConfig = field(default_factory=TransferConfig)  # [transfer]
    multitask: MultitaskConfig = field(default_factory=MultitaskConfig)  # [multitask]

    def __post_init__(self) -> None:
        if self.regularization.augment and self.data.image_shape is None:
            raise ConfigError("[regularization] augment needs [data] image_shape (e.g. [1, 8, 8]): "
                              "the transforms work on images")
        if self.model.kind == "cnn" and self.data.image_shape is None:
            raise ConfigError("[model] kind = 'cnn' needs [data] image_shape (e.g. [1, 8, 8])")

    @classmethod
    def from_toml(cls, path: str | os.PathLike) -> TrainConfig:
        """Read a TOML file; relative paths inside it are relative to the file's folder."""
        path = Path(path)
        raw = read_toml(path)
        try:
            return cls.from_dict(raw, base_dir=path.parent)
        except ConfigError as exc:
            raise ConfigError(f"{path}: {exc}") from None

    @classmethod
    def from_dict(cls, raw: dict[str, Any], *, base_dir: str | os.PathLike | None = None) -> TrainConfig:
        """Build from nested dicts (the TOML structure); unknown keys raise :class:`ConfigError`."""
        if not isinstance(raw, dict):
            raise ConfigError(f"a config is a table of sections; got {type(raw).__name__}")
        sections: dict[str, Any] = {}
        for name, values in raw.items():
            if name == "tune":  # a search config: its own command reads it
                raise ConfigError("[tune] configures a hyperparameter search: run `mlstrat tune` on this file, "
                                  "or remove [tune] to train once")
            if name not in _SECTIONS:
                raise ConfigError(f"unknown section [{name}]{did_you_mean(name, _SECTIONS)}; "
                                  f"sections: {', '.join(_SECTIONS)}")
            if not isinstance(values, dict):
                raise ConfigError(f"[{name}] must be a table of keys, got {values!r}")
            sections[name] = _build_section(_SECTIONS[name], values)
        config = cls(**sections)
        if base_dir is not None:
            config = config.resolve_paths(base_dir)
        return config

    def resolve_paths(self, base_dir: str | os.PathLike) -> TrainConfig:
        """Make ``manifest`` and ``init_from`` absolute, relative to ``base_dir``."""
        base = Path(base_dir)
        data, transfer = self.data, self.transfer
        if data.manifest and not Path(data.manifest).is_absolute():
            data = dataclasses.replace(data, manifest=str((base / data.manifest).resolve()))
        if transfer.init_from and not Path(transfer.init_from).is_absolute():
            transfer = dataclasses.replace(transfer, init_from=str((base / transfer.init_from).resolve()))
        return dataclasses.replace(self, data=data, transfer=transfer)

    def to_dict(self) -> dict[str, dict[str, Any]]:
        """Nested dict of plain values (tuples as lists); ``None`` fields are left out."""
        out: dict[str, dict[str, Any]] = {}
        for name in _SECTIONS:
            section = getattr(self, name)
            values = {}
            for f in dataclasses.fields(section):
                value = getattr(section, f.name)
                if value is not None:
                    values[f.name] = list(value) if isinstance(value, tuple) else value
            out[name] = values
        return out

    def to_toml(self) -> str:
        """The config as TOML text; :meth:`from_toml` reads it back to an equal config."""
        lines: list[str] = []
        for name, values in self.to_dict().items():
            lines.append(f"[{name}]")
            lines.extend(f"{key} = {_toml_value(value)}" for key, value in values.items())
            lines.append("")
        return "\n".join(lines)

"""The allowed values and limits of the training configuration, and the checks that name the
``[section] key``, the value and the fix.
"""

from __future__ import annotations

import math

from mlstrat._exceptions import ConfigError
from mlstrat._numbers import did_you_mean

KINDS = ("mlp", "cnn")
ACTIVATIONS = ("relu", "tanh", "leaky_relu", "sigmoid")
INITS = ("he", "xavier", "glorot")
OPTIMIZERS = ("gd", "momentum", "rmsprop", "adam")
MONITORS = ("dev_cost", "dev_error")
LOADERS = ("auto", "memory", "dataloader", "stream")
DEVICES = ("auto", "cpu", "cuda")
#: float32 throughout, or bfloat16 autocast for the training forward pass (no loss scaling needed:
#: bfloat16 keeps float32's exponent range); evaluation and the reported figures stay float32
PRECISIONS = ("32", "bf16")
LR_DECAYS = ("none", "inverse", "exponential", "step", "cosine")
# friendly strength names of [regularization] augment -> the transform's parameter
AUGMENT_ALIASES = {"rotate": {"degrees": "max_degrees"}, "shift": {"pixels": "max_shift"}}


def _choice(section: str, key: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ConfigError(f"[{section}] {key} = {value!r} is not one of {', '.join(allowed)}"
                          f"{did_you_mean(str(value), allowed)}")


# Upper bounds that no real run reaches: a typo such as `lr = 1e300` or `hidden = [2000000000]`
# fails here, in one line, instead of as NaN losses or an allocation of petabytes
LIMITS = {"lr": 10.0, "epsilon": 1.0, "hidden": 1 << 16, "channels": 1 << 12, "threads": 1024,
          "epochs": 1_000_000, "batch_size": 1 << 31}


def _at_most(section: str, key: str, value: float) -> None:
    if value > LIMITS[key]:
        raise ConfigError(f"[{section}] {key} = {value!r} is too large; the limit is {LIMITS[key]:g}")


def _positive(section: str, key: str, value: float, *, strict: bool = True) -> None:
    bad = value <= 0 if strict else value < 0
    if bad or (isinstance(value, float) and not math.isfinite(value)):
        what = "positive" if strict else "zero or positive"
        raise ConfigError(f"[{section}] {key} = {value!r} must be {what}")

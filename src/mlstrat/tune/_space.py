"""The search space (docs/method.md §5, hyperparameter search) and the ``[tune]`` config section.

Each hyperparameter is drawn at random on its own scale, never from a grid:

- ``log``: learning rate, lambda (l2/l1), decay rate — uniform in log10;
- ``log1m``: momentum / Adam betas — uniform in log10(1 - beta), so 0.9 -> 0.99 -> 0.999 are
  equally likely steps;
- ``int``: layer sizes and counts, epochs; ``intlog``: batch size (uniform in log2);
- ``linear``: keep_prob.

Zooming (coarse to fine) works on the same transformed axis.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mlstrat._exceptions import ConfigError
from mlstrat._numbers import did_you_mean

__all__ = ["Param", "TuneConfig", "PARAMS", "apply_params", "zoom"]

# name -> (config section, key, scale)
PARAMS: dict[str, tuple[str, str, str]] = {
    "lr": ("optim", "lr", "log"),
    "l2": ("regularization", "l2", "log"),
    "l1": ("regularization", "l1", "log"),
    "beta1": ("optim", "beta1", "log1m"),
    "beta2": ("optim", "beta2", "log1m"),
    "decay_rate": ("optim", "decay_rate", "log"),
    "keep_prob": ("regularization", "keep_prob", "linear"),
    "hidden": ("model", "hidden", "int"),  # units of every hidden layer (the depth stays)
    "layers": ("model", "hidden", "int"),  # number of hidden layers (their units stay / come from `hidden`)
    "batch_size": ("optim", "batch_size", "intlog"),
    "epochs": ("optim", "epochs", "int"),
}
METRICS = ("dev_error", "dev_cost")


@dataclass(frozen=True)
class Param:
    """One searched hyperparameter: its range and its scale."""

    name: str
    low: float
    high: float
    scale: str

    def __post_init__(self) -> None:
        where = f"[tune.space] {self.name}"
        if not self.low < self.high:
            raise ConfigError(f"{where} = [{self.low!r}, {self.high!r}] must be [low, high] with low < high")
        if self.scale in ("log", "intlog") and self.low <= 0:
            raise ConfigError(f"{where}: the low end {self.low!r} must be positive (sampled on a log scale; "
                              "e.g. [1e-4, 10])")
        if self.scale == "log1m" and not (0 <= self.low and self.high < 1):
            raise ConfigError(f"{where} = [{self.low!r}, {self.high!r}] must lie in [0, 1) (sampled on a log "
                              "scale of 1 - beta; e.g. [0.9, 0.999])")
        if self.name == "keep_prob" and not (0 < self.low and self.high <= 1):
            raise ConfigError(f"{where} = [{self.low!r}, {self.high!r}] must lie in (0, 1]")
        if self.scale in ("int", "intlog") and (self.low != int(self.low) or self.high != int(self.high)
                                                or self.low < 1):
            raise ConfigError(f"{where} = [{self.low!r}, {self.high!r}] must be positive integers")

    def distribution(self) -> Any:
        """The Optuna distribution (log1m is sampled as ``one_minus_<name>`` on a log scale)."""
        from optuna.distributions import FloatDistribution, IntDistribution

        if self.scale == "log":
            return FloatDistribution(self.low, self.high, log=True)
        if self.scale == "log1m":
            return FloatDistribution(1.0 - self.high, 1.0 - self.low, log=True)
        if self.scale == "int":
            return IntDistribution(int(self.low), int(self.high))
        if self.scale == "intlog":
            return IntDistribution(int(self.low), int(self.high), log=True)
        return FloatDistribution(self.low, self.high)

    @property
    def key(self) -> str:
        """The name Optuna records: ``one_minus_beta1`` for the betas, the name otherwise."""
        return f"one_minus_{self.name}" if self.scale == "log1m" else self.name

    def value(self, sampled: float) -> float | int:
        return 1.0 - sampled if self.scale == "log1m" else sampled

    def axis(self, value: float) -> float:
        """The value on the axis it is sampled uniformly on (log10, log10(1 - v), log2, linear)."""
        if self.scale == "log":
            return math.log10(value)
        if self.scale == "log1m":
            return math.log10(1.0 - value)
        if self.scale == "intlog":
            return math.log2(value)
        return float(value)

    def from_axis(self, x: float) -> float:
        if self.scale == "log":
            return 10.0 ** x
        if self.scale == "log1m":
            return 1.0 - 10.0 ** x
        if self.scale == "intlog":
            return 2.0 ** x
        return x


@dataclass(frozen=True)
class TuneConfig:
    """``[tune]``: the search, its budget and the satisficing constraints."""

    space: tuple[Param, ...] = field(default_factory=tuple)  # [tune.space] name = [low, high]
    budget: int = 20  # trials in all (both rounds); `--budget` overrides
    coarse: float = 0.6  # share of the budget in the first (coarse) round; the rest zooms on the best region
    top: float = 0.1  # share of the coarse round's feasible trials that defines the zoomed region
    metric: str = "dev_error"  # the optimizing metric, on dev: dev_error | dev_cost
    max_seconds: float = 0.0  # satisficing: a trial must train in at most this many seconds; 0 = no limit
    max_parameters: int = 0  # satisficing: at most this many parameters; 0 = no limit
    seed: int = 0  # seeds the sampler: same seed, same trials
    jobs: int = 1  # trials trained in parallel processes
    prune: bool = True  # stop unpromising trials early (MedianPruner on the dev cost per epoch)
    prune_startup: int = 5  # completed trials before any trial is pruned (Optuna's default)
    prune_warmup: int = 2  # a trial is never pruned before this epoch
    time: str = ""  # time budget ("10m", "2h"): no trial starts after it; "" = none

    def __post_init__(self) -> None:
        if self.metric not in METRICS:
            raise ConfigError(f"[tune] metric = {self.metric!r} is not one of {', '.join(METRICS)}"
                              f"{did_you_mean(self.metric, METRICS)}")
        if self.budget < 2:
            raise ConfigError(f"[tune] budget = {self.budget} must be at least 2 (a coarse and a fine trial)")
        for key in ("coarse", "top"):
            if not 0 < getattr(self, key) <= 1:
                raise ConfigError(f"[tune] {key} = {getattr(self, key)!r} must be in (0, 1]")
        for key in ("max_seconds", "max_parameters", "seed"):
            if getattr(self, key) < 0:
                raise ConfigError(f"[tune] {key} = {getattr(self, key)!r} must be zero or positive")
        if self.jobs < 1:
            raise ConfigError(f"[tune] jobs = {self.jobs} must be at least 1")
        if not isinstance(self.prune, bool):
            raise ConfigError(f"[tune] prune = {self.prune!r} must be true or false")
        for key in ("prune_startup", "prune_warmup"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"[tune] {key} = {value!r} must be a whole number, at least 1")
        if self.time:
            from mlstrat.tune._prune import parse_duration

            parse_duration(str(self.time), name="[tune] time =")
        if not self.space:
            raise ConfigError("[tune.space] is empty: give at least one hyperparameter range, e.g. "
                              "lr = [1e-4, 1e-1]")

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> TuneConfig:
        raw = dict(raw)
        space_raw = raw.pop("space", None) or {"lr": [1e-4, 1e-1], "l2": [1e-3, 10.0]}
        names = [f.name for f in dataclasses.fields(cls) if f.name != "space"]
        for key in raw:
            if key not in names:
                raise ConfigError(f"[tune] unknown key {key!r}{did_you_mean(key, names)}; keys: {', '.join(names)}")
        return cls(space=_space(space_raw), **raw)


def _space(raw: Mapping[str, Any]) -> tuple[Param, ...]:
    out = []
    for name, bounds in raw.items():
        if name not in PARAMS:
            raise ConfigError(f"[tune.space] unknown hyperparameter {name!r}{did_you_mean(name, PARAMS)}; "
                              f"searchable: {', '.join(PARAMS)}")
        if (not isinstance(bounds, (list, tuple)) or len(bounds) != 2
                or not all(isinstance(b, (int, float)) and not isinstance(b, bool) for b in bounds)):
            raise ConfigError(f"[tune.space] {name} = {bounds!r}: expected [low, high], e.g. [1e-4, 1e-1]")
        out.append(Param(name, float(bounds[0]), float(bounds[1]), PARAMS[name][2]))
    return tuple(out)


def apply_params(config: dict[str, Any], params: Mapping[str, float | int]) -> dict[str, Any]:
    """A copy of the nested config dict with the trial's values set."""
    out = {section: dict(values) for section, values in config.items()}
    hidden = list(out.get("model", {}).get("hidden", [256, 256]))
    for name, value in params.items():
        section, key, scale = PARAMS[name]
        if name == "hidden":
            hidden = [int(value)] * max(len(hidden), 1)
            continue
        if name == "layers":
            continue
        out.setdefault(section, {})[key] = int(value) if scale in ("int", "intlog") else float(value)
    if "layers" in params:
        width = hidden[0] if hidden else 64
        hidden = [width] * int(params["layers"])
    if "hidden" in params or "layers" in params:
        out.setdefault("model", {})["hidden"] = hidden
    return out


def zoom(space: Sequence[Param], best: Sequence[Mapping[str, float]], *, margin: float = 0.1) -> tuple[Param, ...]:
    """The region spanned by the best trials' values, on each parameter's sampling axis, widened
    by ``margin`` of the original span on each side and kept inside the original range."""
    out = []
    for p in space:
        xs = [p.axis(b[p.name]) for b in best if p.name in b]
        lo_axis, hi_axis = sorted((p.axis(p.low), p.axis(p.high)))
        if not xs:
            out.append(p)
            continue
        pad = margin * (hi_axis - lo_axis)
        a, b = max(min(xs) - pad, lo_axis), min(max(xs) + pad, hi_axis)
        low, high = sorted((p.from_axis(a), p.from_axis(b)))
        if p.scale in ("int", "intlog"):
            low, high = math.floor(low), math.ceil(high)
            if low >= high:
                low, high = max(int(p.low), low - 1), min(int(p.high), high + 1)
        low, high = max(low, p.low), min(high, p.high)
        out.append(dataclasses.replace(p, low=low, high=high) if low < high else p)
    return tuple(out)

"""Pruning unpromising trials, and the search's time budget.

A trial reports its dev cost at the end of every epoch; Optuna's :class:`~optuna.pruners.MedianPruner`
stops it when its best dev cost so far is worse than the median, at the same epoch, of the
trials that completed before it. Which trials count as "before" is fixed by the trial numbers,
never by which process finished first: trial ``i`` is judged against the completed trials
numbered ``i - jobs`` or lower (the pool starts trial ``i`` only once those are finished), so a
search rerun with the same seed and ``jobs`` prunes the same trials at the same epochs.

The pruner runs in the trial's own process, on an in-memory Optuna study that holds the
reference curves: nothing there waits on another process or on the study's SQLite file.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mlstrat._exceptions import ConfigError

__all__ = ["Pruning", "TrialPruner", "TimeBudget", "parse_duration", "PRUNED_KEY", "CURVE_KEY"]

#: A pruned trial's info holds the epoch it stopped at under this key.
PRUNED_KEY = "pruned_at_epoch"
#: A trained trial's info holds its dev cost per epoch (epoch 1 first) under this key.
CURVE_KEY = "dev_cost_by_epoch"


@dataclass(frozen=True)
class Pruning:
    """MedianPruner settings: no trial is pruned before ``startup`` trials completed, nor before
    its epoch ``warmup``."""

    startup: int = 5
    warmup: int = 2

    def __post_init__(self) -> None:
        if self.startup < 1 or self.warmup < 1:
            raise ConfigError(f"[tune] prune_startup = {self.startup} and prune_warmup = {self.warmup} "
                              "must be at least 1")

    def for_trial(self, reference: Sequence[Sequence[float]]) -> TrialPruner:
        """The pruner one trial runs with: ``reference`` holds the dev-cost curves of the
        completed trials it is judged against."""
        return TrialPruner(self, tuple(tuple(float(v) for v in curve) for curve in reference))

    def to_doc(self) -> dict[str, int]:
        return {"startup": self.startup, "warmup": self.warmup}


class TrialPruner:
    """One trial's side of the median rule: ``should_stop(epoch, dev_cost)`` after each epoch."""

    def __init__(self, settings: Pruning, reference: tuple[tuple[float, ...], ...]) -> None:
        self.settings, self.reference = settings, reference
        self._trial: Any = None  # built on the first report, in the worker process

    def __getstate__(self) -> dict[str, Any]:  # sent to a worker: the Optuna objects are built there
        return {"settings": self.settings, "reference": self.reference, "_trial": None}

    def _start(self) -> Any:
        import optuna
        from optuna.trial import TrialState, create_trial

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        pruner = optuna.pruners.MedianPruner(n_startup_trials=self.settings.startup,
                                             n_warmup_steps=self.settings.warmup, interval_steps=1)
        study = optuna.create_study(direction="minimize", pruner=pruner)
        for curve in self.reference:
            finite = {e: v for e, v in enumerate(curve, start=1) if math.isfinite(v)}
            if finite:
                study.add_trial(create_trial(state=TrialState.COMPLETE, value=min(finite.values()),
                                             intermediate_values=finite))
        return study.ask()

    def should_stop(self, epoch: int, dev_cost: float) -> bool:
        """Report ``dev_cost`` at ``epoch``; True when the trial should stop here."""
        if self._trial is None:
            self._trial = self._start()
        self._trial.report(float(dev_cost), epoch)
        return bool(self._trial.should_prune())


def reference_curves(finished: Mapping[int, Mapping[str, Any]], number: int, lag: int) -> list[list[float]]:
    """The dev-cost curves of the completed (not pruned, not failed) trials numbered
    ``number - lag`` or lower, in trial order."""
    out = []
    for i in sorted(finished):
        info = finished[i]
        if i <= number - lag and info.get("value") is not None and not info.get(PRUNED_KEY) \
                and info.get(CURVE_KEY):
            out.append(list(info[CURVE_KEY]))
    return out


class TimeBudget:
    """The search's time budget: spent once ``seconds`` passed on ``clock`` since it was made;
    ``seconds`` None or 0: never spent. Once spent it stays spent."""

    def __init__(self, seconds: float | None, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds, self.clock = seconds or None, clock
        self.start = clock() if self.seconds else 0.0
        self._spent = False

    def spent(self) -> bool:
        if self.seconds is not None and not self._spent:
            self._spent = self.clock() - self.start >= self.seconds
        return self._spent


_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_DURATION = re.compile(r"(?:(\d+(?:\.\d+)?)([smhd]))+")
_PART = re.compile(r"(\d+(?:\.\d+)?)([smhd])")


def parse_duration(text: str, *, name: str = "--time") -> float:
    """Seconds in a duration such as ``90s``, ``10m``, ``1.5h`` or ``1h30m``.

    Raises
    ------
    ConfigError
        Anything else: a bare number (no unit), a negative or zero duration, other units.
    """
    raw = text.strip().lower()
    if not raw or not _DURATION.fullmatch(raw):
        raise ConfigError(f"{name} {text!r}: not a duration; give a number with a unit: 90s, 10m, 2h or 1h30m")
    units = [u for _, u in _PART.findall(raw)]
    if len(set(units)) != len(units):
        raise ConfigError(f"{name} {text!r}: a unit appears twice; write it once, e.g. 1h30m")
    seconds = sum(float(n) * _UNITS[u] for n, u in _PART.findall(raw))
    if seconds <= 0:
        raise ConfigError(f"{name} {text!r}: the time budget must be more than zero")
    return seconds

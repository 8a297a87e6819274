"""Objectives for the search tests that run in spawned workers: this module imports nothing
heavy, so a worker starts in a fraction of a second."""

from __future__ import annotations

import os
import signal

from mlstrat._processes import Stopped

CALLS: list[int] = []  # trial numbers seen in this process, in order


def value_of(number, params):
    return {"value": float(number) + params["lr"]}


def killed_at_1(number, params):
    """Trial 1's worker dies as the out-of-memory killer ends a process."""
    if number == 1:
        os.kill(os.getpid(), signal.SIGKILL)
    return value_of(number, params)


def stopped_at_3(number, params):
    CALLS.append(number)
    if number == 3:
        raise Stopped(signal.SIGINT)
    return value_of(number, params)


def counted(number, params):
    CALLS.append(number)
    return value_of(number, params)


CLOCK = {"now": 0.0}  # a fake clock the time-budget tests advance from inside the objective


def curve_of(params, epochs=6):
    """A deterministic dev-cost curve: falls with the epochs, higher for a higher lr."""
    return [params["lr"] * 10.0 + 1.0 / e for e in range(1, epochs + 1)]


def with_pruner(number, params, pruner=None):
    """Reports its curve epoch by epoch to the pruner, as train_trial does."""
    CALLS.append(number)
    curve = []
    for epoch, cost in enumerate(curve_of(params), start=1):
        curve.append(cost)
        if pruner is not None and pruner.should_stop(epoch, cost):
            return {"value": None, "pruned_at_epoch": epoch, "epochs": epoch, "dev_cost_by_epoch": curve}
    return {"value": min(curve), "epochs": len(curve), "dev_cost_by_epoch": curve}


def ten_seconds_each(number, params):
    """Each trial takes ten seconds on the fake clock."""
    CALLS.append(number)
    CLOCK["now"] += 10.0
    return value_of(number, params)

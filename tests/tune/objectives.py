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

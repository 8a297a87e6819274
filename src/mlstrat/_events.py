"""Announcements from a lower layer to listeners in the layers above it.

The run store announces each run that ``record_predictions_run`` records; the MLflow export
listens (the package root subscribes it, being above every layer), so recording a run never
imports an integration.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["on_run_recorded", "run_recorded"]

_RUN_RECORDED: list[Callable[[Any], object]] = []


def on_run_recorded(listener: Callable[[Any], object]) -> Callable[[Any], object]:
    """Call ``listener(run)`` after each recorded run (once, however often it subscribes)."""
    if listener not in _RUN_RECORDED:
        _RUN_RECORDED.append(listener)
    return listener


def run_recorded(run: Any) -> None:
    """Tell every listener that ``run`` was recorded, in the order they subscribed."""
    for listener in tuple(_RUN_RECORDED):
        listener(run)

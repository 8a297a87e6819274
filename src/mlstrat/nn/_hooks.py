"""Epoch callbacks: code above the trainer (a hyperparameter search, a dashboard) sees each
epoch's figures as the epoch ends, without a parameter threaded through ``train``.

A callback registered with :func:`on_epoch` is called by the epoch loop with the epoch's
:class:`~mlstrat.nn._fitter.EpochStats`; an exception it raises stops training and leaves
``train`` (a search stops an unpromising trial this way). Callbacks live in a context variable:
they reach the training of this thread (or task) only, inside the ``with`` block.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

__all__ = ["on_epoch", "notify_epoch"]

_CALLBACKS: ContextVar[tuple[Callable[[Any], None], ...]] = ContextVar("mlstrat_epoch_callbacks", default=())


@contextmanager
def on_epoch(callback: Callable[[Any], None]) -> Iterator[None]:
    """Call ``callback(stats)`` at the end of every training epoch inside the block.

    Parameters
    ----------
    callback : callable
        Takes the epoch's ``EpochStats`` (epoch, train_cost, dev_cost, train_error, dev_error,
        lr); an exception it raises stops training and propagates out of ``train``.
    """
    token = _CALLBACKS.set((*_CALLBACKS.get(), callback))
    try:
        yield
    finally:
        _CALLBACKS.reset(token)


def notify_epoch(stats: Any) -> None:
    """Pass one finished epoch's figures to the registered callbacks (the epoch loop calls this)."""
    for callback in _CALLBACKS.get():
        callback(stats)

"""Progress reporting that shows a Rich bar on a terminal and stays silent otherwise.

Library functions take ``progress: bool | None = None``; ``None`` means "a bar when stderr is a
terminal and not under CI". The bar goes to stderr, so piped stdout (e.g. ``--json``) stays clean.
"""

from __future__ import annotations

import contextlib
import os
import sys

__all__ = ["progress_enabled", "Steps"]


def progress_enabled(progress: bool | None = None) -> bool:
    if progress is not None:
        return progress
    return sys.stderr.isatty() and os.environ.get("CI", "").lower() not in {"1", "true", "yes"}


class Steps:
    """A bar over named steps: ``with Steps(3, "Splitting") as s: ...; s.advance("hashing")``."""

    def __init__(self, total: int, description: str, *, progress: bool | None = None) -> None:
        self.total, self.description = total, description
        self.enabled = progress_enabled(progress)
        self._stack = contextlib.ExitStack()
        self._bar = None
        self._task = None

    def __enter__(self) -> "Steps":
        if self.enabled:
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

            self._bar = self._stack.enter_context(Progress(
                TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                TimeElapsedColumn(), transient=True, console=_console()))
            self._task = self._bar.add_task(self.description, total=self.total)
        return self

    def advance(self, label: str | None = None, amount: float = 1) -> None:
        if self._bar is not None:
            desc = f"{self.description}: {label}" if label else self.description
            self._bar.update(self._task, advance=amount, description=desc)

    def __exit__(self, *exc: object) -> None:
        self._stack.close()


def _console():
    from rich.console import Console

    return Console(stderr=True)

"""What :func:`~mlstrat.splits.split` produced: the manifest with its ``split`` column, the summary
of how it was made, and the writers of the table and of its lock.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlstrat.display._repr import NotebookRepr

__all__ = ["SplitResult"]


@dataclass(frozen=True)
class SplitResult(NotebookRepr):
    """The manifest with its ``split`` column, and the summary of how it was made.

    Attributes
    ----------
    table : ibis.Table
        Every input column plus ``split`` (``train``, ``train_dev``, ``dev``, ``test``).
        Lazy: it is computed by the engine when written or executed.
    summary : dict
        ``sizes``, ``by_domain``, ``by_label``, ``policy``, ``salt``, ``checks``, ``warnings``.
    source : str
        The input's file name or type, for messages.
    """

    table: Any
    summary: dict[str, Any]
    source: str
    _con: Any = field(default=None, repr=False, compare=False)
    _inputs: tuple[Any, ...] = field(default=(), repr=False, compare=False)
    _id: str = field(default="id", repr=False, compare=False)

    @property
    def sizes(self) -> dict[str, int]:
        return dict(self.summary["sizes"])

    @property
    def leakage(self) -> bool:
        """True when an id, group or identical content sits in two splits."""
        return bool(self.summary["checks"]["leakage"]["found"])

    def to_dict(self) -> dict[str, Any]:
        return dict(self.summary)

    def write(self, path: str | os.PathLike, *, force: bool = False) -> Path:
        """Write the table with its ``split`` column to Parquet/CSV/JSONL, atomically.

        Refuses to overwrite the input (or the lock it was read with), and an existing file
        unless ``force``.
        """
        from mlstrat.tables import write_table

        return write_table(self.table, path, con=self._con, force=force, inputs=self._inputs,
                           keep_order=False)  # row order carries no meaning: the writer runs in parallel

    def write_lock(self, path: str | os.PathLike, *, force: bool = True) -> Path:
        """Write the lock (``id``, ``split`` of every row) that keeps this assignment stable."""
        from mlstrat.tables import write_table

        lock = self.table.select(self._id, "split")
        if _same_path(self.source, path) and Path(self.source).exists():
            from mlstrat._exceptions import InputError

            raise InputError(f"{path}: the lock path is the manifest; mlstrat never overwrites its input. "
                             "Give --lock a file of its own (e.g. split.lock.parquet)")
        inputs = tuple(i for i in self._inputs if not _same_path(i, path))  # the lock read may be refreshed
        return write_table(lock, path, con=self._con, force=force, inputs=inputs)


def _same_path(a: Any, b: Any) -> bool:
    return isinstance(a, (str, os.PathLike)) and Path(a).absolute() == Path(b).absolute()

"""What the training callbacks of every framework share.

The Lightning and the Hugging Face ``MlstratCallback`` differ in how they reach the model and
its data (their hooks, how a batch becomes logits) and agree on everything else: which splits
they accept, the predictions table's columns, the history of errors per epoch, and what the
end of training writes, records and prints. :class:`CallbackCore` holds that agreement; each
framework's callback inherits it beside the framework's own callback class and only makes
its predictions tables.
"""

from __future__ import annotations

import json
import os
import sys
import warnings
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mlstrat._constants import SPLITS
from mlstrat._exceptions import ConfigError, MlstratWarning

__all__ = ["CallbackCore", "predictions_frame"]


def predictions_frame(split: str, *, ids: Sequence[Any], y_true: Sequence[Any], proba: np.ndarray,
                      classes: Sequence[Any]) -> Any:
    """The predictions table (pandas) of one split: ``id``, ``split``, ``y_true``, ``y_pred`` and
    ``proba_<class>`` per class; ``proba`` is (rows, classes), in the order of ``classes``."""
    import pandas as pd

    frame = pd.DataFrame({
        "id": ids,
        "split": split,
        "y_true": y_true,
        "y_pred": [classes[int(j)] for j in proba.argmax(axis=1)],
    })
    for j, c in enumerate(classes):
        frame[f"proba_{c}"] = proba[:, j]
    return frame


class CallbackCore:
    """The state of an ``MlstratCallback`` and the work that does not depend on the framework.

    Parameters
    ----------
    splits : mapping of split name -> data
        Checked here: only the method's splits, ``train`` and ``dev`` among them.
    noun : str
        What the framework calls the data (``"loaders"``, ``"datasets"``), for the messages.
    classes, epochs, output_dir, human, record, store, verbose
        As the framework's ``MlstratCallback`` documents them.
    """

    def __init__(self, splits: Mapping[str, Any], *, noun: str, classes: Sequence[Any] | None,
                 epochs: Iterable[int], output_dir: str | os.PathLike, human: Sequence[str], record: bool,
                 store: str | os.PathLike | None, verbose: bool) -> None:
        super().__init__()  # the framework's callback class, next in the subclass's bases
        unknown = sorted(set(splits) - set(SPLITS))
        if unknown:
            raise ConfigError(f"MlstratCallback: unknown split(s) {', '.join(map(repr, unknown))}; "
                              f"allowed: {', '.join(SPLITS)}")
        if "train" not in splits or "dev" not in splits:
            raise ConfigError(f"MlstratCallback: {noun} need at least 'train' and 'dev' (add 'train_dev' to "
                              "separate variance from data mismatch)")
        self.classes = list(classes) if classes is not None else None
        self.epochs = {int(e) for e in epochs}
        self.output_dir = Path(output_dir)
        self.human = list(human)
        self.record = record
        self.store = store
        self.verbose = verbose
        self.history: list[dict[str, Any]] = []
        self.diagnosis: Any = None
        self.run_id: str | None = None

    def _write(self, frame: Any, name: str) -> Path:
        from mlstrat.tables import write_table

        self.output_dir.mkdir(parents=True, exist_ok=True)
        return write_table(frame, self.output_dir / name, force=True)

    def _end_epoch(self, frame: Any, epoch: int) -> None:
        """Add each split's error in ``frame`` to the history; write the table if ``epoch`` was asked for."""
        errors = {f"{s}_error": float((g.y_true != g.y_pred).mean()) for s, g in frame.groupby("split")}
        self.history.append({"epoch": epoch, **errors})
        if epoch in self.epochs:
            self._write(frame, f"predictions_epoch{epoch}.parquet")

    def _end_training(self, frame: Any, *, framework: str, config: dict[str, Any], stopped_early: bool,
                      restored_best: bool) -> None:
        """Write the last predictions table, the history, metrics and diagnosis; record the run as
        a ``framework`` run with ``config``; print the verdict."""
        from mlstrat._json import dumps
        from mlstrat.diagnosis import diagnose
        from mlstrat.metrics import compute_metrics
        from mlstrat.tables import atomic_write_text

        path = self._write(frame, "predictions.parquet")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", MlstratWarning)  # e.g. "no human level: 0 assumed"
            self.diagnosis = diagnose(str(path), human=self.human)
            metrics = compute_metrics(str(path))
        history = {"epochs": self.history, "best_epoch": None, "stopped_early": stopped_early,
                   "restored_best": restored_best}
        atomic_write_text(self.output_dir / "history.json", json.dumps(history, indent=2) + "\n")
        atomic_write_text(self.output_dir / "metrics.json", dumps(metrics) + "\n")
        atomic_write_text(self.output_dir / "diagnosis.json", dumps(self.diagnosis) + "\n")
        if self.record:
            self.run_id = self._record(framework, path, config=config, metrics=metrics)
        if self.verbose:
            sys.stdout.write(self._verdict_text())
            sys.stdout.flush()

    def _record(self, framework: str, path: Path, *, config: dict[str, Any], metrics: Any) -> str:
        from mlstrat.runs import RunStore, record_predictions_run

        run = record_predictions_run(framework, path, store=RunStore(self.store), config=config,
                                     metrics=metrics, diagnosis=self.diagnosis, artifacts=self.output_dir)
        return run.id

    def _verdict_text(self) -> str:
        """Each split's error, the verdict, the next action and the recorded run; empty before a diagnosis."""
        from mlstrat.display._numbers import format_pct

        d = self.diagnosis
        if d is None:
            return ""
        errors = ", ".join(f"{s} {format_pct(e.value)}" for s, e in d.errors.items())
        lines = [f"mlstrat: {errors}", f"mlstrat: {d.verdict}"]
        if d.actions:
            lines.append(f"mlstrat: next: {d.actions[0].title}")
        if self.run_id:
            lines.append(f"mlstrat: recorded run {self.run_id[:8]}; mlstrat report {self.run_id[:8]}")
        return "\n".join(lines) + "\n"

"""The Lightning callback."""

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
from mlstrat._exceptions import ConfigError, InputError, MlstratWarning

try:
    from lightning.pytorch import Callback
except ImportError as _exc:  # pragma: no cover - the extra is missing
    raise ImportError("mlstrat.lightning needs Lightning: pip install 'mlstrat[lightning]'") from _exc

__all__ = ["MlstratCallback"]


def _unpack(batch: Any) -> tuple[Any, Any, Any]:
    """``(x, y)``, ``(x, y, ids)`` or a mapping with ``x``/``y``/``id`` -> (x, y, ids or None)."""
    if isinstance(batch, Mapping):
        missing = [k for k in ("x", "y") if k not in batch]
        if missing:
            raise InputError(f"MlstratCallback: a dict batch needs the keys 'x' and 'y' (and optionally 'id'); "
                             f"{', '.join(map(repr, missing))} missing (keys: {', '.join(map(repr, batch))})")
        return batch["x"], batch["y"], batch.get("id")
    if isinstance(batch, (list, tuple)) and len(batch) in (2, 3):
        return batch[0], batch[1], batch[2] if len(batch) == 3 else None
    raise InputError("MlstratCallback: a batch must be (x, y), (x, y, ids) or a dict with 'x', 'y' and "
                      f"optionally 'id'; got {type(batch).__name__}")


def _checked_logits(logits: Any, *, split: str) -> Any:
    """The module's output when it is (batch, classes) of finite numbers."""
    import torch

    if not isinstance(logits, torch.Tensor) or logits.ndim != 2:
        shape = tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__
        raise InputError(f"MlstratCallback: the module's forward returned {shape} on a {split!r} batch; expected "
                         "a tensor of logits of shape (batch, classes), one logit per class")
    bad = ~torch.isfinite(logits)
    if bool(bad.any()):
        rows = int(bad.any(dim=1).sum())
        raise InputError(f"MlstratCallback: the module returned NaN or infinite logits for {rows} of "
                         f"{logits.shape[0]} rows of a {split!r} batch; the model diverged (lower the learning "
                         "rate, clip gradients) or its input holds NaN")
    return logits


def _class_index(value: Any, n_classes: int, *, split: str) -> int:
    """A label ``y`` as the index of its class: a whole number from 0 to n_classes - 1."""
    whole = isinstance(value, (int, np.integer)) or (isinstance(value, float) and value.is_integer())
    if isinstance(value, bool) or not whole or not 0 <= int(value) < n_classes:
        raise InputError(f"MlstratCallback: label {value!r} in a {split!r} batch is not a class index; y must hold "
                         f"whole numbers from 0 to {n_classes - 1} (the position of the class in the logits)")
    return int(value)


def _plain(values: Any) -> list[Any]:
    if hasattr(values, "detach"):
        values = values.detach().cpu().numpy()
    return np.asarray(values).tolist() if not isinstance(values, list) else values


class MlstratCallback(Callback):
    """Write the method's predictions tables while a LightningModule trains, then diagnose.

    Parameters
    ----------
    loaders : mapping of split name -> DataLoader
        The data of ``train``, ``train_dev``, ``dev`` (and ``test`` if you must; its use is
        counted). Batches are ``(x, y)``, ``(x, y, ids)`` or dicts with ``x``, ``y``, ``id``.
        The module's ``forward`` must return one logit per class.
    classes : sequence, default=None
        The label of each output; default ``0 .. n_outputs - 1``.
    epochs : iterable of int, default=()
        Epochs (1-based) after which to write ``predictions_epoch<N>.parquet`` too; the last
        epoch's table is always written as ``predictions.parquet``.
    output_dir : path-like, default="mlstrat-lightning"
        Where the tables, ``history.json``, ``metrics.json`` and ``diagnosis.json`` go.
    human : sequence of str, default=()
        Human-level errors for the diagnosis (``"expert=0.5%"``).
    record : bool, default=True
        Record the run in the run store (``store`` or ``$MLSTRAT_STORE``).
    verbose : bool, default=True
        Print the verdict when fit ends (rank 0 only).

    Attributes
    ----------
    history : list of dict
        ``{"epoch", "<split>_error", ...}`` per epoch.
    diagnosis : Diagnosis or None
        Set at the end of fit.
    run_id : str or None
        The recorded run.
    """

    def __init__(self, loaders: Mapping[str, Any], *, classes: Sequence[Any] | None = None,
                 epochs: Iterable[int] = (), output_dir: str | os.PathLike = "mlstrat-lightning",
                 human: Sequence[str] = (), record: bool = True, store: str | os.PathLike | None = None,
                 verbose: bool = True) -> None:
        super().__init__()
        unknown = sorted(set(loaders) - set(SPLITS))
        if unknown:
            raise ConfigError(f"MlstratCallback: unknown split(s) {', '.join(map(repr, unknown))}; "
                              f"allowed: {', '.join(SPLITS)}")
        if "train" not in loaders or "dev" not in loaders:
            raise ConfigError("MlstratCallback: loaders need at least 'train' and 'dev' (add 'train_dev' to "
                              "separate variance from data mismatch)")
        self.loaders = dict(loaders)
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

    # ----- predictions --------------------------------------------------------------------
    def predictions_table(self, pl_module: Any) -> Any:
        """The predictions table (pandas) of the module as it is now, over every loader."""
        import pandas as pd
        import torch

        frames = []
        was_training = pl_module.training
        pl_module.eval()
        try:
            with torch.no_grad():
                for split, loader in self.loaders.items():
                    frames.append(self._predict_split(pl_module, split, loader))
        finally:
            pl_module.train(was_training)
        return pd.concat(frames, ignore_index=True)

    def _predict_split(self, pl_module: Any, split: str, loader: Any) -> Any:
        import pandas as pd
        import torch

        probas, ys, ids = [], [], []
        for batch in loader:
            x, y, batch_ids = _unpack(batch)
            logits = _checked_logits(pl_module(x.to(pl_module.device)), split=split)  # (B, K)
            probas.append(torch.softmax(logits.float(), dim=1).cpu().numpy())  # (B, K)
            batch_y = _plain(y)
            batch_ids = _plain(batch_ids) if batch_ids is not None else [None] * len(probas[-1])
            if not len(batch_y) == len(batch_ids) == len(probas[-1]):
                raise InputError(f"MlstratCallback: a {split!r} batch has {len(probas[-1])} logit rows, "
                                 f"{len(batch_y)} labels and {len(batch_ids)} ids; they must match row for row")
            ys += batch_y
            ids += batch_ids
        proba = np.concatenate(probas) if probas else np.zeros((0, len(self.classes or [])))
        classes = self.classes if self.classes is not None else list(range(proba.shape[1]))
        if len(classes) != proba.shape[1]:
            raise ConfigError(f"MlstratCallback: {len(classes)} classes given but the module returns "
                              f"{proba.shape[1]} outputs")
        frame = pd.DataFrame({
            "id": [f"{split}-{i}" if v is None else v for i, v in enumerate(ids)],
            "split": split,
            "y_true": [classes[_class_index(v, len(classes), split=split)] for v in ys],
            "y_pred": [classes[int(j)] for j in proba.argmax(axis=1)],
        })
        for j, c in enumerate(classes):
            frame[f"proba_{c}"] = proba[:, j]
        return frame

    def _write(self, frame: Any, name: str) -> Path:
        from mlstrat.tables import write_table

        self.output_dir.mkdir(parents=True, exist_ok=True)
        return write_table(frame, self.output_dir / name, force=True)

    # ----- Lightning hooks ----------------------------------------------------------------
    def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        if trainer.sanity_checking or not trainer.is_global_zero:
            return
        epoch = trainer.current_epoch + 1
        frame = self.predictions_table(pl_module)
        errors = {f"{s}_error": float((g.y_true != g.y_pred).mean()) for s, g in frame.groupby("split")}
        self.history.append({"epoch": epoch, **errors})
        if epoch in self.epochs:
            self._write(frame, f"predictions_epoch{epoch}.parquet")

    def on_fit_end(self, trainer: Any, pl_module: Any) -> None:
        if not trainer.is_global_zero:
            return
        from mlstrat._json import dumps
        from mlstrat.diagnosis import diagnose
        from mlstrat.metrics import compute_metrics
        from mlstrat.tables import atomic_write_text

        path = self._write(self.predictions_table(pl_module), "predictions.parquet")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", MlstratWarning)  # e.g. "no human level: 0 assumed"
            self.diagnosis = diagnose(str(path), human=self.human)
            metrics = compute_metrics(str(path))
        history = {"epochs": self.history, "best_epoch": None, "stopped_early": bool(trainer.should_stop),
                   "restored_best": False}
        atomic_write_text(self.output_dir / "history.json", json.dumps(history, indent=2) + "\n")
        atomic_write_text(self.output_dir / "metrics.json", dumps(metrics) + "\n")
        atomic_write_text(self.output_dir / "diagnosis.json", dumps(self.diagnosis) + "\n")
        if self.record:
            self.run_id = self._record(pl_module, path, metrics)
        if self.verbose:
            sys.stdout.write(self._verdict_text())
            sys.stdout.flush()

    def _record(self, pl_module: Any, path: Path, metrics: Any) -> str:
        from mlstrat.runs import RunStore, record_predictions_run

        hparams = {k: v for k, v in dict(getattr(pl_module, "hparams", {}) or {}).items()
                   if isinstance(v, (str, int, float, bool, list, tuple, type(None)))}
        config = {"lightning": {"module": type(pl_module).__name__, **hparams}}
        run = record_predictions_run("lightning", path, store=RunStore(self.store), config=config,
                                     metrics=metrics, diagnosis=self.diagnosis, artifacts=self.output_dir)
        return run.id

    def _verdict_text(self) -> str:
        from mlstrat.display._numbers import format_pct

        d = self.diagnosis
        errors = ", ".join(f"{s} {format_pct(e.value)}" for s, e in d.errors.items())
        lines = [f"mlstrat: {errors}", f"mlstrat: {d.verdict}"]
        if d.actions:
            lines.append(f"mlstrat: next: {d.actions[0].title}")
        if self.run_id:
            lines.append(f"mlstrat: recorded run {self.run_id[:8]}; mlstrat report {self.run_id[:8]}")
        return "\n".join(lines) + "\n"

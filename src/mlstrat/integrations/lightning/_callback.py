"""The Lightning callback."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from mlstrat._exceptions import ConfigError, InputError
from mlstrat.integrations._callback_core import CallbackCore, predictions_frame

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


class MlstratCallback(CallbackCore, Callback):
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
        super().__init__(loaders, noun="loaders", classes=classes, epochs=epochs, output_dir=output_dir,
                         human=human, record=record, store=store, verbose=verbose)
        self.loaders = dict(loaders)

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
        return predictions_frame(split, ids=[f"{split}-{i}" if v is None else v for i, v in enumerate(ids)],
                                 y_true=[classes[_class_index(v, len(classes), split=split)] for v in ys],
                                 proba=proba, classes=classes)

    # ----- Lightning hooks ----------------------------------------------------------------
    def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        if trainer.sanity_checking or not trainer.is_global_zero:
            return
        epoch = trainer.current_epoch + 1
        self._end_epoch(self.predictions_table(pl_module), epoch)

    def on_fit_end(self, trainer: Any, pl_module: Any) -> None:
        if not trainer.is_global_zero:
            return
        self._end_training(self.predictions_table(pl_module), framework="lightning",
                           config={"lightning": _module_config(pl_module)},
                           stopped_early=bool(trainer.should_stop), restored_best=False)


def _module_config(pl_module: Any) -> dict[str, Any]:
    """The module's class and those of its ``hparams`` a run's record can keep as JSON."""
    hparams = {k: v for k, v in dict(getattr(pl_module, "hparams", {}) or {}).items()
               if isinstance(v, (str, int, float, bool, list, tuple, type(None)))}
    return {"module": type(pl_module).__name__, **hparams}

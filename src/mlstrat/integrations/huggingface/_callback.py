"""The Hugging Face Transformers callback."""

from __future__ import annotations

import inspect
import math
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from mlstrat._exceptions import ConfigError, InputError
from mlstrat.integrations._callback_core import CallbackCore, predictions_frame

try:
    from transformers import TrainerCallback
except ImportError as _exc:  # pragma: no cover - the extra is missing
    raise ImportError("mlstrat.integrations.huggingface needs Transformers: "
                      "pip install 'mlstrat[huggingface]'") from _exc

__all__ = ["MlstratCallback"]

# where a row keeps its label: the Trainer's default collator accepts all three
LABEL_KEYS = ("labels", "label", "label_ids")
# the TrainingArguments a run's record keeps (the ones that change what is learned)
RECORDED_ARGS = ("learning_rate", "num_train_epochs", "max_steps", "per_device_train_batch_size",
                 "gradient_accumulation_steps", "weight_decay", "warmup_steps", "lr_scheduler_type",
                 "optim", "seed", "fp16", "bf16")


def _rows(dataset: Any) -> Iterator[Any]:
    """The rows of a map-style dataset by index (``datasets.Dataset``, a list, a torch
    ``Dataset``), else by iteration (an iterable dataset)."""
    if hasattr(dataset, "__len__") and hasattr(dataset, "__getitem__"):
        return (dataset[i] for i in range(len(dataset)))
    return iter(dataset)


def _batches(dataset: Any, size: int) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for row in _rows(dataset):
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _scalar(value: Any) -> Any:
    """A 0-d tensor or array as its Python number; anything else as it is."""
    if hasattr(value, "item") and getattr(value, "ndim", None) == 0:
        return value.item()
    return value


def _label(row: Mapping[str, Any], *, split: str, index: int) -> Any:
    for key in LABEL_KEYS:
        if key in row:
            return _scalar(row[key])
    raise InputError(f"MlstratCallback: row {index} of the {split!r} dataset has no label; a row needs "
                     f"'labels' (or 'label', 'label_ids') beside the model's inputs (keys: "
                     f"{', '.join(map(repr, row))})")


def _class_index(value: Any, n_classes: int, *, split: str) -> int:
    """A label as the index of its class: a whole number from 0 to n_classes - 1."""
    whole = isinstance(value, (int, np.integer)) or (isinstance(value, float) and value.is_integer())
    if isinstance(value, bool) or not whole or not 0 <= int(value) < n_classes:
        raise InputError(f"MlstratCallback: label {value!r} in the {split!r} dataset is not a class index; "
                         f"labels must be whole numbers from 0 to {n_classes - 1} (the position of the class "
                         "in the logits)")
    return int(value)


def _logits_of(output: Any, *, split: str) -> Any:
    """The (batch, classes) logits of a model's output, when they are finite."""
    import torch

    logits = output.get("logits") if isinstance(output, Mapping) else getattr(output, "logits", None)
    if logits is None and isinstance(output, (tuple, list)) and output:
        logits = output[0]
    if not isinstance(logits, torch.Tensor) or logits.ndim != 2 or logits.shape[1] < 2:
        shape = tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__
        raise InputError(f"MlstratCallback: the model returned logits {shape} on the {split!r} dataset; "
                         "expected (batch, classes) with one logit per class, two or more (a sequence "
                         "classification head with num_labels >= 2)")
    bad = ~torch.isfinite(logits)
    if bool(bad.any()):
        rows = int(bad.any(dim=1).sum())
        raise InputError(f"MlstratCallback: the model returned NaN or infinite logits for {rows} of "
                         f"{logits.shape[0]} rows of the {split!r} dataset; the model diverged (lower the "
                         "learning rate, clip gradients with max_grad_norm) or its input holds NaN")
    return logits


def _input_keys(model: Any) -> set[str]:
    """The keyword arguments the model's ``forward`` names (what the Trainer keeps of a row)."""
    parameters = inspect.signature(model.forward).parameters.values()
    return {p.name for p in parameters if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)} - set(LABEL_KEYS)


def _default_collator(processing_class: Any) -> Callable[[list[Any]], Any]:
    """The collator the Trainer itself uses by default: padding with a tokenizer, else stacking."""
    from transformers import DataCollatorWithPadding, default_data_collator

    if processing_class is not None and hasattr(processing_class, "pad"):
        return DataCollatorWithPadding(processing_class)
    return default_data_collator


def _default_classes(model: Any, n_outputs: int) -> list[Any]:
    """The model config's label names when they were set, else ``0 .. n_outputs - 1``."""
    id2label = getattr(getattr(model, "config", None), "id2label", None) or {}
    names = [id2label.get(i) for i in range(n_outputs)]
    if all(isinstance(n, str) for n in names) and names != [f"LABEL_{i}" for i in range(n_outputs)]:
        return names
    return list(range(n_outputs))


class MlstratCallback(CallbackCore, TrainerCallback):
    """Write the method's predictions tables while a Transformers ``Trainer`` trains, then diagnose.

    Parameters
    ----------
    datasets : mapping of split name -> dataset
        The data of ``train``, ``train_dev``, ``dev`` (and ``test`` if you must; its use is
        counted): ``datasets.Dataset``, a list of dicts or a torch ``Dataset`` whose rows are
        dicts with the model's inputs (``input_ids``, ``attention_mask``, ...), the label
        (``labels``, ``label`` or ``label_ids``) and optionally an id (``id_column``).
        The model must return one logit per class.
    classes : sequence, default=None
        The label of each output; default the model config's ``id2label`` when it was set,
        else ``0 .. n_outputs - 1``.
    epochs : iterable of int, default=()
        Epochs (1-based) after which to write ``predictions_epoch<N>.parquet`` too; the last
        epoch's table is always written as ``predictions.parquet``.
    output_dir : path-like, default="mlstrat-huggingface"
        Where the tables, ``history.json``, ``metrics.json`` and ``diagnosis.json`` go.
    human : sequence of str, default=()
        Human-level errors for the diagnosis (``"expert=0.5%"``).
    record : bool, default=True
        Record the run in the run store (``store`` or ``$MLSTRAT_STORE``).
    store : path-like, default=None
        The run store; default ``$MLSTRAT_STORE`` or the working directory's.
    verbose : bool, default=True
        Print the verdict when training ends (main process only).
    data_collator : callable, default=None
        Batches a list of rows for the model; default the Trainer's own default (padding with
        the tokenizer the Trainer was given, else stacking).
    id_column : str, default="id"
        The row key that holds the row's id; rows without it are numbered ``<split>-<i>``.

    Attributes
    ----------
    history : list of dict
        ``{"epoch", "<split>_error", ...}`` per epoch.
    diagnosis : Diagnosis or None
        Set when training ends.
    run_id : str or None
        The recorded run.
    """

    def __init__(self, datasets: Mapping[str, Any], *, classes: Sequence[Any] | None = None,
                 epochs: Iterable[int] = (), output_dir: str | os.PathLike = "mlstrat-huggingface",
                 human: Sequence[str] = (), record: bool = True, store: str | os.PathLike | None = None,
                 verbose: bool = True, data_collator: Callable[[list[Any]], Any] | None = None,
                 id_column: str = "id") -> None:
        super().__init__(datasets, noun="datasets", classes=classes, epochs=epochs, output_dir=output_dir,
                         human=human, record=record, store=store, verbose=verbose)
        self.datasets = dict(datasets)
        self.data_collator = data_collator
        self.id_column = id_column

    # ----- predictions --------------------------------------------------------------------
    def predictions_table(self, model: Any, *, processing_class: Any = None, batch_size: int = 32) -> Any:
        """The predictions table (pandas) of ``model`` as it is now, over every dataset.

        Parameters
        ----------
        model : transformers.PreTrainedModel or torch.nn.Module
            A classifier whose output has ``logits`` (or whose first output is the logits).
        processing_class : tokenizer, default=None
            Pads the batches when no ``data_collator`` was given.
        batch_size : int, default=32
            Rows per forward pass.
        """
        import pandas as pd
        import torch

        collate = self.data_collator or _default_collator(processing_class)
        keys = _input_keys(model)
        was_training = model.training
        model.eval()
        try:
            with torch.no_grad():
                frames = [self._predict_split(model, split, dataset, keys=keys, collate=collate,
                                              batch_size=batch_size)
                          for split, dataset in self.datasets.items()]
        finally:
            model.train(was_training)
        return pd.concat(frames, ignore_index=True)

    def _forward(self, model: Any, rows: list[Any], *, split: str, first: int, keys: set[str],
                 collate: Callable) -> Any:
        """Softmax probabilities (numpy, rows x classes) of one batch of rows; ``keys``: the
        model's input names."""
        import torch

        features = [{k: v for k, v in row.items() if k in keys} for row in rows]
        if not features[0]:
            raise InputError(f"MlstratCallback: row {first} of the {split!r} dataset holds none of the model's "
                             f"inputs ({', '.join(sorted(keys))}); keys: {', '.join(map(repr, rows[0]))}. "
                             "Tokenize the dataset first (dataset.map(tokenizer))")
        try:
            batch = collate(features)
        except (TypeError, ValueError) as exc:
            raise InputError(f"MlstratCallback: the {split!r} rows {first}-{first + len(rows) - 1} could not be "
                             f"batched ({str(exc).splitlines()[0]}); pass data_collator= the collator the "
                             "Trainer uses (e.g. DataCollatorWithPadding(tokenizer))") from exc
        weight = next(iter(model.parameters()), None)
        if weight is not None:  # the batch goes where the model is
            batch = {k: v.to(weight.device) if hasattr(v, "to") else v for k, v in dict(batch).items()}
        logits = _logits_of(model(**batch), split=split)
        return torch.softmax(logits.float(), dim=1).cpu().numpy()

    def _predict_split(self, model: Any, split: str, dataset: Any, *, keys: set[str], collate: Callable,
                       batch_size: int) -> Any:
        probas, labels, ids = [], [], []
        for rows in _batches(dataset, batch_size):
            for row in rows:
                if not isinstance(row, Mapping):
                    raise InputError(f"MlstratCallback: the {split!r} dataset yields {type(row).__name__} rows; "
                                     "each row must be a dict of the model's inputs and 'labels'")
                labels.append(_label(row, split=split, index=len(labels)))
                ids.append(_scalar(row.get(self.id_column, f"{split}-{len(ids)}")))
            probas.append(self._forward(model, rows, split=split, first=len(labels) - len(rows), keys=keys,
                                        collate=collate))
        if not probas:
            raise InputError(f"MlstratCallback: the {split!r} dataset is empty")
        proba = np.concatenate(probas)
        classes = self.classes if self.classes is not None else _default_classes(model, proba.shape[1])
        if len(classes) != proba.shape[1]:
            raise ConfigError(f"MlstratCallback: {len(classes)} classes given but the model returns "
                              f"{proba.shape[1]} logits per row")
        return predictions_frame(split, ids=ids,
                                 y_true=[classes[_class_index(v, len(classes), split=split)] for v in labels],
                                 proba=proba, classes=classes)

    # ----- Trainer events -----------------------------------------------------------------
    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.history = []  # one history per trainer.train()

    def on_epoch_end(self, args: Any, state: Any, control: Any, model: Any = None,
                     processing_class: Any = None, **kwargs: Any) -> None:
        # Transformers before 4.46 passes the tokenizer as ``tokenizer``
        if not state.is_world_process_zero:
            return
        # state.epoch is fractional when max_steps ends training inside an epoch
        epoch = math.ceil(state.epoch - 1e-6) if state.epoch else len(self.history) + 1
        frame = self.predictions_table(model, processing_class=processing_class or kwargs.get("tokenizer"),
                                       batch_size=args.per_device_eval_batch_size)
        self._end_epoch(frame, epoch)

    def on_train_end(self, args: Any, state: Any, control: Any, model: Any = None,
                     processing_class: Any = None, **kwargs: Any) -> None:
        if not state.is_world_process_zero:
            return
        # the model the Trainer ends with: the best checkpoint's under load_best_model_at_end
        frame = self.predictions_table(model, processing_class=processing_class or kwargs.get("tokenizer"),
                                       batch_size=args.per_device_eval_batch_size)
        config = {"huggingface": {"model": type(model).__name__,
                                  "model_type": getattr(getattr(model, "config", None), "model_type", None),
                                  **_recorded_args(args)}}
        self._end_training(frame, framework="huggingface", config=config,
                           stopped_early=bool(state.max_steps and state.global_step < state.max_steps),
                           restored_best=bool(args.load_best_model_at_end and state.best_model_checkpoint))

    def verdict_text(self) -> str:
        """What training's end prints: each split's error, the verdict, the next action, the run."""
        return self._verdict_text()


def _recorded_args(args: Any) -> dict[str, Any]:
    """The TrainingArguments of :data:`RECORDED_ARGS` as plain JSON values (enums by value)."""
    found = {}
    for name in RECORDED_ARGS:
        value = getattr(args, name, None)
        value = getattr(value, "value", value)  # SchedulerType, OptimizerNames
        if isinstance(value, (str, int, float, bool)):
            found[name] = value
    return found

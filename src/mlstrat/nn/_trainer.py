"""The training loop and the run directory.

``train(config)`` reads the manifest, normalizes with train statistics, builds (or transfers)
the network, runs mini-batch optimization with early stopping on the dev split, then writes
the run directory: model.pt, config.resolved.toml, history.json, predictions.parquet, metrics.json.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import math
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from mlstrat._exceptions import ConfigError, InputError
from mlstrat.nn._checkpoint import load_checkpoint, network_from_checkpoint, save_checkpoint
from mlstrat.nn._config import TrainConfig
from mlstrat.nn._data import Dataset, Normalizer, load_dataset
from mlstrat.nn._distributed import Dist
from mlstrat.nn._model import (
    Architecture,
    Network,
    cross_entropy_cost,
    initialize,
    masked_bce_cost,
    penalty,
    weight_parameters,
    weight_sum,
    weighted_cost_sums,
)

__all__ = ["TrainResult", "train", "resolve_device", "build_network", "make_optimizer", "Fitter",
           "EpochStats", "outputs_to_predictions"]

_EVAL_CHUNK = 8192


@dataclass(frozen=True)
class TrainResult:
    """What :func:`train` wrote and measured.

    Attributes
    ----------
    run_dir : Path
        The run directory (model.pt, config.resolved.toml, history.json, predictions.parquet, metrics.json).
    metrics : dict
        metrics.json: per split ``n``, ``error``, ``accuracy``, ``cost``; ``tasks`` for multi-task.
    history : dict
        history.json: ``epochs`` (per epoch train/dev cost and error), ``best_epoch``,
        ``stopped_early``, ``restored_best``.
    warnings : tuple of dict
        ``{"code", "message"}``: the test split sealed, or used (with the look count).
    """

    run_dir: Path
    metrics: dict[str, Any]
    history: dict[str, Any]
    classes: list[Any] = field(default_factory=list)
    tasks: list[str] = field(default_factory=list)
    device: str = "cpu"
    n_parameters: int = 0
    seconds: float = 0.0
    processes: int = 1  # DDP world size: processes that trained together
    warnings: tuple[dict[str, str], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"run_dir": str(self.run_dir), "device": self.device, "n_parameters": self.n_parameters,
                "seconds": round(self.seconds, 3), "processes": self.processes, "classes": self.classes,
                "tasks": self.tasks, "metrics": self.metrics, "history": self.history,
                "warnings": list(self.warnings)}


def resolve_device(name: str) -> torch.device:
    """``auto`` -> CUDA when available, else CPU; ``cuda`` without a GPU is a config error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("[optim] device = 'cuda' but no CUDA GPU is available; use 'auto' or 'cpu'")
    return torch.device(name)


def auto_threads(config: TrainConfig, n_inputs: int) -> int:
    """CPU threads before the measurement: the config's ``threads``, else torch's default (the
    in-memory path then measures, :func:`mlstrat.nn._threads.measure_threads`); the streaming
    path keeps 1 thread for small mini-batches.

    A (64 x 256) matmul takes ~20 us on one core; spreading it over OpenMP threads costs more in
    synchronization than it saves, and on a shared machine a busy second core makes it up to
    15x slower (measured in docs/benchmarks/train.md). Large batches keep torch's default.
    """
    if config.optim.threads:
        return config.optim.threads
    width = max((n_inputs, *config.model.hidden))
    work = (config.optim.batch_size or 10**6) * width
    return 1 if work <= 64 * 1024 else torch.get_num_threads()


def _measured_threads(config: TrainConfig, model: nn.Module, X: torch.Tensor, y: torch.Tensor, multitask: bool) -> int:
    """Set torch's threads to the fastest count for one real mini-batch (unless the config pins
    them); returns the count used."""
    from mlstrat.nn._threads import measure_threads

    if config.optim.threads:
        return config.optim.threads
    b = min(config.optim.batch_size or X.shape[0], X.shape[0])
    steps = math.ceil(X.shape[0] / max(b, 1)) * config.optim.epochs
    loss = masked_bce_cost if multitask else cross_entropy_cost
    n = measure_threads(model, X[:b], y[:b], loss, steps=steps)
    torch.set_num_threads(n)
    return n


@contextlib.contextmanager
def _threads(n: int) -> Iterator[None]:
    before = torch.get_num_threads()
    if n and n != before:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _architecture(config: TrainConfig, n_inputs: int, n_outputs: int) -> Architecture:
    shape = config.data.image_shape
    if shape is not None and math.prod(shape) != n_inputs:
        raise InputError(f"[data] image_shape = {list(shape)} holds {math.prod(shape)} values but "
                         f"{n_inputs} feature columns are selected; make them agree")
    cnn = config.model.kind == "cnn"
    return Architecture(kind=config.model.kind, n_inputs=n_inputs, hidden=config.model.hidden,
                        n_outputs=n_outputs, activation=config.model.activation,
                        image_shape=shape, channels=config.model.channels if cnn else (),
                        batch_norm=config.model.batch_norm)


def build_network(config: TrainConfig, n_inputs: int, n_outputs: int, X_train: np.ndarray,
                  generator: torch.Generator) -> tuple[Network, Normalizer]:
    """A freshly initialized network, or one transferred from ``[transfer] init_from``
    (body weights and normalization from the source, a new head, the first layers frozen)."""
    return _build_network(config, n_inputs, n_outputs, generator, lambda: Normalizer.fit(X_train))


def _build_network(config: TrainConfig, n_inputs: int, n_outputs: int, generator: torch.Generator,
                   fit: Callable[[], Normalizer]) -> tuple[Network, Normalizer]:
    arch = _architecture(config, n_inputs, n_outputs)
    model = Network(arch, config.regularization.keep_probs(len(arch.hidden)))
    initialize([*model.body_layers(), model.head], config.model.init, generator, scale=config.model.init_scale)
    source = config.transfer.init_from
    if not source:
        return model, fit()
    payload = load_checkpoint(source)
    src_model, normalizer = network_from_checkpoint(payload)
    src = src_model.arch
    if src.n_inputs != n_inputs:
        raise InputError(f"[transfer] init_from {payload['path']}: the source model takes {src.n_inputs} "
                         f"input features but this config selects {n_inputs}; transfer needs the same "
                         "input type and size")
    if src.body_signature() != arch.body_signature():
        diffs = [f"{k}: source {a!r}, config {b!r}" for k, a, b in zip(
            ("kind", "n_inputs", "hidden", "activation", "image_shape", "channels"),
            src.body_signature(), arch.body_signature()) if a != b]
        raise ConfigError(f"[transfer] init_from {payload['path']}: the [model] section must describe the "
                          f"source's layers (only the head is replaced); differs in {'; '.join(diffs)}")
    body = {k: v for k, v in src_model.state_dict().items() if not k.startswith("head.")}
    model.load_state_dict(body, strict=False)
    layers = model.body_layers()
    freeze = config.transfer.freeze
    k = len(layers) if freeze == "all_but_head" else int(freeze)
    if k > len(layers):
        raise ConfigError(f"[transfer] freeze = {freeze} but the model has only {len(layers)} layer(s) "
                          "before the head; use at most that, or 'all_but_head'")
    for i, layer in enumerate(layers[:k]):
        layer.requires_grad_(False)
        norms = [*model.conv_norms, *model.norms]
        if norms:
            norms[i].requires_grad_(False)  # the layer's gamma and beta go with it
    return model, normalizer


def make_optimizer(model: nn.Module, config: TrainConfig, m: int) -> torch.optim.Optimizer:
    """torch.optim for the config. L2 enters as weight_decay = lambda/m on the weights only: torch's
    (coupled) weight decay adds (lambda/m) W to the gradient, exactly the gradient of
    (lambda/2m) ||W||^2, inside the optimizer's fused update.

    Every parameter is handed over, frozen ones included: torch's optimizers skip a parameter
    whose gradient is None, so unfreezing (two-stage fine-tuning) needs no new optimizer.
    """
    o = config.optim
    weights = {id(p) for p in weight_parameters(model)}
    decay = config.regularization.l2 / m
    params = list(model.parameters())
    if decay:
        groups: list[dict[str, Any]] = [
            {"params": [p for p in params if id(p) in weights], "weight_decay": decay},
            {"params": [p for p in params if id(p) not in weights], "weight_decay": 0.0},
        ]
    else:  # one group: the multi-tensor kernels run once per step instead of once per group
        groups = [{"params": params, "weight_decay": 0.0}]
    kernel = _kernel_options(o.optimizer, params)
    if o.optimizer == "gd":
        return torch.optim.SGD(groups, lr=o.lr, **kernel)
    if o.optimizer == "momentum":
        return torch.optim.SGD(groups, lr=o.lr, momentum=o.beta1, **kernel)
    if o.optimizer == "rmsprop":
        return torch.optim.RMSprop(groups, lr=o.lr, alpha=o.beta2, eps=o.epsilon, **kernel)
    return torch.optim.Adam(groups, lr=o.lr, betas=(o.beta1, o.beta2), eps=o.epsilon, **kernel)


def _kernel_options(optimizer: str, params: list[torch.Tensor]) -> dict[str, bool]:
    """fused (one kernel for the whole update) where torch has it for this optimizer and device
    (Adam and SGD on CPU and CUDA: +7-20% end to end, docs/benchmarks/train.md), else foreach (one
    multi-tensor kernel per step instead of a Python loop over tensors)."""
    device = params[0].device.type if params else "cpu"
    if optimizer != "rmsprop" and device in ("cpu", "cuda") and params and params[0].dtype != torch.float64:
        return {"fused": True}
    return {"foreach": True}


@dataclass(frozen=True)
class EpochStats:
    epoch: int
    train_cost: float
    dev_cost: float | None
    train_error: float
    dev_error: float | None
    lr: float | None = None  # the learning rate this epoch ran at
    layers: dict[str, dict[str, float]] | None = None  # gradient health per layer (nn/_health.py)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _error_count(logits: torch.Tensor, y: torch.Tensor, multitask: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """(wrong, counted): class index mismatches, or wrong labeled (example, task) entries."""
    if multitask:
        labeled = ~torch.isnan(y)
        wrong = ((logits > 0) != (y > 0.5)) & labeled
        return wrong.sum(), labeled.sum()
    return (logits.argmax(dim=1) != y).sum(), y.new_tensor(y.shape[0])


class Fitter:
    """Mini-batch optimization with per-epoch dev evaluation and early stopping.

    Parameters
    ----------
    model : Network
    config : TrainConfig
    X_train, y_train : torch.Tensor
        Normalized features (N, F) and targets on ``device``.
    X_dev, y_dev : torch.Tensor or None
    w_train : torch.Tensor of shape (N,), default=None
        Importance weights of the train rows (``[data] weight_col``): each step minimizes
        sum(w l) / sum(w) over the global batch. Dev evaluation is never weighted.
    augment : callable, default=None
        Maps row indices of the train split to a normalized, augmented batch (train only).
    dist : Dist, default=None
        This process's place in a DDP group (see ``_distributed``); ``None``: one process.
    """

    def __init__(self, model: Network, config: TrainConfig, X_train: torch.Tensor, y_train: torch.Tensor,
                 X_dev: torch.Tensor | None = None, y_dev: torch.Tensor | None = None, *,
                 generator: torch.Generator, augment: Callable[[torch.Tensor], torch.Tensor] | None = None,
                 loader: str = "memory", dist: Dist | None = None, w_train: torch.Tensor | None = None) -> None:
        self.model, self.config = model, config
        self.X_train, self.y_train, self.X_dev, self.y_dev = X_train, y_train, X_dev, y_dev
        self.w_train = w_train
        self.weighted = w_train is not None
        self.m = int(X_train.shape[0])
        self.multitask = bool(config.multitask.tasks)
        self.loss_fn = masked_bce_cost if self.multitask else cross_entropy_cost
        self.generator, self.augment, self.loader = generator, augment, loader
        self.batch_size = config.optim.batch_size or self.m
        self.l1 = config.regularization.l1
        self.device = X_train.device
        self._distribute(dist)
        self._setup_optimization()

    def _setup_optimization(self) -> None:
        """Optimizer, learning-rate schedule, gradient clipping and the gradient-health monitor."""
        from mlstrat.nn._health import HealthMonitor
        from mlstrat.nn._schedules import make_scheduler

        self.optimizer = make_optimizer(self.model, self.config, self.m)
        self.scheduler = make_scheduler(self.optimizer, self.config.optim)
        self.clip = self.config.optim.clip_grad_norm
        self.health = HealthMonitor(self.model, steps_per_epoch=math.ceil(self.m / self.batch_size))

    def _distribute(self, dist: Dist | None) -> None:
        """DDP: the forward of training steps goes through the wrapper that all-reduces gradients;
        evaluation uses the bare model."""
        self.dist = dist
        self.forward_module: nn.Module = self.model if dist is None else dist.wrap(self.model)
        self.step_rows = 0  # DDP: rows of the current global batch, set by the batch iterator
        # DDP with weights: the global batch's weight sum, set by the batch iterator when every rank
        # holds the whole batch (in memory); None: summed across the ranks at each step (streaming)
        self.step_weight: torch.Tensor | None = None

    def _has_dev(self) -> bool:
        return self.X_dev is not None and self.X_dev.shape[0] > 0

    def _dev_cost(self) -> tuple[float, float]:
        if self.dist is not None:  # DDP: each rank evaluates its share of dev; the sums are totalled
            rows = self.dist.share(int(self.X_dev.shape[0]))
            total, wrong, counted = self.dist.total(self._cost_sums(self.X_dev[rows], self.y_dev[rows]))
            return total / max(counted, 1), wrong / max(counted, 1)
        return self.cost(self.X_dev, self.y_dev, regularized=False)

    def cost(self, X: torch.Tensor, y: torch.Tensor, *, regularized: bool) -> tuple[float, float]:
        """(cost, error) in eval mode; the train cost J includes the penalty, the dev cost does not."""
        total, wrong, counted = self._cost_sums(X, y)
        J = total / max(counted, 1)
        if regularized:
            with torch.no_grad():
                J += float(self._penalty())
        return J, wrong / max(counted, 1)

    def _cost_sums(self, X: torch.Tensor, y: torch.Tensor) -> tuple[float, int, int]:
        """(summed loss, wrong, counted) over ``X`` in eval mode."""
        self.model.eval()
        total, wrong, counted = 0.0, 0, 0
        with torch.no_grad():
            for i in range(0, X.shape[0], _EVAL_CHUNK):
                xb, yb = X[i:i + _EVAL_CHUNK], y[i:i + _EVAL_CHUNK]
                logits = self.model(xb)
                w, c = _error_count(logits, yb, self.multitask)
                weight = float(c) if self.multitask else xb.shape[0]
                total += float(self.loss_fn(logits, yb)) * weight
                wrong, counted = wrong + int(w), counted + int(c)
        return total, wrong, counted

    def _penalty(self) -> torch.Tensor:
        r = self.config.regularization
        return penalty(self.model, l2=r.l2, l1=r.l1, m=self.m)

    def _batches(self) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]]:
        """(features, targets, weights or None) of each mini-batch (this rank's share under DDP)."""
        n, b = self.m, self.batch_size
        if self.loader == "dataloader":
            yield from self._dataloader_batches()
            return
        perm = torch.randperm(n, generator=self.generator).to(self.X_train.device)
        for i in range(0, n, b):
            idx = perm[i:i + b]
            if self.dist is not None:
                if self.w_train is not None:
                    self._global_weight(self.w_train[idx], self.y_train[idx])
                idx = idx[self._take(len(idx))]
            xb = self.augment(idx) if self.augment is not None else self.X_train[idx]
            yield xb, self.y_train[idx], None if self.w_train is None else self.w_train[idx]

    def _dataloader_batches(self) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]]:
        from torch.utils.data import DataLoader, TensorDataset

        device = self.X_train.device
        tensors = [self.X_train.cpu(), self.y_train.cpu()]
        if self.w_train is not None:
            tensors.append(self.w_train.cpu())
        loader = DataLoader(TensorDataset(*tensors), batch_size=self.batch_size, shuffle=True,
                            generator=self.generator)
        for xb, yb, *wb in loader:
            w = wb[0] if wb else None
            if self.dist is not None:
                if w is not None:
                    self._global_weight(w, yb)
                part = self._take(len(yb))
                xb, yb, w = xb[part], yb[part], None if w is None else w[part]
            yield (xb.to(device, non_blocking=True), yb.to(device, non_blocking=True),
                   None if w is None else w.to(device, non_blocking=True))

    def _take(self, n: int) -> slice:
        """DDP: every rank drew the same global batch of ``n`` rows; this rank's share of it."""
        self.step_rows = n
        return self.dist.share(n)

    def _global_weight(self, w: torch.Tensor, y: torch.Tensor) -> None:
        """DDP: the weight of the global batch (``w``, ``y``: all of its rows), computed as one
        process computes it, so every rank and a single process divide by the same bits."""
        self.step_weight = weight_sum(w, y, multitask=self.multitask).to(self.device)

    def _share(self, yb: torch.Tensor) -> float:
        """DDP: the weight of this rank's mean loss, (local rows / global rows) x world, so that the
        gradient DDP averages over the ranks is the gradient of the mean over the global batch
        (a Python float: float64, whatever the default tensor dtype)."""
        if self.multitask:  # the mean runs over labeled (example, task) entries: count them all
            local = (~torch.isnan(yb)).sum()
            return int(local) * self.dist.world / max(int(self.dist.count(local)), 1)
        return yb.shape[0] * self.dist.world / max(self.step_rows, 1)

    def run_epoch(self) -> tuple[float, float]:
        """One pass over train; returns the mean batch data loss and the batch error rate (training
        mode, as the weights moved), without extra passes over the data."""
        self.model.train()
        sums = _EpochSums(self.device, weighted=self.weighted)
        for xb, yb, wb in self._batches():
            logits = self.forward_module(xb)  # (B, n_outputs)
            loss, objective = self._objective(logits, yb, wb)
            if self.l1:
                objective = objective + penalty(self.model, l2=0.0, l1=self.l1, m=self.m)
            self.optimizer.zero_grad(set_to_none=True)
            objective.backward()
            self._step()
            sums.add(logits.detach(), yb, wb, loss.detach(), multitask=self.multitask)
        return sums.result(self.dist, multitask=self.multitask)

    def _objective(self, logits: torch.Tensor, yb: torch.Tensor,
                   wb: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """(the batch's loss for the epoch figures, the objective to differentiate).

        Unweighted: the mean loss. Weighted: the loss is sum(w l) and the objective
        sum(w l) / sum(w) over the global batch (under DDP each rank divides its sum by the global
        weight and multiplies by the world size, which DDP's gradient averaging divides back)."""
        if wb is not None:
            num, den = weighted_cost_sums(logits, yb, wb, multitask=self.multitask)
            if self.dist is None:
                return num, num / den.clamp_min(torch.finfo(den.dtype).tiny)  # all-zero batch: 0, no NaN
            total = self.step_weight if self.step_weight is not None else self.dist.count(den)
            return num, num / total.clamp_min(torch.finfo(total.dtype).tiny) * self.dist.world
        # DDP: a rank with no rows in this step still joins the gradient all-reduce (with zeros)
        loss = self.loss_fn(logits, yb) if yb.shape[0] else logits.sum()
        return loss, loss if self.dist is None else loss * self._share(yb)

    def _step(self) -> None:
        """Measure gradient health (raw gradients), clip, update."""
        self.health.before_step()
        if self.clip:
            nn.utils.clip_grad_norm_(self.model.parameters(), self.clip, foreach=True)
        self.optimizer.step()
        self.health.after_step()

    def _end_epoch(self, epoch: int) -> None:
        """Step the learning-rate schedule; unfreeze every layer after the first fine-tuning stage."""
        if self.scheduler is not None:
            self.scheduler.step()
        if epoch == self.config.transfer.unfreeze_after:
            self.model.requires_grad_(True)
            if self.dist is not None:  # DDP all-reduces only what was trainable when it wrapped the model
                self.forward_module = self.dist.wrap(self.model)

    def fit(self, *, progress: bool | None = None) -> dict[str, Any]:
        """Train for ``epochs`` with early stopping; returns the history.json dict."""
        from mlstrat._progress import Steps

        es = self.config.early_stopping
        epochs = self.config.optim.epochs
        has_dev = self._has_dev()
        history: list[EpochStats] = []
        best_value, best_epoch, best_state, waited, stopped = math.inf, 0, None, 0, False
        with Steps(epochs, "Training", progress=progress) as bar:
            for epoch in range(1, epochs + 1):
                lr = float(self.optimizer.param_groups[0]["lr"])
                data_cost, train_error = self.run_epoch()
                layers = self.health.end_epoch()
                self._end_epoch(epoch)
                with torch.no_grad():
                    train_cost = data_cost + float(self._penalty())
                dev_cost = dev_error = None
                if has_dev:
                    dev_cost, dev_error = self._dev_cost()
                history.append(EpochStats(epoch, train_cost, dev_cost, train_error, dev_error, lr, layers))
                bar.advance(f"epoch {epoch}/{epochs}  train cost {train_cost:.4f}"
                            + (f"  dev error {100 * dev_error:.2f}%" if dev_error is not None else ""))
                if not has_dev:
                    best_epoch = epoch
                    continue
                value = dev_cost if es.monitor == "dev_cost" else dev_error
                if value < best_value - es.min_delta:
                    best_value, best_epoch, waited = value, epoch, 0
                    if es.restore_best:
                        best_state = copy.deepcopy(self.model.state_dict())
                else:
                    waited += 1
                    if es.patience and waited >= es.patience:
                        stopped = epoch < epochs
                        break
        restored = False
        if best_state is not None and best_epoch != history[-1].epoch:
            # whether or not early stopping fired: the best dev epoch's weights are the result
            self.model.load_state_dict(best_state)
            restored = True
        return _history_dict(history, best_epoch=best_epoch, stopped=stopped, restored=restored)


class _EpochSums:
    """One epoch's running loss, errors and count. They stay on the device (no host sync inside
    the loop), in float64 so that the epoch cost does not depend on how the rows were grouped (in
    batches, or across DDP ranks). Weighted training sums w l, w [wrong] and w: the epoch figures
    are then the weighted means the optimizer minimizes."""

    def __init__(self, device: torch.device, *, weighted: bool) -> None:
        count_type = torch.float64 if weighted else torch.long
        self.loss = torch.zeros((), dtype=torch.float64, device=device)
        self.wrong = torch.zeros((), dtype=count_type, device=device)
        self.counted = torch.zeros((), dtype=count_type, device=device)
        self.weighted = weighted
        self.rows = 0  # unweighted single-task: rows counted on the host

    def add(self, logits: torch.Tensor, yb: torch.Tensor, wb: torch.Tensor | None, loss: torch.Tensor, *,
            multitask: bool) -> None:
        if wb is not None:  # loss is sum(w l) already
            if multitask:
                labeled = ~torch.isnan(yb)
                wrong = ((logits > 0) != (yb > 0.5)) & labeled
                self.wrong.add_((wrong * wb[:, None]).sum())
            else:
                self.wrong.add_(((logits.argmax(dim=1) != yb) * wb).sum())
            self.loss.add_(loss)
            self.counted.add_(weight_sum(wb, yb, multitask=multitask))
        elif multitask:
            w, c = _error_count(logits, yb, True)
            self.loss.add_(loss * c)
            self.counted.add_(c)
            self.wrong.add_(w)
        else:  # the mean loss weighted by the batch size
            self.loss.add_(loss, alpha=yb.shape[0])
            self.wrong.add_((logits.argmax(dim=1) != yb).sum())
            self.rows += yb.shape[0]

    def result(self, dist: Dist | None, *, multitask: bool) -> tuple[float, float]:
        """(mean loss, error rate) over the epoch (every rank's rows under DDP)."""
        if self.weighted:
            wrong, n = float(self.wrong), float(self.counted)
        else:
            wrong, n = int(self.wrong), int(self.counted) if multitask else self.rows
        loss = float(self.loss)
        if dist is not None:
            loss, wrong, n = dist.total([loss, wrong, n])
        return (loss / n, wrong / n) if n > 0 else (0.0, 0.0)


def _history_dict(history: list[EpochStats], *, best_epoch: int, stopped: bool, restored: bool) -> dict[str, Any]:
    """history.json, with the gradient-health warnings (also raised as MlstratWarning)."""
    import warnings

    from mlstrat._exceptions import MlstratWarning
    from mlstrat.nn._health import gradient_warnings

    epochs = [h.to_dict() for h in history]
    found = gradient_warnings(epochs)
    for w in found:
        # stack: _history_dict < fit < _fit_in_memory or _train_stream < _train < train < the caller
        warnings.warn(w["message"], MlstratWarning, stacklevel=6)
    return {"epochs": epochs, "best_epoch": best_epoch, "stopped_early": stopped, "restored_best": restored,
            "warnings": found}


def _augmenter(config: TrainConfig, X_raw: np.ndarray, normalizer: Normalizer, device: torch.device,
               seed: int) -> Callable[[torch.Tensor], torch.Tensor]:
    """Batches of train rows through mismatch.transforms (in pixel space), then normalized."""
    from mlstrat.mismatch.transforms import apply_transforms

    shape = config.data.image_shape
    value_range = config.data.value_range or (float(X_raw.min()), float(X_raw.max()))
    rng = np.random.default_rng(seed)
    names, params = config.regularization.augment_plan()

    def augment(idx: torch.Tensor) -> torch.Tensor:
        raw = X_raw[idx.cpu().numpy()].reshape(-1, *shape)  # (B, C, H, W)
        out = apply_transforms(raw, names, rng=rng, params=params, value_range=value_range).reshape(raw.shape[0], -1)
        return torch.from_numpy(normalizer(out.astype(np.float32))).to(device)

    return augment


def _target_tensor(ds: Dataset, rows: np.ndarray, device: torch.device) -> torch.Tensor:
    y = ds.y[rows]
    return torch.from_numpy(np.ascontiguousarray(y)).to(device)


def predict_outputs(model: Network, X: np.ndarray, normalizer: Normalizer, *, multitask: bool,
                    device: torch.device | str = "cpu") -> np.ndarray:
    """Probabilities (N, n_outputs): softmax over classes or one sigmoid per task."""
    model.eval()
    Xn = torch.from_numpy(normalizer(X))
    out = []
    with torch.no_grad():
        for i in range(0, Xn.shape[0], _EVAL_CHUNK):
            logits = model(Xn[i:i + _EVAL_CHUNK].to(device))
            out.append((torch.sigmoid(logits) if multitask else torch.softmax(logits, dim=1)).cpu())
    if not out:
        return np.zeros((0, model.arch.n_outputs))
    return torch.cat(out).double().numpy()


def outputs_to_predictions(proba: np.ndarray, *, ids: np.ndarray, split: np.ndarray | None,
                           labels: np.ndarray | None, classes: list[Any], tasks: list[str],
                           task_targets: np.ndarray | None = None,
                           passthrough: dict[str, np.ndarray] | None = None) -> Any:
    """The predictions table (pyarrow): id, split, y_true, y_pred, proba_<class>, domain, group.

    Multi-task runs give one row per labeled (example, task) entry with a ``task`` column and
    ``proba_0``/``proba_1``, so that the error over the table is the multi-task error.
    """
    import pyarrow as pa

    passthrough = passthrough or {}
    cols: dict[str, Any] = {}
    if tasks:
        n, t = proba.shape
        rows, task_idx = np.nonzero(~np.isnan(task_targets)) if task_targets is not None else (
            np.repeat(np.arange(n), t), np.tile(np.arange(t), n))
        p1 = proba[rows, task_idx]
        cols["id"] = ids[rows]
        if split is not None:
            cols["split"] = split[rows]
        cols["task"] = np.asarray(tasks, dtype=object)[task_idx]
        if task_targets is not None:
            cols["y_true"] = task_targets[rows, task_idx].astype(np.int64)
        cols["y_pred"] = (p1 >= 0.5).astype(np.int64)
        cols["proba_0"], cols["proba_1"] = 1.0 - p1, p1
        for name, values in passthrough.items():
            cols[name] = values[rows]
    else:
        cols["id"] = ids
        if split is not None:
            cols["split"] = split
        pred = np.asarray(classes, dtype=object)[proba.argmax(axis=1)] if len(proba) else np.array([], object)
        if labels is not None:
            cols["y_true"] = labels
        cols["y_pred"] = pa.array(pred.tolist(), type=pa.array(list(classes)).type)
        for j, c in enumerate(classes):
            cols[f"proba_{c}"] = proba[:, j]
        cols.update(passthrough)
    return pa.table({k: v if isinstance(v, pa.Array) else pa.array(_plain(v)) for k, v in cols.items()})


def _plain(values: np.ndarray) -> Any:
    return values.tolist() if values.dtype == object else values


def _metrics(proba: np.ndarray, ds: Dataset) -> dict[str, Any]:
    """metrics.json: per split n, error, accuracy and the (unregularized) cost."""
    from mlstrat._constants import SPLITS

    eps = 1e-12
    out: dict[str, Any] = {}
    tasks: dict[str, Any] = {t: {} for t in ds.tasks}
    for split in SPLITS:
        rows = ds.mask(split)
        if not rows.any():
            continue
        if ds.tasks:
            y, p = ds.y[rows], proba[rows]
            labeled = ~np.isnan(y)
            yl = np.where(labeled, y, 0)
            wrong = ((p >= 0.5) != (yl > 0.5)) & labeled
            bce = -(yl * np.log(p + eps) + (1 - yl) * np.log(1 - p + eps))
            n = int(labeled.sum())
            error = float(wrong.sum() / n) if n else None
            out[split] = {"n": n, "error": error, "accuracy": None if error is None else 1 - error,
                          "cost": float(bce[labeled].mean()) if n else None}
            for j, task in enumerate(ds.tasks):
                nt = int(labeled[:, j].sum())
                et = float(wrong[:, j].sum() / nt) if nt else None
                tasks[task][split] = {"n": nt, "error": et, "accuracy": None if et is None else 1 - et}
        else:
            y, p = ds.y[rows], proba[rows]
            error = float((p.argmax(axis=1) != y).mean())
            cost = float(-np.log(p[np.arange(len(y)), y] + eps).mean())
            out[split] = {"n": int(rows.sum()), "error": error, "accuracy": 1 - error, "cost": cost}
    if ds.tasks:
        out["tasks"] = tasks
    return out


def _prepare_run_dir(run_dir: str | os.PathLike | None, force: bool) -> Path:
    if run_dir is None:
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
        path = Path("runs") / f"run-{stamp}"
        i = 1
        while path.exists():
            i += 1
            path = Path("runs") / f"run-{stamp}-{i}"
    else:
        path = Path(run_dir)
    if (path / "model.pt").exists() and not force:
        raise InputError(f"{path}: already holds a trained run; choose another run directory (-o) "
                         "or pass --force (force=True) to overwrite it")
    if path.exists() and not path.is_dir():
        raise InputError(f"{path}: exists and is not a directory; choose another run directory")
    return path


def _fit_in_memory(config: TrainConfig, ds: Dataset, device: torch.device, progress: bool | None,
                   dist: Dist | None) -> tuple[Network, Normalizer, dict[str, Any], np.ndarray | None]:
    """Build, fit and predict every row, with the data in memory: (model on CPU, normalizer,
    history, probabilities; None on a DDP rank other than 0, which neither predicts nor writes)."""
    seed = config.optim.seed
    train_rows, dev_rows = ds.mask("train"), ds.mask("dev")
    n_outputs = len(ds.tasks) if ds.tasks else len(ds.classes)
    if not ds.tasks and n_outputs < 2:
        raise InputError(f"{ds.source}: train has a single class ({ds.classes[0]!r}); "
                         "classification needs at least two")
    # DDP ranks keep the fixed rule: timing each rank separately could give them different counts
    pinned = config.optim.threads or (auto_threads(config, ds.X.shape[1]) if dist is not None else 0)
    with _threads(pinned), torch.random.fork_rng(devices=[]):
        # dropout masks draw from the global generator (seed + rank under DDP); init and shuffling
        # from `generator`, the same on every rank
        torch.manual_seed(seed if dist is None else dist.seed(seed))
        generator = torch.Generator().manual_seed(seed)
        X_train_raw = ds.X[train_rows]  # (m, F)
        model, normalizer = build_network(config, ds.X.shape[1], n_outputs, X_train_raw, generator)
        model.to(device)
        X_train = torch.from_numpy(normalizer(X_train_raw)).to(device)
        y_train = _target_tensor(ds, train_rows, device)
        w_train = None
        if ds.weights is not None:  # importance weights of the train rows, in the features' dtype
            w_train = torch.from_numpy(ds.weights[train_rows]).to(device=device, dtype=X_train.dtype)
        X_dev = torch.from_numpy(normalizer(ds.X[dev_rows])).to(device) if dev_rows.any() else None
        y_dev = _target_tensor(ds, dev_rows, device) if dev_rows.any() else None
        augment = None
        if config.regularization.augment:
            augment = _augmenter(config, X_train_raw, normalizer, device,
                                 seed if dist is None else dist.seed(seed))
        threads = pinned or _measured_threads(config, model, X_train, y_train, bool(ds.tasks))
        loader = "dataloader" if config.data.loader == "dataloader" else "memory"
        fitter = Fitter(model, config, X_train, y_train, X_dev, y_dev, generator=generator,
                        augment=augment, loader=loader, dist=dist, w_train=w_train)
        if not dev_rows.any():
            import warnings

            from mlstrat._exceptions import MlstratWarning

            warnings.warn(f"{ds.source}: no dev rows; early stopping and restore_best are off",
                          MlstratWarning, stacklevel=4)
        history = fitter.fit(progress=progress)
        history["threads"] = threads
        if dist is not None and not dist.is_main:  # rank 0 alone predicts and writes the run
            return model, normalizer, history, None
        model.cpu()
        proba = predict_outputs(model, ds.X, normalizer, multitask=bool(ds.tasks))
    return model, normalizer, history, proba


def write_run_files(folder: Path, config: TrainConfig, history: dict[str, Any], metrics: dict[str, Any],
                    *, test: bool = False) -> None:
    """The run's text files. The resolved config is ``config.resolved.toml``: a ``config.toml``
    in the run directory is the user's own file (``train exp1/config.toml -o exp1``) and is kept.
    ``metrics.json`` holds the test split's figures only with ``test`` (sealed before it is
    written, so no file ever shows them unasked)."""
    from mlstrat._json import dumps
    from mlstrat.tables import atomic_write_text

    atomic_write_text(folder / "config.resolved.toml", config.to_toml())
    atomic_write_text(folder / "history.json", dumps(history) + "\n")
    atomic_write_text(folder / "metrics.json", dumps(metrics if test else sealed_metrics(metrics)) + "\n")


def sealed_metrics(metrics: dict[str, Any]) -> dict[str, Any]:
    """``metrics`` without the test split's figures (also per task)."""
    sealed = {k: v for k, v in metrics.items() if k != "test"}
    if "tasks" in metrics:
        sealed["tasks"] = {t: {s: m for s, m in v.items() if s != "test"}
                           for t, v in metrics["tasks"].items()}
    return sealed


def train(config: TrainConfig, *, run_dir: str | os.PathLike | None = None, progress: bool | None = None,
          con: Any = None, force: bool = False, test: bool = False, store: Any = None) -> TrainResult:
    """Train a network as configured and write its run directory.

    The test split is sealed: predictions.parquet holds its rows, but metrics.json and the
    result hold its figures only with ``test=True``, which counts one look at the test set in
    the run store (``store``: a RunStore or path, ``None`` for the default, ``False`` not to
    count).

    Parameters
    ----------
    config : TrainConfig
        The configuration (``TrainConfig.from_toml(path)``).
    run_dir : path-like, default=None
        Where to write; ``runs/run-<UTC time>`` under the working directory by default.
    progress : bool, default=None
        A Rich bar per epoch (train cost, dev error); ``None``: only on a terminal.
    con : ibis DuckDB backend, default=None
        Engine connection used to read the manifest.
    force : bool, default=False
        Overwrite a run directory that already holds a model.
    test : bool, default=False
        Report the test split's figures (one counted look).
    store : RunStore, path-like, None or False, default=None
        Where the look is counted.

    Returns
    -------
    TrainResult

    Raises
    ------
    ConfigError, InputError
        Bad configuration or data (missing columns, NaN features, labels unseen in train,
        no ``split`` column, transfer source of another input size).

    Notes
    -----
    In a process started by torchrun (``RANK``/``WORLD_SIZE`` set) or inside an initialized
    process group, every rank calls ``train`` and trains with DistributedDataParallel; rank 0
    alone writes ``run_dir`` (see docs/guide/scale.md).
    """
    from mlstrat.nn._distributed import distributed

    if not isinstance(config, TrainConfig):
        raise ConfigError(f"train() takes a TrainConfig, got {type(config).__name__}; "
                          "use TrainConfig.from_toml(path)")
    with distributed(resolve_device(config.optim.device)) as dist:
        result = _train(config, run_dir=run_dir, progress=progress, con=con, force=force, dist=dist,
                        test=test)
    return _seal_test(result, test=test, store=store, con=con)


def _seal_test(result: TrainResult, *, test: bool, store: Any, con: Any) -> TrainResult:
    """Keep the test split's figures out of the result unless asked (metrics.json was written
    sealed already); count a look."""
    from dataclasses import replace

    from mlstrat.sealing._looks import count_test_look, sealed_warning

    metrics = result.metrics
    has_test = "test" in metrics or any("test" in v for v in (metrics.get("tasks") or {}).values())
    if not has_test:
        return result
    if test:
        look = count_test_look(result.run_dir / "predictions.parquet", store=store, con=con)
        return replace(result, warnings=tuple(look.warnings()) if look else ())
    rows = int((metrics.get("test") or {}).get("n") or 0)
    return replace(result, metrics=sealed_metrics(metrics), warnings=(sealed_warning(rows),) if rows else ())


def _train(config: TrainConfig, *, run_dir: str | os.PathLike | None, progress: bool | None, con: Any,
           force: bool, dist: Dist | None, test: bool) -> TrainResult:
    from mlstrat.nn._rundir import staged_run_dir
    from mlstrat.tables import write_table

    if dist is not None:  # DDP: one bar (rank 0's); a global batch each rank can take a share of
        from mlstrat.nn._distributed import check_batch

        progress = progress if dist.is_main else False
        check_batch(config.optim.batch_size, dist.world)
    if not config.data.manifest:
        raise ConfigError("[data] manifest is not set; give the table written by `mlstrat split`")
    started = time.perf_counter()
    config = config.resolve_paths(Path.cwd())
    path = _prepare_run_dir(run_dir, force)
    from mlstrat.nn._eager import preload_dynamo

    preload_dynamo()  # overlaps the optimizer's torch._dynamo import with reading the manifest
    if _resolve_loader(config, con) == "stream":
        return _train_stream(config, path, con=con, progress=progress, started=started, dist=dist,
                             test=test)
    ds = load_dataset(config.data.manifest, config.data, tasks=config.multitask.tasks, con=con)
    device = resolve_device(config.optim.device) if dist is None else dist.device
    model, normalizer, history, proba = _fit_in_memory(config, ds, device, progress, dist)
    if proba is None:  # a DDP rank other than 0
        return _worker_result(path, history, ds.classes, ds.tasks, device, model, started, dist.world)

    metrics = _metrics(proba, ds)
    table = outputs_to_predictions(proba, ids=ds.ids, split=ds.split, labels=ds.labels, classes=ds.classes,
                                   tasks=ds.tasks, task_targets=ds.y if ds.tasks else None,
                                   passthrough=ds.passthrough)
    with staged_run_dir(path) as stage:
        save_checkpoint(stage / "model.pt", model=model, normalizer=normalizer, feature_names=ds.feature_names,
                        classes=ds.classes, tasks=ds.tasks, config=config.to_dict(), label=config.data.label,
                        id_column=config.data.id)
        write_run_files(stage, config, history, metrics, test=test)
        write_table(table, stage / "predictions.parquet", con=con, force=True)
    n_params = sum(p.numel() for p in model.parameters())
    return TrainResult(run_dir=path, metrics=metrics, history=history, classes=list(ds.classes),
                       tasks=list(ds.tasks), device=str(device), n_parameters=n_params,
                       seconds=time.perf_counter() - started, processes=1 if dist is None else dist.world)


def _worker_result(path: Path, history: dict[str, Any], classes: list[Any], tasks: list[str],
                   device: torch.device, model: Network, started: float, world: int) -> TrainResult:
    """What a DDP rank other than 0 returns: the history (the same on every rank), no metrics."""
    return TrainResult(run_dir=path, metrics={}, history=history, classes=list(classes), tasks=list(tasks),
                       device=str(device), n_parameters=sum(p.numel() for p in model.parameters()),
                       seconds=time.perf_counter() - started, processes=world)


# -- the streaming path ([data] loader = "stream") ------------------------------------------------


def _resolve_loader(config: TrainConfig, con: Any) -> str:
    """``auto`` -> stream for image files or more rows than MLSTRAT_STREAM_ROWS, memory otherwise."""
    from mlstrat.nn._stream import choose_loader

    data = config.data
    if data.loader != "auto" or data.image_col is not None:
        return choose_loader(data, None)
    if config.multitask.tasks:
        return "memory"
    from mlstrat.tables import read_table

    return choose_loader(data, int(read_table(data.manifest, con=con).count().execute()))


class StreamFitter(Fitter):
    """:class:`Fitter` over a :class:`~mlstrat.nn._stream.TrainStream`: the train rows come from the
    engine in record batches through a shuffle buffer, dev is evaluated by streaming its rows."""

    def __init__(self, model: Network, config: TrainConfig, stream: Any, *, m: int, n_dev: int,
                 generator: torch.Generator, device: torch.device, dist: Dist | None = None) -> None:
        self.model, self.config = model, config
        self.X_train = self.y_train = self.X_dev = self.y_dev = None
        self.m, self.n_dev = m, n_dev
        self.multitask = False
        self.loss_fn = cross_entropy_cost
        self.generator, self.augment, self.loader = generator, None, "stream"
        self.batch_size = config.optim.batch_size or m
        self.l1 = config.regularization.l1
        self.device = device
        self.stream = stream
        self.w_train = None
        self.weighted = stream.weighted
        self._distribute(dist)
        self._setup_optimization()

    def _batches(self) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]]:
        seed = int(torch.randint(2**62, (1,), generator=self.generator))
        shards = self.stream.shards
        for step, batch in enumerate(self.stream.epoch(seed)):
            if shards is not None:  # DDP: the global batch of this step, from the shared schedule
                self.step_rows = shards.global_rows(step)
            yield batch

    def _has_dev(self) -> bool:
        return self.n_dev > 0

    def _dev_cost(self) -> tuple[float, float]:
        from mlstrat.nn._stream import eval_chunks

        s = self.stream
        self.model.eval()
        total, wrong, counted = 0.0, 0, 0
        with torch.no_grad():
            for _, X, y in eval_chunks(s.src, s.stats, s.normalizer, split="dev", shards=s.shards):
                xb, yb = torch.from_numpy(X).to(self.device), torch.from_numpy(y).to(self.device)
                logits = self.model(xb)
                total += float(self.loss_fn(logits, yb)) * xb.shape[0]
                wrong += int((logits.argmax(dim=1) != yb).sum())
                counted += xb.shape[0]
        if self.dist is not None:  # each rank evaluated its blocks of dev
            total, wrong, counted = self.dist.total([total, wrong, counted])
        return total / max(counted, 1), wrong / max(counted, 1)


def _stream_augmenter(config: TrainConfig, low: float, high: float, seed: int) -> Callable[[np.ndarray], np.ndarray]:
    """Raw (B, F) train batches through mismatch.transforms in pixel space."""
    from mlstrat.mismatch.transforms import apply_transforms

    shape = config.data.image_shape
    value_range = config.data.value_range or (low, high)
    rng = np.random.default_rng(seed)
    names, params = config.regularization.augment_plan()

    def augment(raw: np.ndarray) -> np.ndarray:
        images = raw.reshape(-1, *shape)
        out = apply_transforms(images, names, rng=rng, params=params, value_range=value_range)
        return out.reshape(raw.shape[0], -1).astype(np.float32)

    return augment


def _train_stream(config: TrainConfig, path: Path, *, con: Any, progress: bool | None,
                  started: float, dist: Dist | None = None, test: bool = False) -> TrainResult:
    from mlstrat.nn._rundir import staged_run_dir
    from mlstrat.nn._stream import StreamSource, TrainStream

    if config.multitask.tasks:
        raise ConfigError("[data] loader = 'stream' does not support [multitask] yet; use loader = 'memory'")
    src = StreamSource.open(config.data.manifest, config.data, con=con)
    stats = src.scan()
    n_outputs = len(stats.classes)
    if n_outputs < 2:
        raise InputError(f"{src.source}: train has a single class ({stats.classes[0]!r}); "
                         "classification needs at least two")
    device = resolve_device(config.optim.device) if dist is None else dist.device
    seed = config.optim.seed
    with _threads(auto_threads(config, src.n_inputs)), torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed if dist is None else dist.seed(seed))
        generator = torch.Generator().manual_seed(seed)
        model, normalizer = _build_network(config, src.n_inputs, n_outputs, generator, lambda: stats.normalizer)
        model.to(device)
        augment = None
        if config.regularization.augment:
            augment = _stream_augmenter(config, stats.low, stats.high,
                                        seed if dist is None else dist.seed(seed))
        batch_size = config.optim.batch_size or stats.m
        shards = None
        if dist is not None:  # DDP: each rank streams its blocks of rows, in a shared step schedule
            from mlstrat.nn._distributed import StreamShards

            shards = StreamShards(rank=dist.rank, world=dist.world, block=config.data.chunk_size,
                                  m=stats.m, batch_size=batch_size)
        stream = TrainStream(src, stats, normalizer, batch_size=batch_size, device=device, augment=augment,
                             shards=shards)
        fitter = StreamFitter(model, config, stream, m=stats.m, n_dev=stats.n.get("dev", 0),
                              generator=generator, device=device, dist=dist)
        if not fitter._has_dev():
            import warnings

            from mlstrat._exceptions import MlstratWarning

            warnings.warn(f"{src.source}: no dev rows; early stopping and restore_best are off",
                          MlstratWarning, stacklevel=4)
        history = fitter.fit(progress=progress)
        history["threads"] = torch.get_num_threads()
        if dist is not None and not dist.is_main:  # rank 0 alone predicts and writes the run
            return _worker_result(path, history, stats.classes, [], device, model, started, dist.world)
        with staged_run_dir(path) as stage:
            metrics = _stream_predictions(model, src, stats, normalizer, stage / "predictions.parquet", device)
            model.cpu()
            save_checkpoint(stage / "model.pt", model=model, normalizer=normalizer,
                            feature_names=src.feature_names, classes=stats.classes, tasks=[],
                            config=config.to_dict(), label=config.data.label, id_column=config.data.id)
            write_run_files(stage, config, history, metrics, test=test)
    n_params = sum(p.numel() for p in model.parameters())
    return TrainResult(run_dir=path, metrics=metrics, history=history, classes=list(stats.classes),
                       tasks=[], device=str(device), n_parameters=n_params,
                       seconds=time.perf_counter() - started, processes=1 if dist is None else dist.world)


def _stream_predictions(model: Network, src: Any, stats: Any, normalizer: Normalizer, final: Path,
                        device: torch.device) -> dict[str, Any]:
    """Predict every row in manifest order, writing predictions.parquet batch by batch (temporary
    file + rename); returns metrics.json accumulated on the way."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from mlstrat._constants import SPLITS
    from mlstrat.nn._stream import _decode, eval_chunks
    from mlstrat.tables._io import _replace, _temp_path

    data = src.data
    source_types = {"id": src.schema.get(data.id), "split": pa.string(), "y_true": src.schema.get(data.label),
                    **{c: src.schema.get(c) for c in src.passthrough}}
    sums = {s: [0, 0, 0.0] for s in SPLITS}  # n, wrong, sum of -log p(true class)
    eps = 1e-12
    model.eval()
    tmp = _temp_path(final)
    writer = None
    try:
        extra = [data.id, "split", *src.passthrough]
        with torch.no_grad():
            for batch, X, y in eval_chunks(src, stats, normalizer, split=None, extra=extra):
                logits = model(torch.from_numpy(X).to(device))
                proba = torch.softmax(logits, dim=1).cpu().double().numpy()
                split = np.asarray(_decode(batch.column("split")).to_pylist(), dtype=object)
                cols = {c: _decode(batch.column(c)).to_numpy(zero_copy_only=False) for c in src.passthrough}
                table = outputs_to_predictions(
                    proba, ids=_decode(batch.column(data.id)).to_numpy(zero_copy_only=False), split=split,
                    labels=_decode(batch.column(data.label)).to_numpy(zero_copy_only=False),
                    classes=stats.classes, tasks=[], passthrough=cols)
                if writer is None:
                    schema = pa.schema([pa.field(f.name, source_types.get(f.name) or f.type)
                                        for f in table.schema])
                    writer = pq.ParquetWriter(str(tmp), schema)
                writer.write_table(table.cast(schema))
                wrong = proba.argmax(axis=1) != y
                nll = -np.log(proba[np.arange(len(y)), y] + eps)
                for s in SPLITS:
                    rows = split == s
                    if rows.any():
                        acc = sums[s]
                        acc[0] += int(rows.sum())
                        acc[1] += int(wrong[rows].sum())
                        acc[2] += float(nll[rows].sum())
        if writer is not None:
            writer.close()
            writer = None
            _replace(tmp, final)
    finally:
        if writer is not None:
            writer.close()
        tmp.unlink(missing_ok=True)
    out: dict[str, Any] = {}
    for s in SPLITS:
        n, wrong_n, nll_sum = sums[s]
        if n:
            error = wrong_n / n
            out[s] = {"n": n, "error": error, "accuracy": 1 - error, "cost": nll_sum / n}
    return out

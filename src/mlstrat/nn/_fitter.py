"""The epoch loop: mini-batch optimization with per-epoch dev evaluation, early stopping and
best-weight restore, in memory (:class:`Fitter`); over a stream of record batches, its subclass
in :mod:`mlstrat.nn._stream_fitter`.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from mlstrat.nn._config import TrainConfig
from mlstrat.nn._distributed import Dist
from mlstrat.nn._health import diverged_at
from mlstrat.nn._hooks import notify_epoch
from mlstrat.nn._model import (
    Network,
    cross_entropy_cost,
    masked_bce_cost,
    penalty,
    weight_sum,
    weighted_cost_sums,
)
from mlstrat.nn._setup import make_optimizer

__all__ = ["EpochStats", "Fitter"]


_EVAL_CHUNK = 8192


@dataclass(frozen=True)
class EpochStats:
    epoch: int
    train_cost: float
    dev_cost: float | None
    train_error: float
    dev_error: float | None
    lr: float | None = None  # the learning rate this epoch ran at
    layers: dict[str, dict[str, float]] | None = None  # gradient health per layer (nn/_health.py)
    # train-dev (held-out train distribution), when the manifest has it: the epochs' variance gap
    train_dev_cost: float | None = None
    train_dev_error: float | None = None

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        if self.train_dev_cost is None:  # no train-dev split: history.json keeps its keys
            del out["train_dev_cost"], out["train_dev_error"]
        return out


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
                 loader: str = "memory", dist: Dist | None = None, w_train: torch.Tensor | None = None,
                 train_dev: tuple[torch.Tensor, torch.Tensor] | None = None) -> None:
        self.model, self.config = model, config
        self.X_train, self.y_train, self.X_dev, self.y_dev = X_train, y_train, X_dev, y_dev
        self.train_dev = train_dev  # (X, y) of train-dev, evaluated each epoch like dev
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
        return self._held_out_cost(self.X_dev, self.y_dev)

    def _train_dev_cost(self) -> tuple[float | None, float | None]:
        if self.train_dev is None or self.train_dev[0].shape[0] == 0:
            return None, None
        return self._held_out_cost(*self.train_dev)

    def _held_out_cost(self, X: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
        """(cost, error) of a held-out split, unregularized."""
        if self.dist is not None:  # DDP: each rank evaluates its share; the sums are totalled
            rows = self.dist.share(int(X.shape[0]))
            total, wrong, counted = self.dist.total(self._cost_sums(X[rows], y[rows]))
            return total / max(counted, 1), wrong / max(counted, 1)
        return self.cost(X, y, regularized=False)

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
            with self._autocast():  # a no-op in float32
                logits = self.forward_module(xb)  # (B, n_outputs)
                loss, objective = self._objective(logits, yb, wb)
            if self.l1:
                objective = objective + penalty(self.model, l2=0.0, l1=self.l1, m=self.m)
            self.optimizer.zero_grad(set_to_none=True)
            objective.backward()
            self._step()
            sums.add(logits.detach(), yb, wb, loss.detach(), multitask=self.multitask)
        return sums.result(self.dist, multitask=self.multitask)

    def _autocast(self) -> Any:
        """bfloat16 autocast for the training forward pass with ``[optim] precision = "bf16"``;
        the backward runs in each weight's own dtype (float32), so no loss scaling is needed."""
        if self.config.optim.precision == "bf16":
            return torch.autocast(device_type=self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

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

    def fit(self, *, progress: bool | None = None, checkpoint: Any = None) -> dict[str, Any]:
        """Train for ``epochs`` with early stopping; returns the history.json dict.

        ``checkpoint`` (an :class:`~mlstrat.nn._checkpoint.EpochCheckpoint`): the state is saved
        there at the end of each epoch, and a resumed run continues from the state it holds.
        """
        from mlstrat._progress import Steps

        epochs = self.config.optim.epochs
        has_dev = self._has_dev()
        resumed = None if checkpoint is None else checkpoint.resumed
        run = _Progress() if resumed is None else self._restore(resumed["state"])
        diverged: dict[str, Any] | None = None
        with Steps(epochs, "Training", progress=progress) as bar:
            if run.epoch:
                bar.advance(f"resumed after epoch {run.epoch}/{epochs}", amount=run.epoch)
            for epoch in range(epochs + 1 if run.finished else run.epoch + 1, epochs + 1):
                lr = float(self.optimizer.param_groups[0]["lr"])
                stats = self._train_epoch(epoch, lr)
                run.history.append(stats)
                bar.advance(f"epoch {epoch}/{epochs}  train cost {stats.train_cost:.4f}"
                            + (f"  dev error {100 * stats.dev_error:.2f}%" if stats.dev_error is not None else ""))
                diverged = diverged_at(epoch, lr, stats.train_cost, stats.dev_cost)
                if diverged is not None:  # no later epoch can recover from NaN weights
                    break
                self._track_best(run, stats, has_dev)
                if checkpoint is not None:  # every rank takes part (their random streams are gathered)
                    checkpoint.save(self._state(run))
                notify_epoch(stats)  # an epoch callback may stop training here
                if run.finished:
                    break
        history = run.history
        if diverged is not None:  # the weights are not finite: there is nothing to restore or keep
            return _history_dict(history, best_epoch=run.best_epoch, stopped=False, restored=False,
                                 diverged=diverged)
        restored = False
        if run.best_state is not None and history and run.best_epoch != history[-1].epoch:
            # whether or not early stopping fired: the best dev epoch's weights are the result
            self.model.load_state_dict(run.best_state)
            restored = True
        doc = _history_dict(history, best_epoch=run.best_epoch, stopped=run.stopped, restored=restored)
        if resumed is not None:  # the epoch the run continued after (`train --resume`)
            doc["resumed_after_epoch"] = int(resumed["state"]["epoch"])
        return doc

    def _train_epoch(self, epoch: int, lr: float) -> EpochStats:
        """One epoch: the pass over train, the schedule's step, the dev and train-dev figures."""
        data_cost, train_error = self.run_epoch()
        layers = self.health.end_epoch()
        self._end_epoch(epoch)
        with torch.no_grad():
            train_cost = data_cost + float(self._penalty())
        dev_cost = dev_error = None
        if self._has_dev():
            dev_cost, dev_error = self._dev_cost()
        return EpochStats(epoch, train_cost, dev_cost, train_error, dev_error, lr, layers, *self._train_dev_cost())

    def _track_best(self, run: _Progress, stats: EpochStats, has_dev: bool) -> None:
        """Early stopping's bookkeeping after an epoch: the best dev epoch (and its weights), the
        epochs waited since, whether training stops here."""
        run.epoch = stats.epoch
        if not has_dev:
            run.best_epoch = stats.epoch
            return
        es = self.config.early_stopping
        value = stats.dev_cost if es.monitor == "dev_cost" else stats.dev_error
        if value < run.best_value - es.min_delta:
            run.best_value, run.best_epoch, run.waited = value, stats.epoch, 0
            if es.restore_best:
                run.best_state = copy.deepcopy(self.model.state_dict())
        else:
            run.waited += 1
            if es.patience and run.waited >= es.patience:
                run.stopped = stats.epoch < self.config.optim.epochs
                run.finished = True

    # -- the epoch checkpoint (train --resume) ------------------------------------------------

    def _state(self, run: _Progress) -> dict[str, Any]:
        """What the next epoch depends on. The random streams that differ per rank (dropout's
        global generator, augmentation) are gathered from every rank; the rest is the same on all."""
        own: dict[str, Any] = {"torch": torch.get_rng_state(), "augment": self._augment_state()}
        if self.device.type == "cuda":
            own["cuda"] = torch.cuda.get_rng_state(self.device)
        return {"epoch": run.epoch, "model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                "scheduler": None if self.scheduler is None else self.scheduler.state_dict(),
                "generator": self.generator.get_state(), "health_step": self.health.steps,
                "ranks": [own] if self.dist is None else self.dist.gather(own), "progress": run.to_state()}

    def _restore(self, state: dict[str, Any]) -> _Progress:
        """Put back what :meth:`_state` saved; the layers unfrozen by then are trainable again."""
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scheduler is not None:
            self.scheduler.load_state_dict(state["scheduler"])
        self.generator.set_state(state["generator"])
        own = state["ranks"][0 if self.dist is None else self.dist.rank]
        torch.set_rng_state(own["torch"])
        if "cuda" in own:
            torch.cuda.set_rng_state(own["cuda"], self.device)
        self._set_augment_state(own["augment"])
        self.health.steps = int(state["health_step"])
        unfreeze = self.config.transfer.unfreeze_after
        if unfreeze and state["epoch"] >= unfreeze:
            self.model.requires_grad_(True)
            if self.dist is not None:
                self.forward_module = self.dist.wrap(self.model)
        return _Progress.from_state(state["progress"])

    def _augment_rng(self) -> Any:
        return getattr(self.augment, "rng", None)

    def _augment_state(self) -> dict[str, Any] | None:
        rng = self._augment_rng()
        return None if rng is None else rng.bit_generator.state

    def _set_augment_state(self, state: dict[str, Any] | None) -> None:
        rng = self._augment_rng()
        if rng is not None and state is not None:
            rng.bit_generator.state = state


@dataclass
class _Progress:
    """The epoch loop's bookkeeping: epochs done, their figures, early stopping's state."""

    epoch: int = 0
    history: list[EpochStats] = dataclasses.field(default_factory=list)
    best_value: float = math.inf
    best_epoch: int = 0
    best_state: dict[str, torch.Tensor] | None = None
    waited: int = 0
    stopped: bool = False
    finished: bool = False  # early stopping fired

    def to_state(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        out["history"] = [dataclasses.asdict(h) for h in self.history]
        return out

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> _Progress:
        return cls(**{**state, "history": [EpochStats(**h) for h in state["history"]]})


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


def _history_dict(history: list[EpochStats], *, best_epoch: int, stopped: bool, restored: bool,
                  diverged: dict[str, Any] | None = None) -> dict[str, Any]:
    """history.json, with the gradient-health warnings (also raised as MlstratWarning) and the
    convergence verdict on the train cost (``nn/_convergence.py``); a diverged run carries
    ``diverged`` and the advice to lower the learning rate first."""
    import warnings

    from mlstrat._exceptions import MlstratWarning
    from mlstrat.nn._convergence import history_verdict
    from mlstrat.nn._health import divergence_warning, gradient_warnings

    epochs = [h.to_dict() for h in history]
    found = [divergence_warning(diverged)] if diverged is not None else gradient_warnings(epochs)
    for w in found:
        # stack: _history_dict < fit < _fit_in_memory or _train_stream < _train < train < the caller
        warnings.warn(w["message"], MlstratWarning, stacklevel=6)
    doc = {"epochs": epochs, "best_epoch": best_epoch, "stopped_early": stopped, "restored_best": restored,
           "warnings": found, "diverged": diverged}
    doc["convergence"] = history_verdict(doc).to_dict()
    return doc

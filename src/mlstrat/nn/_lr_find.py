"""The learning-rate range test (Smith 2017, "Cyclical learning rates"; fastai's ``lr_find``).

From a fresh network, train on mini-batches while the learning rate grows exponentially from
``start_lr`` to ``end_lr``; record each step's loss, smooth it with an exponential moving average
(bias-corrected, as fastai does) and stop once the smoothed loss exceeds ``diverge`` times its
minimum (or is not finite). The suggestion is the learning rate at the steepest descent of the
smoothed loss against log(lr), before its minimum; the minimum's learning rate / 10 (fastai's
``lr_min``) is reported beside it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch

from mlstrat._exceptions import ConfigError, InputError
from mlstrat.display._repr import NotebookRepr
from mlstrat.nn._config import TrainConfig

__all__ = ["LrFindResult", "lr_find", "record_lr_find", "sparkline", "with_lr"]

#: the smoothed loss may reach this many times its minimum before the test stops
DIVERGE = 4.0
#: exponential smoothing of the per-step loss (fastai's beta)
SMOOTHING = 0.98
#: steps before the stop rule may fire: the smoothed loss of the first steps is too noisy
MIN_STEPS = 10
#: the learning rates of the test, as in fastai (1e-7 .. 10)
START_LR, END_LR = 1e-7, 10.0
#: mini-batches of the test
STEPS = 200
#: the most curve points a recorded test keeps (a report draws them; more add bytes, not shape)
RECORDED_POINTS = 300


@dataclass(frozen=True)
class LrFindResult(NotebookRepr):
    """The learning-rate range test's curve and suggestion.

    Attributes
    ----------
    lrs, losses, smoothed : list of float
        Each step's learning rate, raw mini-batch loss and smoothed loss.
    suggestion : float
        The suggested learning rate (``method`` says how it was chosen).
    method : str
        ``"steepest"``: where the smoothed loss falls fastest against log(lr), before its minimum.
    steepest, min_lr : float
        The steepest-descent learning rate, and the smoothed minimum's learning rate / 10.
    stopped : str
        Why the test ended: ``"diverged"`` (smoothed loss past ``diverge`` x its minimum or not
        finite) or ``"end_lr"`` (every step ran).
    run_id : str or None
        The recorded run (``kind = "lr-find"``), ``None`` when not recorded.
    """

    lrs: list[float]
    losses: list[float]
    smoothed: list[float]
    suggestion: float
    method: str
    steepest: float
    min_lr: float
    stopped: str
    settings: dict[str, Any] = field(default_factory=dict)
    run_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"suggestion": self.suggestion, "method": self.method, "steepest": self.steepest,
                "min_lr": self.min_lr, "stopped": self.stopped, "steps": len(self.lrs),
                "settings": self.settings, "run_id": self.run_id, "lrs": self.lrs, "losses": self.losses,
                "smoothed": self.smoothed}

    def summary(self) -> dict[str, Any]:
        """What a recorded run keeps of the test: the suggestion, how it was chosen, and the
        curve thinned to at most ``RECORDED_POINTS`` steps (``steps`` counts every step)."""
        doc = self.to_dict()
        keep = _thinned_steps(len(self.lrs), RECORDED_POINTS)
        return {**doc, **{k: [doc[k][i] for i in keep] for k in ("lrs", "losses", "smoothed")}}


def _thinned_steps(n: int, most: int) -> list[int]:
    """At most ``most`` step indices spread evenly over ``n`` steps, the first and last kept."""
    if n <= most:
        return list(range(n))
    return sorted({round(i * (n - 1) / (most - 1)) for i in range(most)})


def lr_find(config: TrainConfig, *, start_lr: float = START_LR, end_lr: float = END_LR, steps: int = STEPS,
            diverge: float = DIVERGE, smoothing: float = SMOOTHING, con: Any = None) -> LrFindResult:
    """Run the learning-rate range test on the train split of ``config``'s manifest.

    The network, optimizer, batch size, regularization, device and seed are the config's; the
    data are read in memory and the test's weights are thrown away (nothing is written).

    Parameters
    ----------
    config : TrainConfig
    start_lr, end_lr : float, default=1e-7, 10
        The learning rates of the first and last step (exponential in between).
    steps : int, default=200
        Mini-batches (the train split is cycled through as often as needed).
    diverge : float, default=4
        Stop once the smoothed loss exceeds this many times its minimum.
    smoothing : float, default=0.98
        The exponential moving average's weight of the past.
    con : ibis backend, default=None

    Returns
    -------
    LrFindResult

    Raises
    ------
    ConfigError
        ``start_lr``/``end_lr``/``steps``/``diverge``/``smoothing`` out of range.
    InputError
        A train split with fewer than two classes.
    """
    _check_options(start_lr=start_lr, end_lr=end_lr, steps=steps, diverge=diverge, smoothing=smoothing)
    from mlstrat.nn._data import load_dataset

    if not config.data.manifest:
        raise ConfigError("[data] manifest is not set; give the table written by `mlstrat split`")
    ds = load_dataset(config.data.manifest, config.data, tasks=config.multitask.tasks, con=con)
    config = with_lr(config, start_lr)  # each step sets its own; "find" is no learning rate
    lrs = [start_lr * (end_lr / start_lr) ** (i / max(steps - 1, 1)) for i in range(steps)]
    losses = _run_steps(config, ds, lrs, diverge=diverge, smoothing=smoothing)
    smoothed = _smooth(losses, smoothing)
    stopped = "diverged" if len(losses) < steps else "end_lr"
    lrs = lrs[:len(losses)]
    steepest, min_lr = (float(f"{lr:.3g}") for lr in _suggestions(lrs, smoothed))  # as a user would type them
    settings = {"start_lr": start_lr, "end_lr": end_lr, "steps": steps, "diverge": diverge, "smoothing": smoothing,
                "optimizer": config.optim.optimizer, "batch_size": config.optim.batch_size}
    return LrFindResult(lrs=lrs, losses=losses, smoothed=smoothed, suggestion=steepest, method="steepest",
                        steepest=steepest, min_lr=min_lr, stopped=stopped, settings=settings)


def _check_options(*, start_lr: float, end_lr: float, steps: int, diverge: float, smoothing: float) -> None:
    if not (0 < start_lr < end_lr) or not math.isfinite(end_lr):
        raise ConfigError(f"start_lr = {start_lr!r} and end_lr = {end_lr!r}: need 0 < start_lr < end_lr, both finite",
                          arguments=("start_lr", "end_lr"))
    if steps < MIN_STEPS + 2:
        raise ConfigError(f"steps = {steps!r} must be at least {MIN_STEPS + 2}", arguments=("steps",))
    if not diverge > 1:
        raise ConfigError(f"diverge = {diverge!r} must be above 1 (times the smallest smoothed loss)",
                          arguments=("diverge",))
    if not 0 <= smoothing < 1:
        raise ConfigError(f"smoothing = {smoothing!r} must be in [0, 1)", arguments=("smoothing",))


def _run_steps(config: TrainConfig, ds: Any, lrs: list[float], *, diverge: float, smoothing: float) -> list[float]:
    """Each step's loss, up to the step where the smoothed loss diverged (included)."""
    from mlstrat.nn._model import cross_entropy_cost, masked_bce_cost
    from mlstrat.nn._setup import (
        _target_tensor,
        _threads,
        auto_threads,
        build_network,
        make_optimizer,
        resolve_device,
    )

    train_rows = ds.mask("train")
    n_outputs = len(ds.tasks) if ds.tasks else len(ds.classes)
    if not ds.tasks and n_outputs < 2:
        raise InputError(f"{ds.source}: train has a single class ({ds.classes[0]!r}); "
                         "classification needs at least two")
    loss_fn = masked_bce_cost if ds.tasks else cross_entropy_cost
    # a small network is fastest on few threads: the same rule as a DDP rank's (nn/_threads.py)
    threads = config.optim.threads or auto_threads(config, ds.X.shape[1])
    with _threads(threads), torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.optim.seed)
        generator = torch.Generator().manual_seed(config.optim.seed)
        X_raw = ds.X[train_rows]  # (m, F)
        model, normalizer = build_network(config, ds.X.shape[1], n_outputs, X_raw, generator)
        device = resolve_device(config.optim.device)
        model.to(device)
        X = torch.from_numpy(normalizer(X_raw)).to(device)  # (m, F)
        y = _target_tensor(ds, train_rows, device)
        m = int(X.shape[0])
        optimizer = make_optimizer(model, config, m)
        batch = config.optim.batch_size or m
        model.train()
        losses: list[float] = []
        best, avg = math.inf, 0.0
        order = torch.randperm(m, generator=generator)
        for step, lr in enumerate(lrs):
            start = (step * batch) % m
            if start + batch > m:  # a new pass over train, freshly shuffled
                order = torch.randperm(m, generator=generator)
                start = 0
            idx = order[start:start + batch].to(device)
            for group in optimizer.param_groups:
                group["lr"] = lr
            loss = loss_fn(model(X[idx]), y[idx])  # (,)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            value = float(loss.detach())
            losses.append(value)
            avg = smoothing * avg + (1 - smoothing) * value
            smooth = avg / (1 - smoothing ** (step + 1))
            if not math.isfinite(smooth) or (step >= MIN_STEPS and smooth > diverge * best):
                break
            best = min(best, smooth)
    return losses


def _smooth(losses: list[float], smoothing: float) -> list[float]:
    """The bias-corrected exponential moving average of the losses."""
    out, avg = [], 0.0
    for step, value in enumerate(losses):
        avg = smoothing * avg + (1 - smoothing) * value
        out.append(avg / (1 - smoothing ** (step + 1)))
    return out


def _suggestions(lrs: list[float], smoothed: list[float]) -> tuple[float, float]:
    """(the steepest descent's lr, the minimum's lr / 10), over the finite steps before the
    minimum; the first ``MIN_STEPS`` steps are left out of the steepest search, as fastai's plot
    skips them (their average holds few batches: one lucky batch looks like a steep fall)."""
    finite = [i for i, s in enumerate(smoothed) if math.isfinite(s)]
    if len(finite) < 3:
        raise InputError(f"the loss was not finite from step {len(finite) + 1} at lr = {lrs[len(finite)]:g}; "
                         "give a smaller start_lr")
    values = np.array([smoothed[i] for i in finite])
    rates = np.array([lrs[i] for i in finite])
    low = int(np.argmin(values))
    if low < 2:  # the loss only rose: the range starts too high to show where it falls fastest
        raise InputError(f"the smoothed loss was lowest at lr = {rates[low]:g}, the first steps, and never fell "
                         f"after: already too high there; give a smaller start_lr (--start-lr, now {lrs[0]:g})")
    min_lr = float(rates[low] / 10)
    skip = MIN_STEPS if low - MIN_STEPS >= 2 else 0
    slope = np.gradient(values[skip:low + 1], np.log(rates[skip:low + 1]))  # d smoothed / d log lr
    return float(rates[skip + int(np.argmin(slope))]), min_lr


def with_lr(config: TrainConfig, lr: float) -> TrainConfig:
    """``config`` with ``[optim] lr = lr`` (the suggestion of the test, for one)."""
    return replace(config, optim=replace(config.optim, lr=lr))


_BARS = "▁▂▃▄▅▆▇█"


def sparkline(values: list[float], *, width: int = 60) -> str:
    """The values as one line of block characters (resampled to ``width``; non-finite: ' ')."""
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return ""
    n = min(width, len(values))
    picks = [values[round(i * (len(values) - 1) / max(n - 1, 1))] for i in range(n)]
    low, high = min(finite), max(finite)
    span = (high - low) or 1.0
    return "".join(" " if not math.isfinite(v) else _BARS[min(len(_BARS) - 1, int((v - low) / span * len(_BARS)))]
                   for v in picks)


def record_lr_find(result: LrFindResult, config: TrainConfig, *, store: Any = None,
                   note: str | None = None) -> LrFindResult:
    """Record the test in the run store (``kind = "lr-find"``: its config, the data's
    fingerprint, and the curve (thinned, :meth:`LrFindResult.summary`) with the suggestion as
    its metrics document); returns
    ``result`` with its ``run_id``."""
    from mlstrat.runs import RunStore
    from mlstrat.tables import fingerprint

    store = store if isinstance(store, RunStore) else RunStore(store)
    run = store.record("lr-find", config=config.to_dict(), data_fingerprint=fingerprint(config.data.manifest),
                       metrics={"lr_find": result.summary()}, note=note, count_test=False)
    return replace(result, run_id=run.id)

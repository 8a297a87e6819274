"""CPU threads for training, chosen from a measurement.

Whether a second OpenMP thread helps depends on the matmul sizes and on what else the cores
are doing: on a shared 2-vCPU machine two threads made small mini-batches ~50x slower and
large ones 1.4-1.6x faster (docs/benchmarks/train.md). Rather than a fixed threshold, the
trainer times a few forward + backward passes of the actual network on one real mini-batch
at each candidate thread count and keeps the fastest. The measurement is a few milliseconds
for small networks; it is skipped when there is nothing to choose (one core, a GPU, a thread
count set in the config), when the run is too short to repay it, when the network is small
(a second thread cannot pay for its synchronization) and when the machine is loaded (the
other cores are busy: a measurement there is noise, and a second thread waits on them; at
batch 512 on 2 shared cores two threads took 0.84-35.7 s where one took 1.1 s).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

import torch
from torch import nn

__all__ = ["choose_threads", "measure_threads", "MIN_STEPS", "SMALL_WORK"]

MIN_STEPS = 200  # mini-batch steps in the whole run below which the measurement is not worth it
# weights x rows per mini-batch at or below which one thread is kept (~17M multiply-adds forward)
SMALL_WORK = 2**24
_REPEATS = 5
_cache: dict[tuple, int] = {}


def _time_steps(model: nn.Module, xb: torch.Tensor, yb: torch.Tensor,
                loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], threads: int) -> float:
    torch.set_num_threads(threads)
    best = float("inf")
    for i in range(_REPEATS + 1):
        started = time.perf_counter()
        loss_fn(model(xb), yb).backward()
        elapsed = time.perf_counter() - started
        if i:  # the first pass warms the allocator and the thread pool
            best = min(best, elapsed)
    return best


def _load_per_core() -> float | None:
    """The 1-minute load average per logical core; None where the platform has none."""
    try:
        return os.getloadavg()[0] / (os.cpu_count() or 1)
    except (AttributeError, OSError):
        return None


def choose_threads(model: nn.Module, xb: torch.Tensor, yb: torch.Tensor,
                   loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], *,
                   steps: int) -> tuple[int, str]:
    """``(threads, why)``: one thread for a short run, a small network or a loaded machine, else
    the fastest of 1 and torch's default measured on this network and batch
    (:func:`measure_threads`).

    ``why`` is recorded beside the count in the run's history.
    """
    default = torch.get_num_threads()
    if xb.device.type != "cpu":
        return default, f"{xb.device.type} device: torch's default"
    if default <= 1:
        return default, "one CPU thread available"
    if steps < MIN_STEPS:
        return 1, f"short run ({steps} steps < {MIN_STEPS}): one thread, not measured"
    weights = sum(p.numel() for p in model.parameters() if p.dim() > 1)
    if weights * xb.shape[0] <= SMALL_WORK:
        return 1, f"small network ({weights} weights x batch {xb.shape[0]}): one thread"
    load = _load_per_core()
    if load is not None and load >= 1.0:
        cores = os.cpu_count() or 1
        return 1, f"loaded machine (load {load * cores:.1f} on {cores} cores): one thread"
    n = measure_threads(model, xb, yb, loss_fn, steps=steps)
    return n, f"measured: fastest of 1 and {default}"


def measure_threads(model: nn.Module, xb: torch.Tensor, yb: torch.Tensor,
                    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], *, steps: int) -> int:
    """The fastest of 1 and torch's default thread count for this network and batch size.

    The model's gradients are cleared afterwards, its weights are untouched (no optimizer step),
    batch norm's running statistics and the global random state (dropout) are restored: the
    measurement does not change what is trained. The thread count itself can move results in
    the last bits (a matmul split over threads sums in another order): pin ``[optim] threads``
    for bit-identical reruns. Results are cached per architecture and batch shape.
    """
    default = torch.get_num_threads()
    if default <= 1 or xb.device.type != "cpu":
        return default
    if steps < MIN_STEPS:
        return 1  # a short run: a one-thread pass is never slow by much, and measuring costs
    key = (repr(getattr(model, "arch", type(model))), tuple(xb.shape), default)
    if key not in _cache:
        was_training = model.training
        buffers = {name: b.clone() for name, b in model.named_buffers()}
        model.train()
        try:
            with torch.random.fork_rng(devices=[]):
                times = {n: _time_steps(model, xb, yb, loss_fn, n) for n in (1, default)}
        finally:
            torch.set_num_threads(default)
            model.zero_grad(set_to_none=True)
            model.train(was_training)
            with torch.no_grad():
                for name, b in model.named_buffers():
                    b.copy_(buffers[name])
        _cache[key] = min(times, key=times.get)
    return _cache[key]

"""Learning-rate decay (docs/method.md §5): one torch.optim.lr_scheduler per ``[optim] lr_decay``.

Epochs count from 0: the first epoch runs at ``lr`` and the scheduler steps once after each
epoch, so epoch e (0-based) runs at

- inverse:     lr / (1 + decay_rate * e)
- exponential: lr * decay_gamma ** e            (0.95 ** e with the default)
- step:        lr * decay_gamma ** (e // decay_step)
- cosine:      lr_min + (lr - lr_min) * (1 + cos(pi * e / (epochs - 1))) / 2  (lr_min at the last epoch)
"""

from __future__ import annotations

from typing import Any

import torch

__all__ = ["make_scheduler"]


def make_scheduler(optimizer: torch.optim.Optimizer, optim: Any) -> Any:
    """The torch scheduler for ``optim.lr_decay``, or ``None`` for a constant learning rate."""
    from torch.optim import lr_scheduler

    kind = optim.lr_decay
    if kind == "inverse":
        rate = optim.decay_rate
        return lr_scheduler.LambdaLR(optimizer, lambda e: 1.0 / (1.0 + rate * e))
    if kind == "exponential":
        return lr_scheduler.ExponentialLR(optimizer, gamma=optim.decay_gamma)
    if kind == "step":
        return lr_scheduler.StepLR(optimizer, step_size=optim.decay_step, gamma=optim.decay_gamma)
    if kind == "cosine":
        # T_max = epochs - 1: the last epoch runs at lr_min, not one step before it
        return lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(optim.epochs - 1, 1), eta_min=optim.lr_min)
    return None

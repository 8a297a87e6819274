"""Gradient health (docs/method.md §5, vanishing / exploding gradients).

Per layer (conv, hidden, head: its weight matrix or kernel W) and epoch, the history records

- ``grad_norm``: ||dJ/dW||_2 before any clipping, the mean over the measured steps;
- ``weight_norm``: ||W||_2 at the end of the epoch;
- ``update_ratio``: ||W_after - W_before||_2 / ||W_before||_2 of one optimizer step, the mean
  over the measured steps (the rule of thumb is around 1e-3).

Measuring every step would cost a norm per layer per step; about :data:`SAMPLES` evenly spaced
steps per epoch are measured instead, which is enough for a per-epoch figure and keeps the
loop's cost unchanged (see docs/benchmarks/train.md).

:func:`gradient_warnings` reads those figures and names the layer and the remedies when

- a gradient norm is not finite (exploding);
- a layer's gradient is more than :data:`RELATIVE` times its weights (exploding: a too large
  init saturates the loss, every layer's gradient is huge, and the ratio across depth stays flat);
- the gradient's RMS per weight (norm / sqrt(size), so layers of different sizes compare) of a
  layer is :data:`RATIO` times smaller (vanishing) or larger (exploding) than the head's;
- a layer's gradient norm grows :data:`RATIO`-fold from the first to the last epoch and ends
  above its weights' norm (exploding over time).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

__all__ = ["HealthMonitor", "diverged_at", "divergence_warning", "gradient_warnings", "named_layers", "SAMPLES", "RATIO"]

SAMPLES = 16  # measured steps per epoch
RATIO = 100.0  # two orders of magnitude
RELATIVE = 10.0  # ||dJ/dW|| / ||W|| above this: one unit-rate step would move W by 10x its size (healthy: 0.01-0.1)

VANISHING_REMEDY = ("use ReLU with He init ([model] activation = \"relu\", init = \"he\", init_scale = 1) "
                    "or batch normalization ([model] batch_norm = true)")
EXPLODING_REMEDY = ("use He/Xavier init at its own scale ([model] init_scale = 1), batch normalization "
                    "([model] batch_norm = true) or gradient clipping ([optim] clip_grad_norm = 1.0)")


def named_layers(model: nn.Module) -> list[tuple[str, torch.Tensor]]:
    """(name, W) of each conv / hidden / head layer, input side first: ``conv.0``, ``hidden.0``,
    ..., ``head``."""
    out = [(f"conv.{i}", c.weight) for i, c in enumerate(getattr(model, "convs", []))]
    out += [(f"hidden.{i}", h.weight) for i, h in enumerate(getattr(model, "hidden", []))]
    out.append(("head", model.head.weight))
    return out


class HealthMonitor:
    """Measures gradient, weight and update norms on about :data:`SAMPLES` steps per epoch.

    Call :meth:`before_step` after ``backward()`` (and before clipping), :meth:`after_step` after
    ``optimizer.step()``, :meth:`end_epoch` once per epoch.
    """

    def __init__(self, model: nn.Module, steps_per_epoch: int) -> None:
        self.layers = named_layers(model)
        self.stride = max(1, steps_per_epoch // SAMPLES)
        self.steps = 0  # optimizer steps so far (a resumed run carries on the count)
        self._before: list[torch.Tensor] | None = None
        self._reset()

    def _reset(self) -> None:
        self._pending: list[tuple[torch.Tensor, torch.Tensor]] = []

    def before_step(self) -> None:
        measure = self.steps % self.stride == 0
        self.steps += 1
        if not measure:
            self._before = None
            return
        weights = [w for _, w in self.layers]
        zero = weights[0].new_zeros(())
        grads = torch.stack([w.grad.norm() if w.grad is not None else zero for w in weights])
        self._before = [w.detach().clone() for w in weights]
        self._pending.append((grads, zero))

    def after_step(self) -> None:
        if self._before is None:
            return
        weights = [w.detach() for _, w in self.layers]
        ratios = torch.stack([(w - b).norm() / b.norm().clamp_min(1e-30) for w, b in zip(weights, self._before)])
        grads, _ = self._pending[-1]
        self._pending[-1] = (grads, ratios)  # kept on the device: one host sync per epoch
        self._before = None

    def end_epoch(self) -> dict[str, dict[str, float]]:
        """Per layer: grad_norm, weight_norm, update_ratio of the epoch just finished."""
        out: dict[str, dict[str, float]] = {}
        if self._pending:
            grads = torch.stack([g for g, _ in self._pending]).double().mean(dim=0).tolist()
            ratios = torch.stack([r for _, r in self._pending]).double().mean(dim=0).tolist()
        else:
            grads = ratios = [math.nan] * len(self.layers)
        for (name, w), g, r in zip(self.layers, grads, ratios):
            out[name] = {"grad_norm": g, "weight_norm": float(w.detach().norm()), "update_ratio": r,
                         "size": int(w.numel())}
        self._reset()
        return out


def _times(x: float) -> str:
    """123456.7 -> '123,457x'; 12.3 -> '12.3x'."""
    return f"{x:,.0f}x" if x >= 100 else f"{x:.3g}x"


def _rms(stats: dict[str, Any]) -> float:
    return stats["grad_norm"] / math.sqrt(max(stats.get("size") or 1, 1))


def diverged_at(epoch: int, lr: float, train_cost: float, dev_cost: float | None) -> dict[str, Any] | None:
    """``{"epoch", "lr", "cost"}`` when this epoch's train or dev cost is not finite (NaN or
    infinite): the run diverged. ``None`` otherwise."""
    for cost in (train_cost, dev_cost):
        if cost is not None and not math.isfinite(cost):
            return {"epoch": epoch, "lr": lr, "cost": str(cost)}
    return None


def divergence_warning(diverged: dict[str, Any]) -> dict[str, str]:
    """The warning of a run whose cost became NaN or infinite (``diverged``: ``{"epoch", "lr",
    "cost"}`` from the epoch loop). A too-large learning rate is by far the usual cause, so the
    advice is to lower it, before anything about initialization or clipping."""
    lr = diverged.get("lr")
    at = f" at lr = {lr:g}" if isinstance(lr, (int, float)) else ""
    lower = f" (try [optim] lr = {lr / 10:g})" if isinstance(lr, (int, float)) and lr > 0 else ""
    return {"code": "diverged", "message": (
        f"diverged: lower the learning rate{lower}; the cost became {diverged.get('cost')} at epoch "
        f"{diverged.get('epoch')}{at} and training stopped there")}


def gradient_warnings(epochs: list[dict[str, Any]]) -> list[dict[str, str]]:
    """``{"code", "message"}`` warnings from the per-layer figures of a history's epochs."""
    rows = [e["layers"] for e in epochs if e.get("layers")]
    if not rows:
        return []
    out: list[dict[str, str]] = []
    for epoch_index, layers in enumerate(rows, start=1):
        bad = [n for n, s in layers.items() if not math.isfinite(s["grad_norm"])]
        if bad:
            out.append({"code": "gradient-exploding", "message": (
                f"layer {bad[0]}: the gradient is not finite at epoch {epoch_index} (exploding gradients); "
                f"{EXPLODING_REMEDY}")})
            return out
    for layers, when in ((rows[0], "at the first epoch"), (rows[-1], "at the last epoch")):
        out = _relative(layers, when) or _across_depth(layers, when)
        if out:
            return out
    return _over_epochs(rows)


def _relative(layers: dict[str, dict[str, Any]], when: str) -> list[dict[str, str]]:
    rel = {n: s["grad_norm"] / s["weight_norm"] for n, s in layers.items() if s["weight_norm"] > 0}
    if not rel:
        return []
    worst = max(rel, key=rel.get)
    if rel[worst] > RELATIVE:
        return [{"code": "gradient-exploding", "message": (
            f"layer {worst}: its gradient norm is {_times(rel[worst])} its weights' norm {when} "
            f"(exploding gradients); {EXPLODING_REMEDY}")}]
    return []


def _across_depth(layers: dict[str, dict[str, Any]], when: str) -> list[dict[str, str]]:
    """The input-side layers' gradient RMS against the head's: backprop multiplies by each layer's
    weights and activation slope, so a geometric shrink or growth shows up as a ratio."""
    head = _rms(layers["head"])
    if len(layers) < 2 or not head > 0:
        return []
    body = {n: _rms(s) for n, s in layers.items() if n != "head" and s["grad_norm"] > 0}  # frozen: 0
    if not body:
        return []
    low = min(body, key=body.get)
    high = max(body, key=body.get)
    if body[low] < head / RATIO:
        return [{"code": "gradient-vanishing", "message": (
            f"layer {low}: its gradient per weight is {_times(head / body[low])} smaller than the head's {when} "
            f"(vanishing gradients: the first layers barely learn); {VANISHING_REMEDY}")}]
    if body[high] > head * RATIO:
        return [{"code": "gradient-exploding", "message": (
            f"layer {high}: its gradient per weight is {_times(body[high] / head)} larger than the head's {when} "
            f"(exploding gradients); {EXPLODING_REMEDY}")}]
    return []


def _over_epochs(rows: list[dict[str, dict[str, Any]]]) -> list[dict[str, str]]:
    first, last = rows[0], rows[-1]
    for name in first:
        a, b = first[name]["grad_norm"], last.get(name, {}).get("grad_norm", 0.0)
        w = last.get(name, {}).get("weight_norm", 0.0)
        if a > 0 and b > a * RATIO and b > w:  # a layer waking up from a vanished start is not exploding
            return [{"code": "gradient-exploding", "message": (
                f"layer {name}: its gradient norm grew {_times(b / a)} from the first to the last epoch "
                f"(exploding gradients); {EXPLODING_REMEDY}")}]
    return []

"""The network: dense (mlp) or conv + dense (cnn) layers, inverted dropout, the method's inits,
the regularization penalty and the losses (softmax cross-entropy, masked multi-task BCE)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["Architecture", "Network", "InvertedDropout", "initialize", "init_std", "penalty",
           "weight_parameters", "is_penalized", "cross_entropy_cost", "masked_bce_cost", "weight_sum",
           "weighted_cost_sums", "ACTIVATION_FNS"]

ACTIVATION_FNS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "relu": F.relu,
    "tanh": torch.tanh,
    "leaky_relu": F.leaky_relu,  # slope 0.01
    "sigmoid": torch.sigmoid,  # saturates: deep sigmoid stacks are the textbook vanishing-gradient case
}


@dataclass(frozen=True)
class Architecture:
    """What it takes to rebuild a network (saved in model.pt)."""

    kind: str  # mlp | cnn
    n_inputs: int  # flat features per example
    hidden: tuple[int, ...]  # dense hidden layer sizes
    n_outputs: int  # classes (softmax) or tasks (sigmoids)
    activation: str
    image_shape: tuple[int, ...] | None = None  # (C, H, W) for cnn
    channels: tuple[int, ...] = ()  # cnn conv output channels
    batch_norm: bool = False  # batch normalization before each hidden activation

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Architecture:
        return cls(kind=d["kind"], n_inputs=int(d["n_inputs"]), hidden=tuple(d["hidden"]),
                   n_outputs=int(d["n_outputs"]), activation=d["activation"],
                   image_shape=tuple(d["image_shape"]) if d.get("image_shape") else None,
                   channels=tuple(d.get("channels") or ()), batch_norm=bool(d.get("batch_norm", False)))

    def body_signature(self) -> tuple:
        """Everything but the head: two architectures with equal signatures share body weights."""
        return (self.kind, self.n_inputs, self.hidden, self.activation, self.image_shape, self.channels,
                self.batch_norm)


class InvertedDropout(nn.Module):
    """Keep each unit with probability ``keep_prob`` and divide by it (expected value unchanged);
    a new mask on every forward pass in training mode, the identity in eval mode."""

    def __init__(self, keep_prob: float) -> None:
        super().__init__()
        self.keep_prob = float(keep_prob)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.keep_prob >= 1.0:
            return x
        # F.dropout is exactly inverted dropout (mask / keep_prob), in one fused kernel
        return F.dropout(x, p=1.0 - self.keep_prob, training=True)

    def extra_repr(self) -> str:
        return f"keep_prob={self.keep_prob}"


class Network(nn.Module):
    """Flat features (N, F) -> logits (N, n_outputs).

    Layers, in the order ``[transfer] freeze`` counts them: the conv layers (cnn), the dense
    hidden layers, then the head. With ``batch_norm`` each conv / hidden layer is followed by a
    batch normalization (``conv_norms`` / ``norms``) before its activation: the layer's bias is
    dropped (beta replaces it), gamma and beta are learned, running statistics serve eval mode.
    """

    def __init__(self, arch: Architecture, keep_probs: tuple[float, ...] | None = None) -> None:
        super().__init__()
        self.arch = arch
        self.act = ACTIVATION_FNS[arch.activation]
        self.convs = nn.ModuleList()
        bn = arch.batch_norm
        width = arch.n_inputs
        if arch.kind == "cnn":
            c, h, w = arch.image_shape
            for out_c in arch.channels:
                self.convs.append(nn.Conv2d(c, out_c, kernel_size=3, padding=1, bias=not bn))
                c = out_c
                h, w = max(h // 2, 1), max(w // 2, 1)
            width = c * h * w
        self.hidden = nn.ModuleList()
        for units in arch.hidden:
            self.hidden.append(nn.Linear(width, units, bias=not bn))
            width = units
        # empty lists without batch norm: forward then zips against nothing and costs nothing
        self.conv_norms = nn.ModuleList(nn.BatchNorm2d(c.out_channels) for c in self.convs) if bn else nn.ModuleList()
        self.norms = nn.ModuleList(nn.BatchNorm1d(h.out_features) for h in self.hidden) if bn else nn.ModuleList()
        keep_probs = keep_probs or (1.0,) * len(arch.hidden)
        self.dropouts = nn.ModuleList(InvertedDropout(p) for p in keep_probs)
        self.head = nn.Linear(width, arch.n_outputs)

    def body_layers(self) -> list[nn.Module]:
        return [*self.convs, *self.hidden]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.convs:
            x = x.reshape(x.shape[0], *self.arch.image_shape)  # (N, C, H, W)
            for i, conv in enumerate(self.convs):
                z = conv(x)
                x = self.act(self.conv_norms[i](z) if self.conv_norms else z)
                if min(x.shape[-2:]) >= 2:
                    x = F.max_pool2d(x, 2)  # (N, C', H/2, W/2)
            x = x.flatten(1)  # (N, C' H' W')
        for i, (layer, drop) in enumerate(zip(self.hidden, self.dropouts)):
            z = layer(x)  # (N, units)
            x = self.act(self.norms[i](z) if self.norms else z)
            if drop.keep_prob < 1.0:
                x = drop(x)
        return self.head(x)  # (N, n_outputs)


def init_std(scheme: str, fan_in: int, fan_out: int) -> float:
    """Standard deviation of the weights (docs/method.md §5): He sqrt(2/n_prev), Xavier
    sqrt(1/n_prev), Glorot sqrt(2/(n_prev + n))."""
    if scheme == "he":
        return math.sqrt(2.0 / fan_in)
    if scheme == "xavier":
        return math.sqrt(1.0 / fan_in)
    if scheme == "glorot":
        return math.sqrt(2.0 / (fan_in + fan_out))
    raise ValueError(f"unknown init scheme {scheme!r}")


def _fans(layer: nn.Module) -> tuple[int, int]:
    w = layer.weight
    receptive = w[0][0].numel() if w.dim() > 2 else 1  # kernel area for conv layers
    return w.shape[1] * receptive, w.shape[0] * receptive


def initialize(modules: list[nn.Module], scheme: str, generator: torch.Generator, *, scale: float = 1.0) -> None:
    """Weights ~ N(0, (scale * std(scheme))^2) to break symmetry; biases 0. ``scale`` != 1 is a
    deliberately wrong init (to study vanishing / exploding gradients)."""
    with torch.no_grad():
        for layer in modules:
            fan_in, fan_out = _fans(layer)
            layer.weight.normal_(0.0, scale * init_std(scheme, fan_in, fan_out), generator=generator)
            if layer.bias is not None:
                layer.bias.zero_()


def is_penalized(name: str) -> bool:
    """Whether the parameter called ``name`` is a weight matrix / conv kernel W (what L2/L1 act
    on): not a bias, not batch norm's gamma (also called ``weight`` by torch)."""
    return name.endswith("weight") and not name.startswith(("norms.", "conv_norms."))


def weight_parameters(model: nn.Module) -> list[torch.Tensor]:
    """The weights W (matrices and conv kernels), not the biases nor batch norm's gamma/beta:
    what L2/L1 act on."""
    return [p for name, p in model.named_parameters() if is_penalized(name)]


def penalty(model: nn.Module, *, l2: float, l1: float, m: int) -> torch.Tensor:
    """(l2 / 2m) sum ||W||_F^2 + (l1 / m) sum |w| over the weights; gradient (l2/m) W + (l1/m) sign(W)."""
    weights = weight_parameters(model)
    total = weights[0].new_zeros(())
    if l2:
        total = total + (l2 / (2.0 * m)) * sum(w.pow(2).sum() for w in weights)
    if l1:
        total = total + (l1 / m) * sum(w.abs().sum() for w in weights)
    return total


def cross_entropy_cost(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean softmax cross-entropy; ``y`` holds class indices (N,)."""
    return F.cross_entropy(logits, y)


def masked_bce_cost(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Multi-task loss: binary cross-entropy per (example, task), averaged over labeled entries
    only. ``y`` is (N, T) with NaN where a label is missing; those entries contribute exactly 0
    to the loss and to the gradient."""
    labeled = ~torch.isnan(y)  # (N, T)
    target = torch.where(labeled, y, torch.zeros_like(y))  # NaN would poison the product below
    losses = F.binary_cross_entropy_with_logits(logits, target, reduction="none")  # (N, T)
    losses = torch.where(labeled, losses, torch.zeros_like(losses))
    return losses.sum() / labeled.sum().clamp(min=1)


def weight_sum(w: torch.Tensor, y: torch.Tensor, *, multitask: bool) -> torch.Tensor:
    """The denominator of the weighted mean loss: sum of w_i over the counted entries (each
    labeled (example, task) entry of a multi-task batch carries its example's weight)."""
    if multitask:
        return (w[:, None] * ~torch.isnan(y)).sum()  # (N, T) -> ()
    return w.sum()


def weighted_cost_sums(logits: torch.Tensor, y: torch.Tensor, w: torch.Tensor, *,
                       multitask: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """(sum_i w_i l_i, sum_i w_i): numerator and denominator of the importance-weighted mean loss
    (softmax cross-entropy, or binary cross-entropy over the labeled entries of each task)."""
    if multitask:
        labeled = ~torch.isnan(y)  # (N, T)
        target = torch.where(labeled, y, torch.zeros_like(y))
        losses = F.binary_cross_entropy_with_logits(logits, target, reduction="none")  # (N, T)
        losses = torch.where(labeled, losses, torch.zeros_like(losses))
        return (losses * w[:, None]).sum(), weight_sum(w, y, multitask=True)
    return (F.cross_entropy(logits, y, reduction="none") * w).sum(), w.sum()


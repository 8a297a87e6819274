"""The finite differences behind gradient checking: the regularized cost of a parameter dict,
the two-sided (or one-sided) difference quotient, full mode (every parameter element, batched
with ``torch.func.vmap``, one at a time where vmap cannot trace, or through a dense layer's exact
affinity) and directional mode (a few random unit directions).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn


def _normalized(approx: torch.Tensor, exact: torch.Tensor) -> float:
    denom = float(approx.norm() + exact.norm())
    return float((approx - exact).norm()) / denom if denom > 0 else 0.0


def _functional_penalty(params: dict[str, torch.Tensor], *, l2: float, l1: float, m: int) -> torch.Tensor:
    from mlstrat.nn._model import is_penalized

    total = 0.0
    for name, w in params.items():
        if is_penalized(name):
            if l2:
                total = total + (l2 / (2.0 * m)) * w.pow(2).sum()
            if l1:
                total = total + (l1 / m) * w.abs().sum()
    return total


def _difference_quotient(plus: torch.Tensor, minus_or_base: torch.Tensor, eps: float,
                         two_sided: bool) -> torch.Tensor:
    return (plus - minus_or_base) / (2 * eps) if two_sided else (plus - minus_or_base) / eps


def _full(J: Callable, base: dict[str, torch.Tensor], names: list[str], eps: float, two_sided: bool,
          J0: torch.Tensor | None, vectorize: bool) -> tuple[dict[str, torch.Tensor], int, bool]:
    approx: dict[str, torch.Tensor] = {}
    evaluations = 0
    vectorized = vectorize
    for name in names:
        theta = base[name]
        n = theta.numel()
        out = torch.empty(n, dtype=torch.float64)
        if vectorized:
            try:
                _full_vmap(J, base, name, eps, two_sided, J0, out)
            except Exception:  # vmap cannot trace every module (custom autograd Functions): go one by one
                vectorized = False
        if not vectorized:
            _full_loop(J, base, name, eps, two_sided, J0, out)
        evaluations += n * (2 if two_sided else 1)
        approx[name] = out.view_as(theta)
    return approx, evaluations, vectorized


def _full_affine(net: nn.Module, X: torch.Tensor, y: torch.Tensor, loss_fn: Callable,
                 base: dict[str, torch.Tensor], eps: float, two_sided: bool, J0: torch.Tensor | None, *,
                 l2: float, l1: float, m: int) -> dict[str, torch.Tensor]:
    """Full-mode differences for the dense layers of a :class:`Network`, without recomputing
    what a perturbation cannot change.

    A dense layer is affine in its own weights: perturbing W[r, c] by e moves its output
    Z[:, r] by exactly e * A[:, c] (A: the layer's input; the bias moves Z[:, r] by e). So the
    layers before it are evaluated once, the perturbed outputs of a chunk of elements are built
    directly (k, N, units), and only the rest of the network runs, batched over the chunk. Every
    J(theta +- eps e_i) is still evaluated; nothing is linearized beyond the layer's own
    (exact) affinity. Any other module: {} (the caller falls back to the generic path).
    """
    from mlstrat.nn._model import Network

    if type(net) is not Network or net.arch.batch_norm:
        return {}  # batch norm sits between a layer and its activation: the generic path handles it
    try:
        batched_loss = _batched_loss(loss_fn, y)
        with torch.no_grad():
            layers, prefixes, cached = _layer_inputs(net, X)
            P = _functional_penalty(base, l2=l2, l1=l1, m=m)
            result: dict[str, torch.Tensor] = {}
            for index, prefix in enumerate(prefixes):
                for kind in ("weight", "bias"):
                    name = f"{prefix}.{kind}"
                    result[name] = _affine_differences(
                        net, layers, cached, index, kind, base[name], batched_loss, eps=eps,
                        two_sided=two_sided, J0=J0, P=P, l2=l2, l1=l1, m=m)
            return result
    except Exception:  # a loss vmap cannot trace: the generic path handles everything
        return {}


def _batched_loss(loss_fn: Callable, y: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
    """The loss of a batch of outputs (k, N, C) -> (k,), the same formula as ``loss_fn``."""
    from mlstrat.nn._model import cross_entropy_cost

    if loss_fn is cross_entropy_cost:
        def batched_loss(out: torch.Tensor) -> torch.Tensor:  # (k, N, C) -> (k,), the same formula
            picked = out.gather(-1, y.expand(out.shape[0], -1).unsqueeze(-1)).squeeze(-1)  # (k, N)
            return (torch.logsumexp(out, dim=-1) - picked).mean(dim=-1)
        return batched_loss
    return torch.func.vmap(lambda out: loss_fn(out, y))


def _layer_inputs(net: nn.Module, X: torch.Tensor) -> tuple[list[nn.Module], list[str],
                                                            list[tuple[torch.Tensor, torch.Tensor]]]:
    """The dense layers, their parameter prefixes, and each one's (input A, output Z), evaluated
    once (the convolutions, which a dense layer's perturbation cannot change, included)."""
    a = X
    if net.convs:
        a = a.reshape(a.shape[0], *net.arch.image_shape)
        for conv in net.convs:
            a = net.act(conv(a))
            if min(a.shape[-2:]) >= 2:
                a = torch.nn.functional.max_pool2d(a, 2)
        a = a.flatten(1)
    layers = [*net.hidden, net.head]
    prefixes = [f"hidden.{i}" for i in range(len(net.hidden))] + ["head"]
    cached = []
    for layer in layers:
        z = layer(a)  # (N, units)
        cached.append((a, z))
        a = net.act(z)
    return layers, prefixes, cached


def _affine_differences(net: nn.Module, layers: list[nn.Module], cached: list[tuple[torch.Tensor, torch.Tensor]],
                        index: int, kind: str, param: torch.Tensor, batched_loss: Callable, *, eps: float,
                        two_sided: bool, J0: torch.Tensor | None, P: torch.Tensor, l2: float, l1: float,
                        m: int) -> torch.Tensor:
    """The difference quotients of every element of one layer's weight or bias, a chunk of
    elements at a time."""
    A, Z = cached[index]
    theta = param.reshape(-1)
    n = theta.numel()
    out = torch.empty(n, dtype=torch.float64)
    chunk = int(max(1, min(n, 4_000_000 // max(Z.numel(), 1))))
    for start in range(0, n, chunk):
        idx = torch.arange(start, min(start + chunk, n))
        rows = idx // A.shape[1] if kind == "weight" else idx
        values = []
        for sign in ((1.0, -1.0) if two_sided else (1.0,)):
            step = sign * eps
            shift = step * A[:, idx % A.shape[1]].T if kind == "weight" else step  # (k, N)
            value = _perturbed_loss(net, layers, cached, index, rows, shift, batched_loss)
            dP = 0.0
            if kind == "weight":
                w = theta[idx]
                if l2:
                    dP = dP + (l2 / (2.0 * m)) * ((w + step) ** 2 - w ** 2)
                if l1:
                    dP = dP + (l1 / m) * ((w + step).abs() - w.abs())
            values.append(value + P + dP)
        other = values[1] if two_sided else J0
        out[start:start + idx.numel()] = _difference_quotient(values[0], other, eps, two_sided)
    return out.view_as(param)


def _perturbed_loss(net: nn.Module, layers: list[nn.Module], cached: list[tuple[torch.Tensor, torch.Tensor]],
                    index: int, rows: torch.Tensor, shift: Any, batched_loss: Callable) -> torch.Tensor:
    """The loss (k,) with unit ``rows[i]`` of layer ``index`` moved by ``shift[i]`` in copy i."""
    Z = cached[index][1]
    k = rows.numel()
    if index == len(layers) - 1:
        Zb = Z.expand(k, *Z.shape).clone()  # (k, N, classes)
        Zb[torch.arange(k), :, rows] += shift
        return _suffix(net, index, Zb, batched_loss)
    # only unit r of this layer moves: the next layer's input changes
    # by (act(z_r + shift) - act(z_r)) along column r of its weights
    zr = Z[:, rows].T  # (k, N)
    dh = net.act(zr + shift) - net.act(zr)  # (k, N)
    nxt = layers[index + 1]
    Zn = cached[index + 1][1]  # (N, next units)
    Zb = Zn + dh[:, :, None] * nxt.weight[:, rows].T[:, None, :]  # (k, N, next)
    return _suffix(net, index + 1, Zb, batched_loss)


def _suffix(net: nn.Module, index: int, Z: torch.Tensor, batched_loss: Callable) -> torch.Tensor:
    """The rest of the network from layer ``index``'s output: (k, N, units) -> the loss (k,)."""
    out = Z
    if index < len(net.hidden):
        out = net.act(out)
        for layer in net.hidden[index + 1:]:
            out = net.act(layer(out))
        out = net.head(out)
    return batched_loss(out)


def _full_loop(J: Callable, base: dict[str, torch.Tensor], name: str, eps: float, two_sided: bool,
               J0: torch.Tensor | None, out: torch.Tensor) -> None:
    theta = base[name].clone()
    flat = theta.view(-1)
    params = {**base, name: theta}
    for i in range(flat.numel()):
        orig = float(flat[i])
        flat[i] = orig + eps
        plus = J(params)
        if two_sided:
            flat[i] = orig - eps
            other = J(params)
        else:
            other = J0
        flat[i] = orig
        out[i] = _difference_quotient(plus, other, eps, two_sided)


def _full_vmap(J: Callable, base: dict[str, torch.Tensor], name: str, eps: float, two_sided: bool,
               J0: torch.Tensor | None, out: torch.Tensor) -> None:
    theta = base[name]
    n = theta.numel()
    # memory per perturbation ~ one copy of the tensor plus the activations it changes
    chunk = int(max(1, min(n, 512, 4_000_000 // max(n, 1))))
    signs = (1.0, -1.0) if two_sided else (1.0,)

    def one(t: torch.Tensor) -> torch.Tensor:
        return J({**base, name: t})

    batched = torch.func.vmap(one)
    flat = theta.reshape(-1)
    for start in range(0, n, chunk):
        idx = torch.arange(start, min(start + chunk, n))
        k = idx.numel()
        values = []
        for sign in signs:
            P = flat.repeat(k, 1)  # (k, n): one perturbed copy per element
            P[torch.arange(k), idx] += sign * eps
            values.append(batched(P.view(k, *theta.shape)))
        other = values[1] if two_sided else J0
        out[start:start + k] = _difference_quotient(values[0], other, eps, two_sided)


def _directional(J: Callable, base: dict[str, torch.Tensor], grads: dict[str, torch.Tensor], names: list[str],
                 eps: float, two_sided: bool, J0: torch.Tensor | None, directions: int,
                 gen: torch.Generator) -> tuple[float, int]:
    approx, exact = [], []
    for _ in range(directions):
        # N(0, I) entries move every coordinate by ~eps (a unit vector would move each by
        # eps / sqrt(n), drowning the difference in round-off for large n); the normalized
        # difference does not depend on the length of v
        v = {n: torch.randn(base[n].shape, generator=gen, dtype=torch.float64) for n in names}
        plus = J({**base, **{n: base[n] + eps * v[n] for n in names}})
        other = J({**base, **{n: base[n] - eps * v[n] for n in names}}) if two_sided else J0
        approx.append(_difference_quotient(plus, other, eps, two_sided))
        exact.append(sum((grads[n] * v[n]).sum() for n in names))
    return _normalized(torch.stack(approx), torch.stack(exact)), directions * (2 if two_sided else 1)

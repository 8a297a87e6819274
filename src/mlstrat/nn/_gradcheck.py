"""Gradient checking (docs/method.md §6).

The cost J(theta) = loss + regularization is evaluated on a float64 copy of the model in eval
mode (dropout off). ``full`` mode perturbs every parameter: dtheta_approx[i] =
(J(theta + eps e_i) - J(theta - eps e_i)) / 2 eps, batched with ``torch.func.vmap`` (many
perturbations per forward call) and falling back to one evaluation at a time for modules vmap
cannot trace. ``directional`` mode compares (J(theta + eps v) - J(theta - eps v)) / 2 eps with
grad . v over a few random unit directions v: O(1) evaluations instead of O(n). Both report
||approx - grad|| / (||approx|| + ||grad||) overall and per parameter tensor.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from mlstrat._exceptions import ConfigError

__all__ = ["GradcheckResult", "ParameterCheck", "gradcheck", "gradcheck_config", "verdict_for",
           "OK_BELOW", "BUG_FROM"]

OK_BELOW = 1e-7  # "all is well" in docs/method.md §6
BUG_FROM = 1e-3  # "almost surely a bug"
MODES = ("full", "directional")


def verdict_for(difference: float) -> str:
    """``ok`` below 1e-7, ``check`` below 1e-3, ``bug`` from 1e-3 (NaN is a bug)."""
    if not math.isfinite(difference) or difference >= BUG_FROM:
        return "bug"
    return "ok" if difference < OK_BELOW else "check"


def _normalized(approx: torch.Tensor, exact: torch.Tensor) -> float:
    denom = float(approx.norm() + exact.norm())
    return float((approx - exact).norm()) / denom if denom > 0 else 0.0


@dataclass(frozen=True)
class ParameterCheck:
    """The check restricted to one parameter tensor (one layer's weights or biases)."""

    name: str
    shape: tuple[int, ...]
    difference: float
    verdict: str

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "shape": list(self.shape), "difference": self.difference,
                "verdict": self.verdict}


@dataclass(frozen=True)
class GradcheckResult:
    """Outcome of :func:`gradcheck`.

    Attributes
    ----------
    difference : float
        ||approx - grad||_2 / (||approx||_2 + ||grad||_2) over all parameters (full mode) or
        over the directional derivatives (directional mode).
    verdict : str
        ``ok`` (< 1e-7), ``check`` (< 1e-3) or ``bug`` (>= 1e-3).
    parameters : tuple of ParameterCheck
        The same comparison per parameter tensor: the layer that is off stands out.
    worst : str or None
        Name of the parameter tensor with the largest difference.
    """

    difference: float
    verdict: str
    mode: str
    eps: float
    n_parameters: int
    n_evaluations: int
    parameters: tuple[ParameterCheck, ...] = field(default_factory=tuple)
    worst: str | None = None
    seconds: float = 0.0
    two_sided: bool = True
    vectorized: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"difference": self.difference, "verdict": self.verdict, "mode": self.mode, "eps": self.eps,
                "two_sided": self.two_sided, "n_parameters": self.n_parameters,
                "n_evaluations": self.n_evaluations, "worst": self.worst, "seconds": self.seconds,
                "vectorized": self.vectorized, "parameters": [p.to_dict() for p in self.parameters]}


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


def gradcheck(model: nn.Module, loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], X: Any, y: Any, *,
              eps: float = 1e-7, mode: str = "full", l2: float = 0.0, l1: float = 0.0, directions: int = 4,
              two_sided: bool = True, seed: int = 0, vectorize: bool = True) -> GradcheckResult:
    """Compare backpropagation's gradient with finite differences of the cost.

    Parameters
    ----------
    model : torch.nn.Module
        Checked on a float64 deep copy in eval mode (dropout off); the model itself is untouched.
    loss_fn : callable
        ``loss_fn(output, y) -> scalar``, the data part of the cost.
    X : array-like of shape (n_samples, ...)
    y : array-like
        Targets; integer targets stay integer, floating ones become float64.
    eps : float, default=1e-7
        Perturbation size.
    mode : {"full", "directional"}, default="full"
        ``full``: every parameter (2n cost evaluations). ``directional``: ``directions`` random
        unit directions overall and per parameter tensor (O(1) in the number of parameters).
    l2, l1 : float, default=0.0
        Regularization included in J: (l2/2m) sum ||W||^2 + (l1/m) sum |W| over weights, m = len(X).
    directions : int, default=4
        Directional mode: random directions per comparison.
    two_sided : bool, default=True
        (J(+eps) - J(-eps)) / 2eps, error O(eps^2); False: (J(+eps) - J) / eps, error O(eps).
    seed : int, default=0
        Seeds the random directions.
    vectorize : bool, default=True
        Full mode: evaluate many perturbations per call with ``torch.func.vmap``; modules vmap
        cannot trace (e.g. custom autograd Functions) fall back to one evaluation at a time.

    Returns
    -------
    GradcheckResult
    """
    if mode not in MODES:
        raise ConfigError(f"gradcheck mode {mode!r} is not one of {', '.join(MODES)}")
    if not eps > 0:
        raise ConfigError(f"gradcheck eps = {eps!r} must be positive")
    started = time.perf_counter()
    before = torch.get_num_threads()
    if mode == "full":
        # thousands of tiny evaluations: thread synchronization costs more than it saves
        torch.set_num_threads(1)
    try:
        return _gradcheck(model, loss_fn, X, y, eps=eps, mode=mode, l2=l2, l1=l1, directions=directions,
                          two_sided=two_sided, seed=seed, vectorize=vectorize, started=started)
    finally:
        torch.set_num_threads(before)


def _gradcheck(model: nn.Module, loss_fn: Callable, X: Any, y: Any, *, eps: float, mode: str, l2: float,
               l1: float, directions: int, two_sided: bool, seed: int, vectorize: bool,
               started: float) -> GradcheckResult:
    net = copy.deepcopy(model).double().eval()
    for p in net.parameters():
        p.requires_grad_(True)
    X64 = torch.as_tensor(X).double()
    y_t = torch.as_tensor(y)
    y64 = y_t.double() if y_t.is_floating_point() else y_t
    m = X64.shape[0]
    names = [n for n, _ in net.named_parameters()]
    base = {n: p.detach() for n, p in net.named_parameters()}
    buffers = dict(net.named_buffers())

    def J(params: dict[str, torch.Tensor]) -> torch.Tensor:
        out = torch.func.functional_call(net, {**params, **buffers}, (X64,))
        return loss_fn(out, y64) + _functional_penalty(params, l2=l2, l1=l1, m=m)

    leaves = {n: t.clone().requires_grad_(True) for n, t in base.items()}
    grads = dict(zip(names, torch.autograd.grad(J(leaves), list(leaves.values()), allow_unused=True)))
    grads = {n: g if g is not None else torch.zeros_like(base[n]) for n, g in grads.items()}
    with torch.no_grad():
        J0 = None if two_sided else J(base)
        if mode == "full":
            fast: dict[str, torch.Tensor] = {}
            if vectorize:
                fast = _full_affine(net, X64, y64, loss_fn, base, eps, two_sided, J0, l2=l2, l1=l1, m=m)
            rest = [n for n in names if n not in fast]
            approx, evaluations, vectorized = _full(J, base, rest, eps, two_sided, J0, vectorize)
            approx.update(fast)
            evaluations += sum(fast[n].numel() for n in fast) * (2 if two_sided else 1)
            vectorized = vectorized and bool(fast or rest)
            per = [(n, _normalized(approx[n], grads[n])) for n in names]
            overall = _normalized(torch.cat([approx[n].flatten() for n in names]),
                                  torch.cat([grads[n].flatten() for n in names]))
        else:
            vectorized = False
            gen = torch.Generator().manual_seed(seed)
            overall, evaluations = _directional(J, base, grads, names, eps, two_sided, J0, directions, gen)
            per = []
            for n in names:
                d, e = _directional(J, base, grads, [n], eps, two_sided, J0, directions, gen)
                per.append((n, d))
                evaluations += e
    checks = tuple(ParameterCheck(n, tuple(base[n].shape), d, verdict_for(d)) for n, d in per)
    worst = max(checks, key=lambda c: c.difference if math.isfinite(c.difference) else math.inf).name \
        if checks else None
    return GradcheckResult(difference=overall, verdict=verdict_for(overall), mode=mode, eps=eps,
                           n_parameters=sum(t.numel() for t in base.values()), n_evaluations=evaluations,
                           parameters=checks, worst=worst, seconds=time.perf_counter() - started,
                           two_sided=two_sided, vectorized=vectorized)


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
        from mlstrat.nn._model import cross_entropy_cost

        if loss_fn is cross_entropy_cost:
            def batched_loss(out: torch.Tensor) -> torch.Tensor:  # (k, N, C) -> (k,), the same formula
                picked = out.gather(-1, y.expand(out.shape[0], -1).unsqueeze(-1)).squeeze(-1)  # (k, N)
                return (torch.logsumexp(out, dim=-1) - picked).mean(dim=-1)
        else:
            batched_loss = torch.func.vmap(lambda out: loss_fn(out, y))
        with torch.no_grad():
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

            def suffix(index: int, Z: torch.Tensor) -> torch.Tensor:  # (k, N, units) -> (k,)
                out = Z
                if index < len(net.hidden):
                    out = net.act(out)
                    for layer in net.hidden[index + 1:]:
                        out = net.act(layer(out))
                    out = net.head(out)
                return batched_loss(out)

            P = _functional_penalty(base, l2=l2, l1=l1, m=m)
            result: dict[str, torch.Tensor] = {}
            for index, (prefix, (A, Z)) in enumerate(zip(prefixes, cached)):
                for kind in ("weight", "bias"):
                    name = f"{prefix}.{kind}"
                    theta = base[name].reshape(-1)
                    n = theta.numel()
                    out = torch.empty(n, dtype=torch.float64)
                    chunk = int(max(1, min(n, 4_000_000 // max(Z.numel(), 1))))
                    for start in range(0, n, chunk):
                        idx = torch.arange(start, min(start + chunk, n))
                        k = idx.numel()
                        rows = idx // A.shape[1] if kind == "weight" else idx
                        values = []
                        last = index == len(layers) - 1
                        for sign in ((1.0, -1.0) if two_sided else (1.0,)):
                            step = sign * eps
                            shift = step * A[:, idx % A.shape[1]].T if kind == "weight" else step  # (k, N)
                            if last:
                                Zb = Z.expand(k, *Z.shape).clone()  # (k, N, classes)
                                Zb[torch.arange(k), :, rows] += shift
                                value = suffix(index, Zb)
                            else:
                                # only unit r of this layer moves: the next layer's input changes
                                # by (act(z_r + shift) - act(z_r)) along column r of its weights
                                zr = Z[:, rows].T  # (k, N)
                                dh = net.act(zr + shift) - net.act(zr)  # (k, N)
                                nxt = layers[index + 1]
                                Zn = cached[index + 1][1]  # (N, next units)
                                Zb = Zn + dh[:, :, None] * nxt.weight[:, rows].T[:, None, :]  # (k, N, next)
                                value = suffix(index + 1, Zb)
                            dP = 0.0
                            if kind == "weight":
                                w = theta[idx]
                                if l2:
                                    dP = dP + (l2 / (2.0 * m)) * ((w + step) ** 2 - w ** 2)
                                if l1:
                                    dP = dP + (l1 / m) * ((w + step).abs() - w.abs())
                            values.append(value + P + dP)
                        other = values[1] if two_sided else J0
                        out[start:start + k] = _difference_quotient(values[0], other, eps, two_sided)
                    result[name] = out.view_as(base[name])
            return result
    except Exception:  # a loss vmap cannot trace: the generic path handles everything
        return {}


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


def gradcheck_config(config: Any, *, rows: int = 64, mode: str = "auto", eps: float = 1e-7,
                     directions: int = 4, after_epochs: int = 0, max_full: int = 20_000,
                     con: Any = None) -> list[tuple[str, GradcheckResult]]:
    """Gradient-check the network a :class:`TrainConfig` describes, on ``rows`` train examples.

    Checks at the random initialization and, when ``after_epochs`` > 0, again after that many
    epochs of training (docs/method.md §6: some bugs only show once weights move away from zero).
    ``mode="auto"`` uses ``full`` up to ``max_full`` parameters, ``directional`` beyond.
    """
    import numpy as np

    from mlstrat.nn._data import load_dataset
    from mlstrat.nn._model import cross_entropy_cost, masked_bce_cost
    from mlstrat.nn._trainer import Fitter, build_network

    if not config.data.manifest:
        raise ConfigError("[data] manifest is not set")
    from mlstrat.nn._trainer import _resolve_loader

    if not config.multitask.tasks and _resolve_loader(config, con) == "stream":
        return _gradcheck_stream(config, rows=rows, mode=mode, eps=eps, directions=directions,
                                 after_epochs=after_epochs, max_full=max_full, con=con)
    ds = load_dataset(config.data.manifest, config.data, tasks=config.multitask.tasks, con=con)
    train_rows = np.flatnonzero(ds.mask("train"))
    n_outputs = len(ds.tasks) if ds.tasks else len(ds.classes)
    loss_fn = masked_bce_cost if ds.tasks else cross_entropy_cost
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.optim.seed)
        gen = torch.Generator().manual_seed(config.optim.seed)
        model, normalizer = build_network(config, ds.X.shape[1], n_outputs, ds.X[train_rows], gen)
        pick = np.random.default_rng(config.optim.seed).permutation(train_rows)[:rows]
        X = torch.from_numpy(normalizer(ds.X[pick]))
        y = torch.from_numpy(np.ascontiguousarray(ds.y[pick]))

        def fit(trained: Any) -> None:
            Xt = torch.from_numpy(normalizer(ds.X[train_rows]))
            yt = torch.from_numpy(np.ascontiguousarray(ds.y[train_rows]))
            Fitter(model, trained, Xt, yt, generator=gen).fit(progress=False)

        return _check_config_model(config, model, loss_fn, X, y, fit, mode=mode, eps=eps, directions=directions,
                                   after_epochs=after_epochs, max_full=max_full)


def _check_config_model(config: Any, model: nn.Module, loss_fn: Callable, X: torch.Tensor, y: torch.Tensor,
                        fit: Callable[[Any], None], *, mode: str, eps: float, directions: int,
                        after_epochs: int, max_full: int) -> list[tuple[str, GradcheckResult]]:
    n_params = sum(p.numel() for p in model.parameters())
    chosen = mode if mode != "auto" else ("full" if n_params <= max_full else "directional")
    r = config.regularization
    kwargs = dict(eps=eps, mode=chosen, l2=r.l2, l1=r.l1, directions=directions, seed=config.optim.seed)
    results = [("init", gradcheck(model, loss_fn, X, y, **kwargs))]
    if after_epochs:
        import dataclasses

        fit(dataclasses.replace(config, optim=dataclasses.replace(config.optim, epochs=after_epochs)))
        results.append((f"after {after_epochs} epoch(s)", gradcheck(model, loss_fn, X, y, **kwargs)))
    return results


def _gradcheck_stream(config: Any, *, rows: int, mode: str, eps: float, directions: int, after_epochs: int,
                      max_full: int, con: Any) -> list[tuple[str, GradcheckResult]]:
    """gradcheck_config for streamed data (image files, big manifests): the first ``rows`` train rows."""
    import numpy as np

    from mlstrat.nn._model import cross_entropy_cost
    from mlstrat.nn._stream import StreamSource, TrainStream
    from mlstrat.nn._trainer import StreamFitter, _build_network

    src = StreamSource.open(config.data.manifest, config.data, con=con)
    stats = src.scan()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.optim.seed)
        gen = torch.Generator().manual_seed(config.optim.seed)
        model, normalizer = _build_network(config, src.n_inputs, len(stats.classes), gen, lambda: stats.normalizer)
        columns = [config.data.label, *src.input_columns()]
        first = list(src.batches(columns, split="train", limit=rows))
        keys = np.concatenate([src.keys(b) for b in first])
        X = torch.from_numpy(normalizer(src.materialize(keys)))
        y = torch.from_numpy(np.concatenate([src.label_index(b, stats.classes) for b in first]))

        def fit(trained: Any) -> None:
            device = torch.device("cpu")
            stream = TrainStream(src, stats, normalizer, batch_size=trained.optim.batch_size or stats.m,
                                 device=device)
            StreamFitter(model, trained, stream, m=stats.m, n_dev=0, generator=gen,
                         device=device).fit(progress=False)

        return _check_config_model(config, model, cross_entropy_cost, X, y, fit, mode=mode, eps=eps,
                                   directions=directions, after_epochs=after_epochs, max_full=max_full)

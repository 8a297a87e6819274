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

from mlstrat.display._repr import NotebookRepr
from mlstrat._exceptions import ConfigError
from mlstrat.nn._differences import (
    _directional,
    _full,
    _full_affine,
    _functional_penalty,
    _normalized,
)

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
class GradcheckResult(NotebookRepr):
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
    from mlstrat.nn._fitter import Fitter
    from mlstrat.nn._model import cross_entropy_cost, masked_bce_cost
    from mlstrat.nn._setup import build_network

    if not config.data.manifest:
        raise ConfigError("[data] manifest is not set")
    from mlstrat.nn._train import _resolve_loader

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

    from mlstrat.nn._stream_fitter import StreamFitter
    from mlstrat.nn._model import cross_entropy_cost
    from mlstrat.nn._setup import _build_network
    from mlstrat.nn._stream import StreamSource, TrainStream

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

"""Setting up a training run: the device, CPU threads, the network (fresh or transferred),
the optimizer and the augmentation of train batches.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import math
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch
from torch import nn

from mlstrat._exceptions import ConfigError, InputError
from mlstrat.nn._checkpoint import load_checkpoint, network_from_checkpoint
from mlstrat.nn._config import TrainConfig
from mlstrat.nn._data import Dataset, Normalizer
from mlstrat.nn._model import (
    Architecture,
    Network,
    cross_entropy_cost,
    initialize,
    masked_bce_cost,
    weight_parameters,
)

__all__ = ["resolve_device", "auto_threads", "build_network", "make_optimizer", "eager_optimizer"]


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


def _measured_threads(config: TrainConfig, model: nn.Module, X: torch.Tensor, y: torch.Tensor,
                      multitask: bool, *, pinned: int = 0) -> tuple[int, str]:
    """Set torch's threads for the run (unless the config or the caller pins them):
    ``(count used, why)``, see :func:`mlstrat.nn._threads.choose_threads`."""
    from mlstrat.nn._threads import choose_threads

    if config.optim.threads:
        return config.optim.threads, "set in [optim] threads"
    if pinned:
        return pinned, "distributed: the batch x width rule, the same on every rank"
    b = min(config.optim.batch_size or X.shape[0], X.shape[0])
    steps = math.ceil(X.shape[0] / max(b, 1)) * config.optim.epochs
    loss = masked_bce_cost if multitask else cross_entropy_cost
    n, why = choose_threads(model, X[:b], y[:b], loss, steps=steps)
    torch.set_num_threads(n)
    return n, why


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
    if isinstance(o.lr, str):  # train() and lr_find() replace "find" by a number before this
        raise ConfigError(f'[optim] lr = "{o.lr}" is only resolved by `mlstrat train` (the learning-rate range '
                          "test runs first); give a number here, e.g. the one `mlstrat lr-find` suggests")
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
    sgd = eager_optimizer(torch.optim.SGD)
    rmsprop = eager_optimizer(torch.optim.RMSprop)
    adam = eager_optimizer(torch.optim.Adam)
    if o.optimizer == "gd":
        return sgd(groups, lr=o.lr, **kernel)
    if o.optimizer == "momentum":
        return sgd(groups, lr=o.lr, momentum=o.beta1, **kernel)
    if o.optimizer == "rmsprop":
        return rmsprop(groups, lr=o.lr, alpha=o.beta2, eps=o.epsilon, **kernel)
    return adam(groups, lr=o.lr, betas=(o.beta1, o.beta2), eps=o.epsilon, **kernel)


# The methods of torch.optim.Optimizer that torch wraps for torch.compile; each wrapper imports
# torch._dynamo on its first call, even in eager mode.
_COMPILE_WRAPPED = ("add_param_group", "zero_grad", "state_dict", "load_state_dict")


@functools.cache
def eager_optimizer(optimizer_class: type[torch.optim.Optimizer]) -> type[torch.optim.Optimizer]:
    """``optimizer_class`` without the torch.compile wrappers around its methods.

    Every torch.optim optimizer imports ``torch._dynamo`` when it is constructed (its
    ``add_param_group``) and in each ``step()`` (a graph break for the compiler), although
    nothing is compiled here: ~1.2 s of CPU per process (sympy and the FX symbolic-shape
    machinery; docs/benchmarks/train.md), a large share of a short training run. The subclass
    calls the very functions torch wraps (``inspect.unwrap``), so the update runs the same
    kernels with the same arguments and gives bit-identical weights; ``step`` keeps the wrapper's
    one other job, running under ``no_grad`` (``differentiable`` is never set here). It is still
    an instance of ``optimizer_class``: schedulers, ``state_dict`` and checkpoints are unchanged.
    Where a torch version wraps nothing, ``inspect.unwrap`` returns the method itself.
    """
    raw_step = inspect.unwrap(optimizer_class.step)

    def step(self: torch.optim.Optimizer, closure: Callable[[], Any] | None = None) -> Any:
        with torch.no_grad():
            return raw_step(self, closure)

    methods: dict[str, Any] = {name: inspect.unwrap(getattr(torch.optim.Optimizer, name))
                               for name in _COMPILE_WRAPPED}
    methods["step"] = step
    return type(optimizer_class.__name__, (optimizer_class,), methods)


def _kernel_options(optimizer: str, params: list[torch.Tensor]) -> dict[str, bool]:
    """fused (one kernel for the whole update) where torch has it for this optimizer and device
    (Adam and SGD on CPU and CUDA: +7-20% end to end, docs/benchmarks/train.md), else foreach (one
    multi-tensor kernel per step instead of a Python loop over tensors)."""
    device = params[0].device.type if params else "cpu"
    if optimizer != "rmsprop" and device in ("cpu", "cuda") and params and params[0].dtype != torch.float64:
        return {"fused": True}
    return {"foreach": True}


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

    augment.rng = rng  # type: ignore[attr-defined]  # its state goes into the epoch checkpoint
    return augment


def _target_tensor(ds: Dataset, rows: np.ndarray, device: torch.device) -> torch.Tensor:
    y = ds.y[rows]
    return torch.from_numpy(np.ascontiguousarray(y)).to(device)


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

    augment.rng = rng  # type: ignore[attr-defined]  # its state goes into the epoch checkpoint
    return augment

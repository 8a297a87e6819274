"""A DDP worker for tests/nn/test_distributed.py, started by torchrun with 2 processes.

Each rank trains (1) a float64 network through the Fitter, (2) the digits config through
``train()`` with the memory loader, (3) the DataLoader path and (4) the streaming loader, then writes what it saw to
``OUT/rank<r>.json`` (and its float64 weights to ``OUT/rank<r>.pt``). Every rank runs in its own
working directory ``OUT/cwd<r>`` with the default run directory, so files written by a rank
other than 0 would show up there.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np
import torch

from mlstrat.nn import (
    DataConfig,
    EarlyStoppingConfig,
    ModelConfig,
    MultitaskConfig,
    OptimConfig,
    TrainConfig,
    TransferConfig,
)

VARIANTS = ("classes", "multitask", "unfreeze", "weighted", "weighted_multitask")


def digits_config(manifest: Path, *, loader: str) -> TrainConfig:
    """Digits, a global batch of 75 (38 + 37 rows per rank), early stopping that fires; the
    DataLoader and streaming runs are weighted by the manifest's column ``w``."""
    return TrainConfig(
        data=DataConfig(manifest=str(manifest), feature_prefix="px_", loader=loader, chunk_size=100,
                        shuffle_buffer=300, weight_col=None if loader == "memory" else "w"),
        model=ModelConfig(hidden=(32,)),
        optim=OptimConfig(optimizer="adam", lr=0.05, batch_size=75, epochs=25, seed=1, device="cpu"),
        early_stopping=EarlyStoppingConfig(patience=2, restore_best=True),
    )


def float64_config(*, multitask: bool = False, unfreeze: bool = False) -> TrainConfig:
    # batch 45 does not divide by 2 ranks (23 + 22) and 203 train rows end with a batch of 23
    # (12 + 11); a wide net, a high learning rate and noisy labels make dev cost rise early
    return TrainConfig(model=ModelConfig(hidden=(64,)),
                       optim=OptimConfig(optimizer="adam", lr=0.05, batch_size=45, epochs=40, seed=3, device="cpu"),
                       early_stopping=EarlyStoppingConfig(patience=3, restore_best=True),
                       multitask=MultitaskConfig(tasks=("a", "b") if multitask else ()),
                       # two-stage fine-tuning: the first layer frozen for 2 epochs (the Fitter never
                       # reads init_from; train() would load the source from it)
                       transfer=TransferConfig(init_from="source", freeze=1, unfreeze_after=2) if unfreeze
                       else TransferConfig())


def float64_weights() -> torch.Tensor:
    """Importance weights of the 203 train rows: spread over [0, 3), a tenth of them 0."""
    rng = np.random.default_rng(11)
    w = rng.uniform(0.0, 3.0, 203)
    w[rng.random(203) < 0.1] = 0.0
    return torch.from_numpy(w)


def float64_data(*, multitask: bool = False) -> tuple[torch.Tensor, ...]:
    rng = np.random.default_rng(7)
    X = rng.normal(size=(264, 10))
    y = (X[:, 0] + 0.5 * X[:, 1] + rng.normal(scale=1.0, size=264) > 0).astype(np.int64)
    y = np.where(rng.random(264) < 0.3, 2, y)  # a third class of noise
    if multitask:  # two binary tasks, a third of the labels missing (unevenly across ranks)
        y = np.stack([(y == 1), (y == 2)], axis=1).astype(np.float64)
        y[rng.random(y.shape) < 0.33] = np.nan
    t = torch.from_numpy
    return t(X[:203]), t(y[:203]), t(X[203:]), t(y[203:])


def fit_float64(dist: object = None, *, variant: str = "classes") -> tuple[dict, dict]:
    """(history, state_dict) of the float64 network, on one process (``dist=None``) or a rank;
    ``variant``: classes, multitask, unfreeze (classes with two-stage fine-tuning), weighted or
    weighted_multitask (importance weights of the train rows)."""
    from mlstrat.nn._model import Architecture, Network, initialize
    from mlstrat.nn._fitter import Fitter

    multitask = variant in ("multitask", "weighted_multitask")
    weights = float64_weights() if variant.startswith("weighted") else None
    config = float64_config(multitask=multitask, unfreeze=variant == "unfreeze")
    X, y, Xd, yd = float64_data(multitask=multitask)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.optim.seed)
        generator = torch.Generator().manual_seed(config.optim.seed)
        arch = Architecture(kind="mlp", n_inputs=10, hidden=(64,), n_outputs=2 if multitask else 3,
                            activation="relu", image_shape=None, channels=())
        model = Network(arch, config.regularization.keep_probs(1))
        initialize([*model.body_layers(), model.head], "he", generator)
        model.double()
        if variant == "unfreeze":
            model.body_layers()[0].requires_grad_(False)
        history = Fitter(model, config, X, y, Xd, yd, generator=generator, dist=dist,
                         w_train=weights).fit(progress=False)
    return history, model.state_dict()


def main(out: Path, manifest: Path) -> None:
    import torch.distributed as tdist

    from mlstrat.nn import train
    from mlstrat.nn._distributed import distributed

    rank = int(os.environ["RANK"])
    cwd = out / f"cwd{rank}"
    cwd.mkdir(parents=True)
    os.chdir(cwd)
    seen: dict[str, object] = {}
    with distributed(torch.device("cpu")) as dist:
        for variant in VARIANTS:
            history, state = fit_float64(dist, variant=variant)
            torch.save(state, out / f"rank{rank}-{variant}.pt")
            seen[variant] = history
        seen["world"] = dist.world
        memory = train(digits_config(manifest, loader="memory"), progress=False)
        seen["memory"] = {"history": memory.history, "processes": memory.processes}
        loader = train(digits_config(manifest, loader="dataloader"), progress=False)
        seen["dataloader"] = {"history": loader.history}
        stream = train(digits_config(manifest, loader="stream"), progress=False)
        seen["stream"] = {"history": stream.history, "metrics": stream.metrics}
        seen["group_kept"] = tdist.is_initialized()  # train() leaves a caller's group alone
    (out / f"rank{rank}.json").write_text(json.dumps(seen))


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))

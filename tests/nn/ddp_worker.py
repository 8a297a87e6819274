"""A DDP worker for tests/nn/test_distributed.py, started by torchrun with 2 processes.

Each rank trains (1) a float64 network through the Fitter, (2) the digits config through
``train()`` with the memory loader and (3) with the streaming loader, then writes what it saw to
``OUT/rank<r>.json`` (and its float64 weights to ``OUT/rank<r>.pt``). Every rank runs in its own
working directory ``OUT/cwd<r>`` with the default run directory, so files written by a rank
other than 0 would show up there.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from pathlib import Path

import numpy as np
import torch

from mlstrat.nn import EarlyStoppingConfig, ModelConfig, OptimConfig, TrainConfig


def float64_config() -> TrainConfig:
    # batch 45 does not divide by 2 ranks (23 + 22) and 203 train rows end with a batch of 23
    # (12 + 11); a wide net, a high learning rate and noisy labels make dev cost rise early
    return TrainConfig(model=ModelConfig(hidden=(64,)),
                       optim=OptimConfig(optimizer="adam", lr=0.05, batch_size=45, epochs=40, seed=3, device="cpu"),
                       early_stopping=EarlyStoppingConfig(patience=3, restore_best=True))


def float64_data() -> tuple[torch.Tensor, ...]:
    rng = np.random.default_rng(7)
    X = rng.normal(size=(264, 10))
    y = (X[:, 0] + 0.5 * X[:, 1] + rng.normal(scale=1.0, size=264) > 0).astype(np.int64)
    y = np.where(rng.random(264) < 0.3, 2, y)  # a third class of noise
    t = torch.from_numpy
    return t(X[:203]), t(y[:203]), t(X[203:]), t(y[203:])


def fit_float64(dist: object = None) -> tuple[dict, dict]:
    """(history, state_dict) of the float64 network, on one process (``dist=None``) or a rank."""
    from mlstrat.nn._model import Architecture, Network, initialize
    from mlstrat.nn._trainer import Fitter

    config = float64_config()
    X, y, Xd, yd = float64_data()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.optim.seed)
        generator = torch.Generator().manual_seed(config.optim.seed)
        arch = Architecture(kind="mlp", n_inputs=10, hidden=(64,), n_outputs=3, activation="relu",
                            image_shape=None, channels=())
        model = Network(arch, config.regularization.keep_probs(1))
        initialize([*model.body_layers(), model.head], "he", generator)
        model.double()
        history = Fitter(model, config, X, y, Xd, yd, generator=generator, dist=dist).fit(progress=False)
    return history, model.state_dict()


def main(out: Path, manifest: Path) -> None:
    import torch.distributed as tdist

    from mlstrat.nn import train
    from mlstrat.nn._distributed import distributed
    from tests.nn.test_distributed import digits_config

    rank = int(os.environ["RANK"])
    cwd = out / f"cwd{rank}"
    cwd.mkdir(parents=True)
    os.chdir(cwd)
    seen: dict[str, object] = {}
    with distributed(torch.device("cpu")) as dist:
        history, state = fit_float64(dist)
        torch.save(state, out / f"rank{rank}.pt")
        seen["float64"] = history
        seen["world"] = dist.world
        memory = train(digits_config(manifest, loader="memory"), progress=False)
        seen["memory"] = {"history": memory.history, "processes": memory.processes}
        stream = train(digits_config(manifest, loader="stream"), progress=False)
        seen["stream"] = {"history": stream.history, "metrics": stream.metrics}
        seen["group_kept"] = tdist.is_initialized()  # train() leaves a caller's group alone
    (out / f"rank{rank}.json").write_text(json.dumps(seen))


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))

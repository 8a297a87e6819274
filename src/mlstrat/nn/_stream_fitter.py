"""The epoch loop over a stream of record batches: :class:`Fitter` whose train rows come from the
engine through a shuffle buffer, for data that does not fit in memory."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch

from mlstrat.nn._config import TrainConfig
from mlstrat.nn._distributed import Dist
from mlstrat.nn._fitter import Fitter
from mlstrat.nn._model import Network, cross_entropy_cost

__all__ = ["StreamFitter"]


class StreamFitter(Fitter):
    """:class:`Fitter` over a :class:`~mlstrat.nn._stream.TrainStream`: the train rows come from the
    engine in record batches through a shuffle buffer, dev is evaluated by streaming its rows."""

    def __init__(self, model: Network, config: TrainConfig, stream: Any, *, m: int, n_dev: int,
                 generator: torch.Generator, device: torch.device, dist: Dist | None = None,
                 n_train_dev: int = 0) -> None:
        self.model, self.config = model, config
        self.X_train = self.y_train = self.X_dev = self.y_dev = self.train_dev = None
        self.m, self.n_dev, self.n_train_dev = m, n_dev, n_train_dev
        self.multitask = False
        self.loss_fn = cross_entropy_cost
        self.generator, self.augment, self.loader = generator, None, "stream"
        self.batch_size = config.optim.batch_size or m
        self.l1 = config.regularization.l1
        self.device = device
        self.stream = stream
        self.w_train = None
        self.weighted = stream.weighted
        self._distribute(dist)
        self._setup_optimization()

    def _batches(self) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]]:
        seed = int(torch.randint(2**62, (1,), generator=self.generator))
        shards = self.stream.shards
        for step, batch in enumerate(self.stream.epoch(seed)):
            if shards is not None:  # DDP: the global batch of this step, from the shared schedule
                self.step_rows = shards.global_rows(step)
            yield batch

    def _has_dev(self) -> bool:
        return self.n_dev > 0

    def _augment_rng(self) -> Any:
        return getattr(self.stream.augment, "rng", None)

    def _dev_cost(self) -> tuple[float, float]:
        return self._streamed_cost("dev")

    def _train_dev_cost(self) -> tuple[float | None, float | None]:
        return self._streamed_cost("train_dev") if self.n_train_dev else (None, None)

    def _streamed_cost(self, split: str) -> tuple[float, float]:
        """(cost, error) of a held-out split, its rows streamed from the engine."""
        from mlstrat.nn._stream import eval_chunks

        s = self.stream
        self.model.eval()
        total, wrong, counted = 0.0, 0, 0
        with torch.no_grad():
            for _, X, y in eval_chunks(s.src, s.stats, s.normalizer, split=split, shards=s.shards):
                xb, yb = torch.from_numpy(X).to(self.device), torch.from_numpy(y).to(self.device)
                logits = self.model(xb)
                total += float(self.loss_fn(logits, yb)) * xb.shape[0]
                wrong += int((logits.argmax(dim=1) != yb).sum())
                counted += xb.shape[0]
        if self.dist is not None:  # each rank evaluated its blocks of the split
            total, wrong, counted = self.dist.total([total, wrong, counted])
        return total / max(counted, 1), wrong / max(counted, 1)

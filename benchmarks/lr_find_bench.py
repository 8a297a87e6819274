"""The learning-rate range test against a grid of short trainings.

For each dataset and optimizer: `lr_find`'s suggestion (200 steps, 1e-7 .. 10), then 5-epoch
trainings at a half-decade grid of learning rates (two seeds). The grid's fastest learning rate
is the one with the lowest train cost after 5 epochs (the mean over seeds); the suggestion should
fall within one grid step of it (a factor sqrt(10) either way: the grid's resolution).
Datasets: the bundled digits (64 pixels, 10 classes) and scikit-learn's breast-cancer table
(30 features, 2 classes; shipped with scikit-learn, nothing downloaded).

Run: flock /tmp/mlstrat-bench.lock python benchmarks/lr_find_bench.py
"""

from __future__ import annotations

import json
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from mlstrat.nn import DataConfig, ModelConfig, OptimConfig, TrainConfig, lr_find, train

GRID = [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1, 1.0, 3.0]
EPOCHS = 5
SEEDS = (0, 1)


def _with_split(table: pa.Table, seed: int = 0) -> pa.Table:
    u = np.random.default_rng(seed).random(table.num_rows)
    split = np.where(u < 0.6, "train", np.where(u < 0.7, "train_dev", np.where(u < 0.85, "dev", "test")))
    return table.append_column("split", pa.array(split))


def digits(root: Path) -> DataConfig:
    from mlstrat.scenarios import build_digits_manifest

    pq.write_table(_with_split(build_digits_manifest()), root / "digits.parquet")
    return DataConfig(manifest=str(root / "digits.parquet"), feature_prefix="px_", image_shape=(1, 8, 8))


def breast_cancer(root: Path) -> DataConfig:
    from sklearn.datasets import load_breast_cancer

    X, y = load_breast_cancer(return_X_y=True)
    columns = {"id": pa.array(np.arange(len(y))), "label": pa.array(y)}
    columns.update({f"f_{j}": pa.array(X[:, j]) for j in range(X.shape[1])})
    pq.write_table(_with_split(pa.table(columns)), root / "cancer.parquet")
    return DataConfig(manifest=str(root / "cancer.parquet"), feature_prefix="f_")


def train_cost(data: DataConfig, optimizer: str, lr: float, root: Path) -> float:
    """The last epoch's train cost, averaged over the seeds (inf when a run diverged)."""
    costs = []
    for seed in SEEDS:
        config = TrainConfig(data=data, model=ModelConfig(hidden=(32,)),
                             optim=OptimConfig(optimizer=optimizer, lr=lr, epochs=EPOCHS, batch_size=64, seed=seed))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = train(config, run_dir=root / "run", progress=False, store=False, force=True)
        cost = result.history["epochs"][-1]["train_cost"]
        costs.append(float(cost) if result.history.get("diverged") is None and np.isfinite(cost) else float("inf"))
    return float(np.mean(costs))


def case(name: str, data: DataConfig, optimizer: str, root: Path) -> dict:
    config = TrainConfig(data=data, model=ModelConfig(hidden=(32,)),
                         optim=OptimConfig(optimizer=optimizer, batch_size=64))
    found = lr_find(config)
    costs = {lr: train_cost(data, optimizer, lr, root) for lr in GRID}
    fastest = min(costs, key=costs.get)
    step = 10 ** 0.5
    inside = fastest / step <= found.suggestion <= fastest * step
    return {"dataset": name, "optimizer": optimizer, "suggestion": found.suggestion, "min_lr": found.min_lr,
            "fastest": fastest, "range": [round(fastest / step, 4), round(fastest * step, 4)], "inside": inside,
            "train_cost_after_5_epochs": {f"{lr:g}": round(c, 4) for lr, c in costs.items()}}


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        cases = [("digits", digits(root), "adam"), ("digits", digits(root), "gd"),
                 ("breast_cancer", breast_cancer(root), "adam")]
        results = [case(name, data, optimizer, root) for name, data, optimizer in cases]
    for r in results:
        print(json.dumps(r))
    return 0 if all(r["inside"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())

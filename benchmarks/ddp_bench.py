"""Distributed training on CPU: samples/s of 1 process vs 2 DDP processes (gloo, torchrun).

The training loop alone (``Fitter.fit``: forward, backward, gradient all-reduce, Adam, the
per-epoch dev evaluation), timed on rank 0 between two barriers, on synthetic data: 100 000 rows
x 64 features, 10 classes, 2% dev; an MLP 64 -> 256 -> 256 -> 10, ReLU, Adam (lr 1e-3), 2
epochs, for two global batch sizes. Peers, each in a fresh process, interleaved for
``--rounds`` rounds:

- ``1 proc x 1 thread``: one process, no DDP, one torch thread (the trainer's choice for small
  batches);
- ``1 proc x 2 threads`` (``--threads2``, off by default): the other way to use both cores; on
  a shared 2-core VM two OpenMP threads on small matmuls are pathologically slow (see
  docs/benchmarks/train.md), so it is left out unless asked for;
- ``DDP 2 procs x 1 thread``: ``torch.distributed.run --standalone --nproc-per-node 2``, each
  rank on half of every global batch.

``--end-to-end`` adds one round of ``mlstrat train CONFIG`` vs ``mlstrat train CONFIG --nproc
2`` on the same rows written as Parquet (launch, imports, reading, training, predicting all rows,
writing the run directory).

Run: flock /tmp/mlstrat-bench.lock python benchmarks/ddp_bench.py --rounds 3 --end-to-end
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ROWS, FEATURES, CLASSES, HIDDEN, EPOCHS = 100_000, 64, 10, (256, 256), 2


def make_data():
    import numpy as np

    rng = np.random.default_rng(0)
    X = rng.normal(size=(ROWS, FEATURES)).astype(np.float32)
    W = rng.normal(size=(FEATURES, CLASSES)).astype(np.float32)
    y = (X @ W + rng.gumbel(size=(ROWS, CLASSES))).argmax(axis=1)
    dev = rng.random(ROWS) < 0.02
    return X, y, dev


def worker(batch: int, threads: int, out: Path) -> None:
    """One rank (or the single process): train, time the loop, rank 0 writes samples/s."""
    import torch

    from mlstrat.nn import EarlyStoppingConfig, ModelConfig, OptimConfig, TrainConfig
    from mlstrat.nn._distributed import distributed
    from mlstrat.nn._fitter import Fitter
    from mlstrat.nn._model import Architecture, Network, initialize

    torch.set_num_threads(threads)
    X, y, dev = make_data()
    config = TrainConfig(model=ModelConfig(hidden=HIDDEN),
                         optim=OptimConfig(optimizer="adam", lr=1e-3, batch_size=batch, epochs=EPOCHS, device="cpu"),
                         early_stopping=EarlyStoppingConfig(patience=0, restore_best=False))
    with distributed(torch.device("cpu")) as dist:
        generator = torch.Generator().manual_seed(0)
        arch = Architecture(kind="mlp", n_inputs=FEATURES, hidden=HIDDEN, n_outputs=CLASSES, activation="relu",
                            image_shape=None, channels=())
        model = Network(arch, config.regularization.keep_probs(len(HIDDEN)))
        initialize([*model.body_layers(), model.head], "he", generator)
        t = torch.from_numpy
        fitter = Fitter(model, config, t(X[~dev]), t(y[~dev]), t(X[dev]), t(y[dev]), generator=generator, dist=dist)
        if dist is not None:
            torch.distributed.barrier()
        start = time.perf_counter()
        history = fitter.fit(progress=False)
        if dist is not None:
            torch.distributed.barrier()
        seconds = time.perf_counter() - start
        if dist is None or dist.is_main:
            m = int((~dev).sum())
            out.write_text(json.dumps({"samples_per_s": EPOCHS * m / seconds, "seconds": seconds,
                                       "dev_error": history["epochs"][-1]["dev_error"],
                                       "processes": 1 if dist is None else dist.world}))


def _env(threads: int) -> dict[str, str]:
    env = dict(os.environ, OMP_NUM_THREADS=str(threads),
               PYTHONPATH=os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]))
    for key in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        env.pop(key, None)
    return env


def run_peer(name: str, batch: int, tmp: Path) -> dict:
    out = tmp / f"{name.replace(' ', '_')}-{batch}.json"
    threads = 2 if "2 threads" in name else 1
    script = [str(Path(__file__).resolve()), "--worker", str(batch), str(threads), str(out)]
    if name.startswith("DDP"):
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", *script]
    else:
        cmd = [sys.executable, *script]
    subprocess.run(cmd, check=True, env=_env(threads))
    return json.loads(out.read_text())


def end_to_end(tmp: Path) -> dict[str, float]:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    X, y, dev = make_data()
    cols = {"id": np.arange(ROWS), **{f"f{j}": X[:, j] for j in range(FEATURES)}, "label": y,
            "split": np.where(dev, "dev", "train")}
    pq.write_table(pa.table(cols), tmp / "data.parquet")
    (tmp / "ddp.toml").write_text(
        f'[data]\nmanifest = "data.parquet"\nfeature_prefix = "f"\nloader = "memory"\n'
        f"[model]\nhidden = {list(HIDDEN)}\n[optim]\nbatch_size = 1024\nepochs = {EPOCHS}\nlr = 0.001\n"
        'device = "cpu"\n[early_stopping]\npatience = 0\n')
    seconds = {}
    for nproc in (1, 2):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "mlstrat", "train", "ddp.toml", "-o", f"run{nproc}", "--no-record",
                        "--json", "--nproc", str(nproc)], check=True, cwd=tmp, env=_env(1), stdout=subprocess.DEVNULL)
        seconds[f"nproc {nproc}"] = time.perf_counter() - start
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batches", type=int, nargs="+", default=[128, 1024])
    parser.add_argument("--end-to-end", action="store_true")
    parser.add_argument("--threads2", action="store_true", help="add the 1 process x 2 threads peer")
    args = parser.parse_args()
    peers = ["1 proc x 1 thread", *(["1 proc x 2 threads"] if args.threads2 else []), "DDP 2 procs x 1 thread"]
    results: dict[str, dict[str, list[float]]] = {}
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        for r in range(args.rounds):
            for batch in args.batches:
                for name in peers:
                    res = run_peer(name, batch, tmp)
                    results.setdefault(f"batch {batch}", {}).setdefault(name, []).append(res["samples_per_s"])
                    print(f"round {r + 1} batch {batch:5d} {name:24s} {res['samples_per_s']:10.0f} samples/s "
                          f"({res['seconds']:.1f} s, dev error {res['dev_error']:.3f})", flush=True)
        if args.end_to_end:
            for name, s in end_to_end(tmp).items():
                print(f"end to end `mlstrat train --{name}`: {s:.1f} s", flush=True)
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker(int(sys.argv[2]), int(sys.argv[3]), Path(sys.argv[4]))
    else:
        main()

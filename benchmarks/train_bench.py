"""Training throughput: `mlstrat train` vs scikit-learn MLPClassifier vs a bare torch loop.

Digits tiled to ~100k rows (1 797 x 56 = 100 632; 98% train, 2% dev). The same MLP everywhere:
64 -> 128 -> 64 -> 10, ReLU, Adam (lr 1e-3, betas 0.9/0.999), batch 128, 3 epochs, L2 with
lambda = 1 on the weights. scikit-learn's alpha is per mini-batch (alpha/batch * W in the gradient)
where mlstrat's lambda is per train set (lambda/m * W), so alpha = lambda * batch / m gives the
same step. Samples/s = epochs x train rows / wall seconds. One run each, interleaved
(sklearn with its default BLAS threads, sklearn capped at 1 BLAS thread, bare, mlstrat,
mlstrat with the DataLoader path), for `--rounds` rounds.

mlstrat is timed end to end (read the Parquet manifest, normalize, train, predict every row,
write the run directory) and, separately, its training loop alone (Fitter.fit).
The bare loop and sklearn get in-memory arrays (no file reading, no predictions written).

Run: flock /tmp/mlstrat-bench.lock python benchmarks/train_bench.py --batches 128,512,2048

With ``--batches`` the tools run interleaved per round and batch size; mlstrat chooses its threads
by measurement and the bare loop then runs with the same count. Each row adds the physical
limit: FLOPs per sample (6 x weights: forward 2, backward 4 multiply-adds per weight) times
samples/s, against the cores' fp32 peak (AVX2 with two FMA pipes: 32 FLOP per cycle per core).

`--fresh` is the end-to-end comparison a user sees: every tool in its own fresh interpreter
(imports, reading the Parquet file, training; mlstrat also predicts every row, writes its run
directory and records the run), interleaved per round and batch size, timed by the CPU the
child used (user + sys from ``getrusage(RUSAGE_CHILDREN)``: on a shared machine the figure to
trust) and by wall time, with the load average beside each run. ``--before SRC`` adds another
source tree's mlstrat (e.g. the main branch) to the same rounds:
flock /tmp/mlstrat-bench.lock python benchmarks/train_bench.py --fresh --batches 128,512 --rounds 3

`--stream` compares instead the memory and streaming loaders of `mlstrat train` end to end,
each run in a fresh process so that its peak RSS is its own (interleaved, `--rounds` rounds):
flock /tmp/mlstrat-bench.lock python benchmarks/train_bench.py --stream --tiles 560 --epochs 1
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

import numpy as np

DATA = Path(__file__).parent / "data"
HIDDEN, BATCH, EPOCHS, LR, L2 = (128, 64), 128, 3, 1e-3, 1.0


def make_data(tiles: int) -> tuple[Path, np.ndarray, np.ndarray, np.ndarray]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from mlstrat.scenarios import build_digits_manifest

    base = build_digits_manifest()
    table = pa.concat_tables([base] * tiles)
    n = table.num_rows
    table = table.set_column(0, "id", pa.array([f"r{i}" for i in range(n)]))
    split = np.where(np.random.default_rng(0).random(n) < 0.98, "train", "dev")
    table = table.append_column("split", pa.array(split))
    DATA.mkdir(exist_ok=True)
    path = DATA / "digits_tiled.parquet"
    pq.write_table(table, path)
    X = np.stack([table[f"px_{j}"].to_numpy() for j in range(64)], axis=1).astype(np.float32)
    y = table["label"].to_numpy()
    return path, X, y, split == "train"


def run_sklearn(X, y, train, threads: int | None = None) -> dict:
    """``threads``: cap the BLAS threads (threadpoolctl); None = the library default."""
    from sklearn.neural_network import MLPClassifier
    from threadpoolctl import threadpool_limits

    Xt, yt = X[train], y[train]
    mu, sd = Xt.mean(0), Xt.std(0) + 1e-8
    clf = MLPClassifier(hidden_layer_sizes=HIDDEN, solver="adam", learning_rate_init=LR, batch_size=BATCH,
                        alpha=L2 * BATCH / len(yt), max_iter=EPOCHS, tol=0.0, n_iter_no_change=10**6,
                        shuffle=True, random_state=0)
    import warnings

    started = time.perf_counter()
    with warnings.catch_warnings(), threadpool_limits(limits=threads):
        warnings.simplefilter("ignore")  # ConvergenceWarning after max_iter epochs
        clf.fit((Xt - mu) / sd, yt)
    seconds = time.perf_counter() - started
    dev_error = float((clf.predict((X[~train] - mu) / sd) != y[~train]).mean())
    return {"seconds": seconds, "samples_per_s": EPOCHS * len(yt) / seconds, "dev_error": dev_error}


def run_bare(X, y, train, threads: int) -> dict:
    import torch

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    Xt = torch.from_numpy(X[train])
    mu, sd = Xt.mean(0), Xt.std(0) + 1e-8
    Xt = (Xt - mu) / sd
    yt = torch.from_numpy(y[train])
    m = len(yt)
    net = torch.nn.Sequential(torch.nn.Linear(64, HIDDEN[0]), torch.nn.ReLU(), torch.nn.Linear(HIDDEN[0], HIDDEN[1]),
                              torch.nn.ReLU(), torch.nn.Linear(HIDDEN[1], 10))
    weights = [p for n, p in net.named_parameters() if n.endswith("weight")]
    biases = [p for n, p in net.named_parameters() if n.endswith("bias")]
    opt = torch.optim.Adam([{"params": weights, "weight_decay": L2 / m}, {"params": biases}], lr=LR)
    started = time.perf_counter()
    for _ in range(EPOCHS):
        perm = torch.randperm(m)
        for i in range(0, m, BATCH):
            idx = perm[i:i + BATCH]
            loss = torch.nn.functional.cross_entropy(net(Xt[idx]), yt[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    seconds = time.perf_counter() - started
    with torch.no_grad():
        dev = (torch.from_numpy(X[~train]) - mu) / sd
        dev_error = float((net(dev).argmax(1) != torch.from_numpy(y[~train])).float().mean())
    return {"seconds": seconds, "samples_per_s": EPOCHS * m / seconds, "dev_error": dev_error,
            "threads": threads}


def flops_per_sample() -> int:
    """Training FLOPs per example for the benchmark MLP: 2 (forward) + 4 (backward) per weight."""
    sizes = (64, *HIDDEN, 10)
    return 6 * sum(a * b for a, b in zip(sizes, sizes[1:]))


def peak_flops() -> float:
    """fp32 peak of the cores torch may use: cores x GHz x 32 (AVX2, two 256-bit FMA pipes)."""
    import os

    mhz = 0.0
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("cpu MHz"):
                mhz = float(line.split(":")[1])
                break
    return (os.cpu_count() or 1) * mhz * 1e6 * 32


DEVICE = "cpu"
PRECISION = "32"  # [optim] precision of the mlstrat runs (--precision)


def run_mlstrat(path: Path, loader: str) -> dict:
    from mlstrat.nn import DataConfig, ModelConfig, OptimConfig, RegularizationConfig, TrainConfig, train
    from mlstrat.nn import _fitter

    fit_seconds = []
    original = _fitter.Fitter.fit

    def timed(self, **kwargs):
        started = time.perf_counter()
        try:
            return original(self, **kwargs)
        finally:
            fit_seconds.append(time.perf_counter() - started)

    _fitter.Fitter.fit = timed
    config = TrainConfig(data=DataConfig(manifest=str(path), feature_prefix="px_", loader=loader),
                         model=ModelConfig(hidden=HIDDEN), regularization=RegularizationConfig(l2=L2),
                         optim=OptimConfig(lr=LR, batch_size=BATCH, epochs=EPOCHS, device=DEVICE,
                                           precision=PRECISION))
    run_dir = DATA / f"run-{loader}"
    shutil.rmtree(run_dir, ignore_errors=True)
    try:
        started = time.perf_counter()
        result = train(config, run_dir=run_dir, progress=False)
        seconds = time.perf_counter() - started
    finally:
        _fitter.Fitter.fit = original
    m = result.metrics["train"]["n"]
    return {"seconds": seconds, "samples_per_s": EPOCHS * m / seconds, "fit_seconds": fit_seconds[0],
            "fit_samples_per_s": EPOCHS * m / fit_seconds[0], "dev_error": result.metrics["dev"]["error"],
            "loader": loader, "threads": result.history.get("threads"), "device": result.device}


def batches_table(path: Path, X, y, train, batches: list[int], rounds: int) -> None:
    """sklearn (default BLAS threads and 1 thread), mlstrat end to end and its loop, the bare loop,
    interleaved per round and batch size; a JSON line each, then the medians with the
    hardware fraction."""
    global BATCH
    flops, peak = flops_per_sample(), peak_flops()
    print(json.dumps({"flops_per_sample": flops, "peak_gflops": round(peak / 1e9, 1)}), flush=True)
    results = []
    for r in range(rounds):
        for batch in batches:
            BATCH = batch
            ml = run_mlstrat(path, "memory")
            runs = {"mlstrat": ml, "bare_torch": run_bare(X, y, train, ml["threads"] or 1),
                    "sklearn": run_sklearn(X, y, train), "sklearn_1thread": run_sklearn(X, y, train, threads=1)}
            for tool, out in runs.items():
                row = {"round": r + 1, "batch": batch, "tool": tool, **out,
                       "pct_of_peak": 100 * out["samples_per_s"] * flops / peak}
                results.append(row)
                print(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()}), flush=True)
    for batch in batches:
        med = {t: float(np.median([x["samples_per_s"] for x in results if x["tool"] == t and x["batch"] == batch]))
               for t in ("mlstrat", "bare_torch", "sklearn", "sklearn_1thread")}
        loop = float(np.median([x["fit_samples_per_s"] for x in results if x["tool"] == "mlstrat" and x["batch"] == batch]))
        print(json.dumps({"batch": batch, **{k: round(v) for k, v in med.items()}, "mlstrat_loop": round(loop),
                          "vs_sklearn_best": round(med["mlstrat"] / max(med["sklearn"], med["sklearn_1thread"]), 2),
                          "vs_bare": round(med["mlstrat"] / med["bare_torch"], 2),
                          "loop_vs_bare": round(loop / med["bare_torch"], 2),
                          "mlstrat_pct_of_peak": round(100 * med["mlstrat"] * flops / peak, 2)}), flush=True)
    shutil.rmtree(DATA / "run-memory", ignore_errors=True)


def run_loader_in_fresh_process(path: Path, loader: str) -> dict:
    """One `run_mlstrat` in a new interpreter; adds its peak RSS (MiB, ru_maxrss of the child)."""
    import resource
    import subprocess
    import sys

    code = (f"import json, sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); import train_bench as b; "
            f"b.BATCH, b.EPOCHS = {BATCH}, {EPOCHS}; "
            f"print(json.dumps(b.run_mlstrat(b.Path({str(path)!r}), {loader!r})))")
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    result = json.loads(out.stdout.strip().splitlines()[-1])
    # ru_maxrss of RUSAGE_CHILDREN is the largest child so far: only exact when it grew
    result["peak_rss_mib"] = round(peak / 1024) if peak > before else f"<= {round(before / 1024)}"
    return result


def stream_vs_memory(path: Path, rounds: int) -> None:
    for r in range(rounds):
        for loader in ("stream", "memory"):  # the smaller one first, so ru_maxrss stays exact
            out = {"round": r + 1, "loader": loader, **run_loader_in_fresh_process(path, loader)}
            print(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in out.items()}), flush=True)
    for loader in ("stream", "memory"):
        shutil.rmtree(DATA / f"run-{loader}", ignore_errors=True)


def read_arrays(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """What a peer script reads from the benchmark's Parquet file: features, labels, train mask."""
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    X = np.stack([table[f"px_{j}"].to_numpy() for j in range(64)], axis=1).astype(np.float32)
    return X, table["label"].to_numpy(), table["split"].to_numpy(zero_copy_only=False) == "train"


def child(tool: str, path: Path) -> dict:
    """One tool, end to end, in this (fresh) interpreter."""
    if tool.startswith("mlstrat"):
        return run_mlstrat(path, "memory")
    X, y, train = read_arrays(path)
    if tool == "bare_torch":
        return run_bare(X, y, train, 1)
    return run_sklearn(X, y, train, threads=1)


def run_fresh(tool: str, path: Path, *, src: str | None) -> dict:
    """``child(tool)`` in a new interpreter; its CPU seconds (user + sys) and wall seconds."""
    import os
    import resource
    import subprocess
    import sys
    import tempfile

    env = dict(os.environ)
    if src is not None:
        env["PYTHONPATH"] = src
    load = os.getloadavg()[0]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as cwd:  # the run store of a recording run starts empty
        out = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", tool, "--batch", str(BATCH),
                              "--epochs", str(EPOCHS), "--path", str(path)], capture_output=True, text=True,
                             env=env, cwd=cwd)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if out.returncode:
        raise SystemExit(f"{tool} failed:\n{out.stderr[-3000:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    m = int(round(result["samples_per_s"] * result["seconds"] / EPOCHS))  # train rows
    return {"cpu_s": round(cpu, 3), "wall_s": round(wall, 3), "cpu_samples_per_s": round(EPOCHS * m / cpu),
            "in_process_s": round(result["seconds"], 3), "dev_error": result["dev_error"],
            "threads": result.get("threads", 1), "load_1min": round(load, 2),
            "load_1min_after": round(os.getloadavg()[0], 2)}


def fresh_table(path: Path, batches: list[int], rounds: int, before: str | None) -> None:
    """mlstrat, the bare torch loop and scikit-learn (1 BLAS thread) in fresh processes,
    interleaved per round and batch size; a JSON line per run, then the medians."""
    global BATCH
    tools = ["mlstrat", *(["mlstrat_before"] if before else []), "bare_torch", "sklearn_1thread"]
    results = []
    for r in range(rounds):
        for batch in batches:
            BATCH = batch
            for tool in tools:
                out = {"round": r + 1, "batch": batch, "tool": tool,
                       **run_fresh(tool, path, src=before if tool == "mlstrat_before" else None)}
                results.append(out)
                print(json.dumps(out), flush=True)
    for batch in batches:
        rows = {t: [x for x in results if x["tool"] == t and x["batch"] == batch] for t in tools}
        med = {t: {k: float(np.median([x[k] for x in rs])) for k in ("cpu_s", "wall_s", "cpu_samples_per_s")}
               for t, rs in rows.items()}
        loads = [x["load_1min"] for x in results if x["batch"] == batch]
        print(json.dumps({"batch": batch, "median": med, "load_1min": [min(loads), max(loads)],
                          "cpu_vs_sklearn_1thread": round(med["sklearn_1thread"]["cpu_s"] / med["mlstrat"]["cpu_s"], 2),
                          "cpu_vs_bare": round(med["bare_torch"]["cpu_s"] / med["mlstrat"]["cpu_s"], 2)}), flush=True)


def main() -> None:
    global BATCH, EPOCHS, DEVICE, PRECISION
    parser = argparse.ArgumentParser()
    parser.add_argument("--tiles", type=int, default=56)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--batch", type=int, default=BATCH)
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    parser.add_argument("--stream", action="store_true", help="memory vs stream loader, fresh processes")
    parser.add_argument("--batches", default="", help="comma-separated batch sizes: the side-by-side table")
    parser.add_argument("--device", default="cpu", help="mlstrat's [optim] device (cuda: scripts/gpu-check.sh)")
    parser.add_argument("--precision", default="32", choices=["32", "bf16"],
                        help="mlstrat's [optim] precision: bf16 = mixed precision (autocast)")
    parser.add_argument("--fresh", action="store_true", help="each tool end to end in a fresh process, CPU time")
    parser.add_argument("--before", default=None, help="with --fresh: another source tree's mlstrat too")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--path", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    BATCH, EPOCHS, DEVICE, PRECISION = args.batch, args.epochs, args.device, args.precision
    if args.child:
        DATA.mkdir(exist_ok=True)
        print(json.dumps(child(args.child, Path(args.path))))
        return
    if args.fresh:
        path, *_ = make_data(args.tiles)
        fresh_table(path, [int(b) for b in (args.batches or str(BATCH)).split(",")], args.rounds, args.before)
        return
    if args.stream:
        path, *_ = make_data(args.tiles)
        stream_vs_memory(path, args.rounds)
        return
    import torch

    from mlstrat.nn._setup import auto_threads
    from mlstrat.nn import ModelConfig, OptimConfig, TrainConfig

    path, X, y, train = make_data(args.tiles)
    if args.batches:
        run_mlstrat(path, "memory")  # warm-up: imports, once per process
        batches_table(path, X, y, train, [int(b) for b in args.batches.split(",")], args.rounds)
        return
    threads = auto_threads(TrainConfig(model=ModelConfig(hidden=HIDDEN), optim=OptimConfig(batch_size=BATCH)), 64)
    print(f"batch {BATCH}, rows {len(y)} (train {int(train.sum())}), torch {torch.__version__}, "
          f"cuda available: {torch.cuda.is_available()}, mlstrat threads: {threads}", flush=True)
    run_mlstrat(path, "memory")  # warm-up: imports (torch._dynamo via torch.optim: ~2 s once per process)
    results = []
    for r in range(args.rounds):
        for name, fn in (("sklearn", lambda: run_sklearn(X, y, train)),
                         ("sklearn_1thread", lambda: run_sklearn(X, y, train, threads=1)),
                         ("bare_torch", lambda: run_bare(X, y, train, threads)),
                         ("mlstrat", lambda: run_mlstrat(path, "memory")),
                         ("mlstrat_dataloader", lambda: run_mlstrat(path, "dataloader"))):
            out = {"round": r + 1, "tool": name, **fn()}
            results.append(out)
            print(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in out.items()}), flush=True)
    print(json.dumps({"summary": {t: round(float(np.median([x["samples_per_s"] for x in results if x["tool"] == t])))
                                  for t in ("sklearn", "sklearn_1thread", "bare_torch", "mlstrat", "mlstrat_dataloader")}}))
    shutil.rmtree(DATA / "run-memory", ignore_errors=True)
    shutil.rmtree(DATA / "run-dataloader", ignore_errors=True)


if __name__ == "__main__":
    main()

"""Pruned vs unpruned `mlstrat tune`: the compute each spends and the best trial each finds.

Two scenarios: the bundled digits (1 797 images, 10 classes) and the tabular scenario
(scikit-learn's diabetes population, ``--rows`` rows; the network trainer classifies, so the
outcome is cut at its terciles into low / mid / high progression). Each gets a random
60/10/15/15 train / train-dev / dev / test split. The search: lr on [1e-4, 1] and hidden units
on [4, 64], ``--budget`` trials, ``--epochs`` epochs each, seed 0, one process (``--jobs 1``), no
early stopping. The same search runs with ``--no-prune`` and ``--prune`` (MedianPruner from the
5th trial and the 2nd epoch), interleaved (the order alternates each round), each in a fresh
output folder, for ``--rounds`` rounds.

Compute: the epochs trained in all (from tune.json; the same every round: the search is
deterministic) and the CPU seconds of the search (this process's user + system time while
``tune`` ran, the trials training in this process with jobs 1; torch and the engine are
imported before the first search). Result: each search's best dev
error with its 95% Wilson interval, and the paired difference of the two winners on the same
dev rows (95% interval; "tied" when it includes 0).

Run: flock /tmp/mlstrat-bench.lock python benchmarks/tune_prune_bench.py --rounds 2
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

CONFIG = """
[data]
manifest = "{manifest}"
{features}

[model]
hidden = [32]

[optim]
epochs = {epochs}
batch_size = 128

[tune]
budget = {budget}
seed = 0
prune_startup = {startup}
prune_warmup = {warmup}

[tune.space]
lr = [1e-4, 1.0]
hidden = [4, 64]
"""


def _with_split(table: Any, seed: int = 0) -> Any:
    import pyarrow as pa

    u = np.random.default_rng(seed).random(table.num_rows)
    split = np.where(u < 0.6, "train", np.where(u < 0.7, "train_dev", np.where(u < 0.85, "dev", "test")))
    return table.append_column("split", pa.array(split))


def digits(folder: Path) -> tuple[Path, str]:
    import pyarrow.parquet as pq

    from mlstrat.scenarios import build_digits_manifest

    path = folder / "digits.parquet"
    pq.write_table(_with_split(build_digits_manifest()), path)
    return path, 'feature_prefix = "px_"'


def tabular(folder: Path, rows: int) -> tuple[Path, str]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from mlstrat.scenarios.diabetes import DIABETES_FEATURES, build_diabetes_manifest

    table = build_diabetes_manifest(rows=rows, seed=0)
    y = np.asarray(table["y"].to_pylist(), dtype=float)
    cuts = np.quantile(y, [1 / 3, 2 / 3])
    label = np.array(["low", "mid", "high"])[np.searchsorted(cuts, y)]
    table = table.drop_columns(["y"]).append_column("label", pa.array(label))
    path = folder / "tabular.parquet"
    pq.write_table(_with_split(table), path)
    return path, "features = [" + ", ".join(f'"{f}"' for f in DIABETES_FEATURES) + "]"


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def one_search(config: Path, out: Path, *, prune: bool) -> dict[str, Any]:
    from mlstrat.tune import tune

    shutil.rmtree(out, ignore_errors=True)
    before = cpu_seconds()
    result = tune(config, output=out, record=False, force=True, prune=prune)
    cpu = cpu_seconds() - before
    doc = result.to_dict()
    best = result.best
    return {"cpu_s": round(cpu, 2), "epochs": doc["epochs"], "pruned": doc["pruned"],
            "trials": len(doc["trials"]), "best": None if best is None else best.number,
            "best_params": None if best is None else best.params,
            "best_error": None if best is None else best.info["dev"]["error"],
            "dev_n": None if best is None else best.info["dev"]["n"], "_best": best}


def compare(a: Any, b: Any) -> dict[str, Any]:
    """Pruned winner minus unpruned winner, paired on the same dev rows."""
    from mlstrat.metrics._paired import paired_difference
    from mlstrat.tune._search import dev_rows_of_trial

    ra, rb = dev_rows_of_trial(a), dev_rows_of_trial(b)
    order = {key: i for i, key in enumerate(ra[1])}
    values_b = np.empty(len(order))
    values_b[[order[k] for k in rb[1]]] = rb[2]
    d = paired_difference("rate", ra[2], values_b)
    return {"change": d.value, "ci_low": d.ci_low, "ci_high": d.ci_high, "verdict": d.verdict}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--budget", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--rows", type=int, default=40000)
    parser.add_argument("--startup", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--scenarios", default="digits,tabular")
    parser.add_argument("--json", type=Path, default=None, help="Write every round's figures here.")
    args = parser.parse_args()

    from mlstrat.metrics._intervals import wilson_interval
    from mlstrat.tune._tune import warm_up

    warm_up()  # torch and the engine imported before the first measured search, not inside it

    work = Path(tempfile.mkdtemp(prefix="tune-prune-bench-"))
    rows = []
    try:
        for name in args.scenarios.split(","):
            manifest, features = digits(work) if name == "digits" else tabular(work, args.rows)
            config = work / f"{name}.toml"
            config.write_text(CONFIG.format(manifest=manifest.name, features=features, epochs=args.epochs,
                                            budget=args.budget, startup=args.startup, warmup=args.warmup))
            for r in range(args.rounds):
                order = (False, True) if r % 2 == 0 else (True, False)
                got = {p: one_search(config, work / f"{name}-{p}", prune=p) for p in order}
                off, on = got[False], got[True]
                row = {"scenario": name, "round": r, "unpruned": off, "pruned": on,
                       "epochs_ratio": on["epochs"] / off["epochs"], "cpu_ratio": on["cpu_s"] / off["cpu_s"],
                       "winners": compare(off["_best"], on["_best"])}
                for side in (off, on):
                    errors = side["best_error"] * side["dev_n"]
                    side["best_ci"] = [round(v, 4) for v in wilson_interval(errors, side["dev_n"])]
                    side.pop("_best")
                rows.append(row)
                print(json.dumps(row), flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()

"""Benchmark: the same commands on DuckDB and on Spark (local[2], local[1]).

    python benchmarks/engine_bench.py --split-rows 10000000 --diagnose-rows 100000000 --reps 1

Each run is a fresh ``mlstrat`` process (start-up included: a Spark JVM starts in every
run, as it would for a CLI user), its wall time and the peak RSS of the Python process
(Spark's JVM is a child of it, so ``RUSAGE_CHILDREN`` covers both). Engines interleave
within each repetition, so a busy machine slows them alike. Spark gets its master from
``PYSPARK_SUBMIT_ARGS`` (``--master local[K] --driver-memory 4g``) and otherwise its
default configuration (adaptive query execution on). Results go to
``benchmarks/data/engine_results.json``.

Inputs are those of ``split_bench.py`` (string ids, 10 labels, groups of ~10 rows, 5% app
domain; split with label + group + target + train-dev) and ``diagnose_bench.py``
(4 splits, 10 classes, weights).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
sys.path.insert(0, str(HERE))

ENGINES = {
    "duckdb": {"MLSTRAT_ENGINE": "duckdb"},
    "spark local[2]": {"MLSTRAT_ENGINE": "spark",
                       "PYSPARK_SUBMIT_ARGS": "--master local[2] --driver-memory 4g pyspark-shell"},
    "spark local[1]": {"MLSTRAT_ENGINE": "spark",
                       "PYSPARK_SUBMIT_ARGS": "--master local[1] --driver-memory 4g pyspark-shell"},
}


def run(cmd: list[str], env: dict[str, str]) -> dict[str, float]:
    from split_bench import measure

    saved = dict(os.environ)
    os.environ.update(env)
    try:
        return measure(cmd)
    finally:
        os.environ.clear()
        os.environ.update(saved)


def split_inputs(rows: int) -> Path:
    from split_bench import generate

    path = DATA / f"manifest_{rows}.parquet"
    if not path.exists():
        DATA.mkdir(exist_ok=True)
        generate(path, rows, max(1, rows // 10))
    return path


def diagnose_inputs(rows: int) -> Path:
    import diagnose_bench

    path = diagnose_bench.data_path(rows)
    if not path.exists():
        diagnose_bench.generate(rows)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split-rows", type=int, default=10_000_000)
    parser.add_argument("--diagnose-rows", type=int, default=100_000_000)
    parser.add_argument("--reps", type=int, default=1)
    parser.add_argument("--engines", default=",".join(ENGINES), help="comma-separated subset")
    args = parser.parse_args()
    engines = [e.strip() for e in args.engines.split(",")]
    results: dict[str, list[dict[str, object]]] = {"split": [], "diagnose": []}
    work = Path(tempfile.mkdtemp(prefix="engine-bench-"))
    store = {"MLSTRAT_STORE": str(work / "runs.db")}
    manifest = split_inputs(args.split_rows) if args.split_rows else None
    preds = diagnose_inputs(args.diagnose_rows) if args.diagnose_rows else None
    for rep in range(args.reps):
        for name in engines:
            env = {**ENGINES[name], **store}
            if manifest is not None:
                out = work / f"split-{rep}-{name.replace(' ', '_')}.parquet"
                cmd = [sys.executable, "-m", "mlstrat", "split", str(manifest), "-o", str(out), "--label",
                       "label", "--domain", "domain", "--target", "app", "--group", "group", "--dev-size",
                       "10000", "--test-size", "10000", "--train-dev", "10000", "--force", "--json"]
                m = run(cmd, env)
                results["split"].append({"engine": name, "rows": args.split_rows, "rep": rep, **m})
                print(json.dumps(results["split"][-1]), flush=True)
            if preds is not None:
                cmd = [sys.executable, "-m", "mlstrat", "diagnose", str(preds), "--human", "1%", "--json"]
                m = run(cmd, env)
                results["diagnose"].append({"engine": name, "rows": args.diagnose_rows, "rep": rep, **m})
                print(json.dumps(results["diagnose"][-1]), flush=True)
    DATA.mkdir(exist_ok=True)
    (DATA / "engine_results.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()

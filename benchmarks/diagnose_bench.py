"""Benchmark: `mlstrat diagnose PRED` vs a pandas + scikit-learn script on the same figures.

Usage (heavy runs under the shared lock):

    python benchmarks/diagnose_bench.py generate --rows 100000000
    flock /tmp/mlstrat-bench.lock python benchmarks/diagnose_bench.py run --rows 100000000
    python benchmarks/diagnose_bench.py light   # start-up of `mlstrat diagnose --errors`
    python benchmarks/diagnose_bench.py clean

Both tools run as fresh subprocesses, interleaved (mlstrat, baseline, mlstrat, ...), under
``/usr/bin/time`` for wall time and peak RSS. Both compute, per split: n, error with a Wilson
95% interval, weighted error, per-class precision/recall/F1 and their macro averages, and
the confusion matrix; the script checks that the two agree on every split's error.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
ROOT = HERE.parent
PY = sys.executable

# A 4-split, 10-class predictions table with weights, made with deterministic hashes in DuckDB
# (train 85%, train-dev/dev/test 5% each; error 5% / 8% / 15% / 16% of rows get a random label).
GENERATE_SQL = """
COPY (
  WITH base AS (SELECT i, hash(i) AS h1, hash(i * 2 + 1) AS h2 FROM range({rows}) t(i))
  SELECT i AS id,
         CASE WHEN h1 % 100 < 85 THEN 'train' WHEN h1 % 100 < 90 THEN 'train_dev'
              WHEN h1 % 100 < 95 THEN 'dev' ELSE 'test' END AS split,
         CAST((h1 // 100) % 10 AS INTEGER) AS y_true,
         CAST(CASE WHEN (h2 % 1000) < (CASE WHEN h1 % 100 < 85 THEN 50 WHEN h1 % 100 < 90 THEN 80
                                            WHEN h1 % 100 < 95 THEN 150 ELSE 160 END)
                   THEN (h2 // 1000) % 10 ELSE (h1 // 100) % 10 END AS INTEGER) AS y_pred,
         CAST(1.0 + ((h2 // 10000) % 5) AS DOUBLE) AS weight
  FROM base
) TO '{out}' (FORMAT parquet, ROW_GROUP_SIZE 1000000)
"""

BASELINE = r"""
import json, math, sys
import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support

df = pd.read_parquet(sys.argv[1], columns=["split", "y_true", "y_pred", "weight"])
z = 1.959963984540054
out = {}
for split, g in df.groupby("split", sort=False):
    y, yhat, w = g["y_true"].to_numpy(), g["y_pred"].to_numpy(), g["weight"].to_numpy()
    n = len(y)
    err = 1 - accuracy_score(y, yhat)
    d = 1 + z * z / n
    c = (err + z * z / (2 * n)) / d
    h = z / d * math.sqrt(err * (1 - err) / n + z * z / (4 * n * n))
    p, r, f, s = precision_recall_fscore_support(y, yhat, average=None, zero_division=0)
    out[split] = {"n": n, "error": err, "error_ci": [c - h, c + h],
                  "weighted_error": 1 - accuracy_score(y, yhat, sample_weight=w),
                  "precision": float(p.mean()), "recall": float(r.mean()), "f1": float(f.mean()),
                  "per_class_f1": f.tolist(), "confusion": confusion_matrix(y, yhat).tolist()}
print(json.dumps(out))
"""


def data_path(rows: int) -> Path:
    return DATA / f"predictions_{rows}.parquet"


def generate(rows: int) -> Path:
    import duckdb

    DATA.mkdir(parents=True, exist_ok=True)
    out = data_path(rows)
    if out.exists():
        return out
    tmp = out.with_suffix(".tmp.parquet")
    start = time.perf_counter()
    con = duckdb.connect()
    con.execute(GENERATE_SQL.format(rows=rows, out=tmp))
    tmp.rename(out)
    print(
        f"generated {out} ({out.stat().st_size / 1e9:.2f} GB) in {time.perf_counter() - start:.1f} "
        "s"
    )
    return out


def timed(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, float, str]:
    """Run ``cmd`` under /usr/bin/time: (wall seconds, peak RSS in MB, stdout)."""
    proc = subprocess.run(
        ["/usr/bin/time", "-f", "TIME %e %M", *cmd],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=ROOT,
    )
    if proc.returncode != 0:
        raise SystemExit(f"failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stderr[-2000:]}")
    line = [x for x in proc.stderr.splitlines() if x.startswith("TIME ")][-1]
    _, wall, rss_kb = line.split()
    return float(wall), int(rss_kb) / 1024, proc.stdout


def mlstrat_cmd(path: Path, *, record: bool = True) -> list[str]:
    """The default command records a run (fingerprints the file and its test set); the
    store goes to a scratch file so the benchmark leaves nothing in the checkout."""
    store = ["--store", str(DATA / "bench-runs.db")] if record else ["--no-record"]
    return [PY, "-m", "mlstrat", "diagnose", str(path), "--human", "1%", "--json", *store]


def run(rows: int, repeats: int, baseline: bool) -> dict:
    path = generate(rows)
    env = {"PYTHONPATH": str(ROOT / "src")}
    results: dict[str, list[tuple[float, float]]] = {
        "mlstrat": [], "mlstrat_no_record": [], "pandas_sklearn": []}
    agree = None
    for _ in range(repeats):
        wall, rss, out = timed(mlstrat_cmd(path), env)
        results["mlstrat"].append((wall, rss))
        mine = json.loads(out)["errors"]
        wall, rss, _ = timed(mlstrat_cmd(path, record=False), env)
        results["mlstrat_no_record"].append((wall, rss))
        if baseline:
            wall, rss, out = timed([PY, "-c", BASELINE, str(path)])
            results["pandas_sklearn"].append((wall, rss))
            theirs = json.loads(out)
            agree = all(
                abs(mine[s]["value"] - theirs[s]["error"]) < 1e-12
                and abs(mine[s]["ci_low"] - theirs[s]["error_ci"][0]) < 1e-12
                for s in mine
            )
    summary = {
        "rows": rows,
        "file_gb": round(path.stat().st_size / 1e9, 3),
        "repeats": repeats,
        "agree_on_errors_and_cis": agree,
    }
    for tool, runs in results.items():
        if runs:
            walls = [w for w, _ in runs]
            summary[tool] = {
                "wall_s": walls,
                "median_wall_s": statistics.median(walls),
                "peak_rss_mb": max(r for _, r in runs),
            }
    if results["pandas_sklearn"]:
        summary["speedup"] = round(
            summary["pandas_sklearn"]["median_wall_s"] / summary["mlstrat"]["median_wall_s"], 1
        )
    print(json.dumps(summary, indent=2))
    return summary


def light(repeats: int) -> dict:
    """Start-up of the light path: `mlstrat diagnose --errors ...` (no engine, no numpy)."""
    env = {"PYTHONPATH": str(ROOT / "src")}
    cmd = [
        PY,
        "-m",
        "mlstrat",
        "diagnose",
        "--errors",
        "train=1%,train_dev=1.5%,dev=10%,test=10.2%",
        "--sizes",
        "train=50000,train_dev=2000,dev=2000,test=2000",
        "--human",
        "0.5%",
        "--json",
    ]
    walls = [timed(cmd, env)[0] for _ in range(repeats)]
    probe = (
        "import sys, runpy; sys.argv = ['mlstrat'] + sys.argv[1:]\n"
        "try:\n    runpy.run_module('mlstrat', run_name='__main__')\nexcept SystemExit:\n    pass\n"
        "heavy = sorted({m.split('.')[0] for m in sys.modules} & "
        "{'duckdb', 'ibis', 'pandas', 'sklearn', 'torch', 'numpy', 'pyarrow', 'matplotlib'})\n"
        "print('HEAVY', heavy, file=sys.stderr)"
    )
    proc = subprocess.run(
        [PY, "-c", probe, *cmd[3:]],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        cwd=ROOT,
    )
    heavy = [x for x in proc.stderr.splitlines() if x.startswith("HEAVY")]
    summary = {
        "repeats": repeats,
        "wall_s": walls,
        "median_wall_s": statistics.median(walls),
        "max_wall_s": max(walls),
        "heavy_modules_imported": heavy[-1] if heavy else proc.stderr[-500:],
    }
    print(json.dumps(summary, indent=2))
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("generate")
    g.add_argument("--rows", type=int, default=100_000_000)
    r = sub.add_parser("run")
    r.add_argument("--rows", type=int, default=100_000_000)
    r.add_argument("--repeats", type=int, default=3)
    r.add_argument(
        "--no-baseline", action="store_true", help="only mlstrat (when pandas cannot fit)"
    )
    lt = sub.add_parser("light")
    lt.add_argument("--repeats", type=int, default=15)
    sub.add_parser("clean")
    args = parser.parse_args()
    if args.cmd == "generate":
        generate(args.rows)
    elif args.cmd == "run":
        run(args.rows, args.repeats, not args.no_baseline)
    elif args.cmd == "light":
        light(args.repeats)
    else:
        for p in [*DATA.glob("predictions_*.parquet"), *DATA.glob("bench-runs.db*")]:
            p.unlink()
            print(f"removed {p}")


if __name__ == "__main__":
    main()

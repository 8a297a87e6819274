"""Benchmark: `mlstrat diagnose --metric rmse PRED` vs a lean pandas + scikit-learn script.

Usage (heavy runs under the shared lock):

    python benchmarks/regression_bench.py generate --rows 100000000
    flock /tmp/mlstrat-bench.lock python benchmarks/regression_bench.py run --rows 100000000
    python benchmarks/regression_bench.py clean

Both tools run as fresh subprocesses, interleaved (mlstrat, mlstrat --no-record, baseline,
...), through ``benchmarks/_harness.py``: wall and CPU time and peak RSS, median (min-max). Both compute per split: n, RMSE with
the 95% interval of the MSE square-rooted, MAE and R^2 (the baseline with scikit-learn's
``root_mean_squared_error``, ``mean_absolute_error``, ``r2_score`` on a categorical split
column, the leanest pandas reading); the script checks that the two agree on every RMSE and
interval.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import (DATA, PY, SRC_ENV, clean, generate_parquet, interleave, machine,  # noqa: E402
                      markdown_table, summarize)

# 4 splits (train 85%, train-dev/dev/test 5% each); y ~ uniform(0, 100); the prediction error
# is uniform with a spread that grows train -> train-dev -> dev and a shift on dev/test.
GENERATE_SQL = """
COPY (
  WITH base AS (SELECT i, hash(i) AS h1, hash(i * 2 + 1) AS h2 FROM range({rows}) t(i)),
  labelled AS (
    SELECT i, h1, h2,
           CASE WHEN h1 % 100 < 85 THEN 'train' WHEN h1 % 100 < 90 THEN 'train_dev'
                WHEN h1 % 100 < 95 THEN 'dev' ELSE 'test' END AS split,
           (h1 // 100 % 1000000) / 10000.0 AS y_true,
           (h2 % 1000000) / 1000000.0 - 0.5 AS u
    FROM base)
  SELECT i AS id, split, y_true,
         y_true + u * CASE split WHEN 'train' THEN 4 WHEN 'train_dev' THEN 6 ELSE 6 END
                + CASE WHEN split IN ('dev', 'test') THEN 1.0 ELSE 0.0 END AS y_pred
  FROM labelled
) TO '{out}' (FORMAT parquet, ROW_GROUP_SIZE 1000000)
"""

BASELINE = r"""
import json, math, sys
import numpy as np
import pyarrow.parquet as pq
from sklearn.metrics import mean_absolute_error, r2_score, root_mean_squared_error

# the leanest pandas reading: only the needed columns, the split as a categorical
df = pq.read_table(sys.argv[1], columns=["split", "y_true", "y_pred"],
                   read_dictionary=["split"]).to_pandas()
z = 1.959963984540054
out = {}
for split, g in df.groupby("split", sort=False, observed=True):
    y, p = g["y_true"].to_numpy(), g["y_pred"].to_numpy()
    n = len(y)
    e2 = (p - y) ** 2
    mse, half = e2.mean(), z * e2.std(ddof=1) / math.sqrt(n)
    out[split] = {"n": n, "rmse": root_mean_squared_error(y, p),
                  "rmse_ci": [math.sqrt(max(mse - half, 0)), math.sqrt(mse + half)],
                  "mae": mean_absolute_error(y, p), "r2": r2_score(y, p)}
print(json.dumps(out))
"""


def data_path(rows: int) -> Path:
    return DATA / f"regression_{rows}.parquet"


def generate(rows: int) -> Path:
    return generate_parquet(GENERATE_SQL.replace("{rows}", str(rows)), data_path(rows))


def mlstrat_cmd(path: Path, *, record: bool = True) -> list[str]:
    store = ["--store", str(DATA / "bench-runs.db")] if record else ["--no-record"]
    return [PY, "-m", "mlstrat", "diagnose", str(path), "--metric", "rmse", "--human", "1.0",
            "--json", *store]


def agree(mine: dict, theirs: dict) -> bool:
    """mlstrat's RMSE and interval equal the baseline's on every split (to 1e-9)."""
    return all(abs(mine[s]["value"] - theirs[s]["rmse"]) < 1e-9
               and abs(mine[s]["ci_low"] - theirs[s]["rmse_ci"][0]) < 1e-9
               and abs(mine[s]["ci_high"] - theirs[s]["rmse_ci"][1]) < 1e-9 for s in mine)


def run(rows: int, repeats: int) -> dict:
    path = generate(rows)
    outputs: dict[str, dict] = {}

    def keep(tool: str, stdout: str) -> None:
        if tool in ("mlstrat", "pandas_sklearn"):
            outputs[tool] = json.loads(stdout)

    tools = {"mlstrat": lambda: mlstrat_cmd(path),
             "mlstrat_no_record": lambda: mlstrat_cmd(path, record=False),
             "pandas_sklearn": lambda: [PY, "-c", BASELINE, str(path)]}
    runs = interleave(tools, repeats, env=SRC_ENV, check=keep)
    summary = {"rows": rows, "file_gb": round(path.stat().st_size / 1e9, 3), "repeats": repeats,
               "machine": machine(),
               "agree_on_rmse_and_cis": agree(outputs["mlstrat"]["errors"],
                                              outputs["pandas_sklearn"]),
               "tools": summarize(runs)}
    print(json.dumps(summary, indent=2))
    print(markdown_table(summary["tools"], label=f"diagnose --metric rmse, {rows:,} rows"))
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("generate")
    g.add_argument("--rows", type=int, default=100_000_000)
    r = sub.add_parser("run")
    r.add_argument("--rows", type=int, default=100_000_000)
    r.add_argument("--repeats", type=int, default=3)
    sub.add_parser("clean")
    args = parser.parse_args()
    if args.cmd == "generate":
        generate(args.rows)
    elif args.cmd == "run":
        run(args.rows, args.repeats)
    else:
        clean("regression_*.parquet", "bench-runs.db*")


if __name__ == "__main__":
    main()

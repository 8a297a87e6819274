"""Benchmark: `mlstrat errors sample` against the peers, on the diagnose benchmark's file.

    python benchmarks/diagnose_bench.py generate --rows 10000000
    flock /tmp/mlstrat-bench.lock python benchmarks/errors_bench.py --rows 10000000 --repeats 3

The task: a seeded sample of 100 misclassified dev rows written as a CSV sheet. The peers do
what a good engineer would write: lean pandas (read the four columns, filter, ``sample``,
write), Polars (lazy scan, filter, ``sample`` after collect, write), and the bare-DuckDB floor
(one COPY of the filtered rows ordered by a hash, LIMIT 100). mlstrat also validates the
whole table, computes the split's error for the sheet's meta file and fingerprints the file.
Every tool runs in a fresh process, interleaved, under /usr/bin/time (benchmarks/_harness.py).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import DATA, PY, SRC_ENV, interleave, machine, markdown_table, summarize  # noqa: E402

PEERS = r"""
import sys
tool, src, out = sys.argv[1:4]
if tool == "pandas":
    import pandas as pd
    df = pd.read_parquet(src, columns=["id", "split", "y_true", "y_pred"])
    wrong = df[(df["split"] == "dev") & (df["y_true"] != df["y_pred"])]
    wrong.sample(n=100, random_state=0).to_csv(out, index=False)
elif tool == "polars":
    import polars as pl
    wrong = (pl.scan_parquet(src).select("id", "split", "y_true", "y_pred")
             .filter((pl.col("split") == "dev") & (pl.col("y_true") != pl.col("y_pred")))
             .collect(engine="streaming"))
    wrong.sample(n=100, seed=0).write_csv(out)
else:
    import duckdb
    duckdb.sql(
        "SELECT id, split, y_true, y_pred FROM read_parquet($src) "
        "WHERE split = 'dev' AND y_true <> y_pred ORDER BY md5(id::VARCHAR || ':0') LIMIT 100",
        params={"src": src}).write_csv(out)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    src = DATA / f"predictions_{args.rows}.parquet"
    if not src.exists():
        raise SystemExit(f"{src} is missing: run diagnose_bench.py generate --rows {args.rows}")
    out = DATA / "sheet.csv"

    def mlstrat() -> list[str]:
        for p in (out, out.with_name(out.name + ".meta.json")):
            p.unlink(missing_ok=True)
        return [PY, "-m", "mlstrat", "errors", "sample", str(src), "-o", str(out), "-n", "100",
                "--split", "dev"]

    tools = {"mlstrat": mlstrat,
             "duckdb_floor": lambda: [PY, "-c", PEERS, "duckdb", str(src), str(out)],
             "pandas_lean": lambda: [PY, "-c", PEERS, "pandas", str(src), str(out)],
             "polars": lambda: [PY, "-c", PEERS, "polars", str(src), str(out)]}
    runs = interleave(tools, args.repeats, env=SRC_ENV)
    summary = {"rows": args.rows, "repeats": args.repeats, "machine": machine(),
               "tools": summarize(runs, floor="duckdb_floor")}
    print(json.dumps(summary, indent=2))
    print(markdown_table(summary["tools"], label=f"{args.rows:,} rows"))
    (DATA / f"errors_results_{args.rows}.json").write_text(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()

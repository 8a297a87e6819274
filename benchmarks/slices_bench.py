"""Benchmark: `mlstrat errors slices` (slice discovery) against lean pandas and Polars.

    python benchmarks/slices_bench.py generate --rows 10000000
    flock /tmp/mlstrat-bench.lock python benchmarks/slices_bench.py --rows 10000000 --repeats 3

The task: 10M dev predictions with 10 metadata/feature columns (5 categoricals of 3 to 50
values, 5 numbers cut into 10 quantile bins); every slice of 1 and 2 predicates with at least
32 rows, SliceLine's score (alpha 0.95), a one-sided Fisher p-value per slice and
Benjamini–Hochberg at 5%. The peers do what a good engineer would write: lean pandas (read,
``qcut``-like quantile bins, one ``groupby`` per column and per pair of columns, vectorized
scores and scipy p-values) and Polars (the same with a lazy scan and ``group_by``). Both
compute the same counts and scores; mlstrat also validates the table and reports intervals,
lifts and ceilings. Every tool runs in a fresh process, interleaved, under /usr/bin/time
(benchmarks/_harness.py); the check compares each tool's top slice.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import DATA, PY, SRC_ENV, generate_parquet, interleave, machine, markdown_table, summarize  # noqa: E402

CATEGORICAL = {"c0": 3, "c1": 5, "c2": 10, "c3": 20, "c4": 50}
NUMERIC = ("x0", "x1", "x2", "x3", "x4")

# errors at 10%, and at 60% in the planted cohort c2 = 'v3' and x1 > 0.8
GENERATE = """
COPY (
  SELECT i AS id, 'dev' AS split,
         (hash(i, 1) % 5)::INT AS y_true,
         CASE WHEN (hash(i, 2) % 1000) < (CASE WHEN c2 = 'v3' AND x1 > 0.8 THEN 600 ELSE 100 END)
              THEN ((hash(i, 1) % 5)::INT + 1) % 5 ELSE (hash(i, 1) % 5)::INT END AS y_pred,
         c0, c1, c2, c3, c4, x0, x1, x2, x3, x4
  FROM (
    SELECT i,
      {categoricals},
      {numerics}
    FROM range({rows}) t(i)
  )
) TO '{{out}}' (FORMAT PARQUET)
"""

PEERS = r"""
import itertools, sys
import numpy as np
from scipy.stats import hypergeom
tool, src = sys.argv[1:3]
CAT = ["c0", "c1", "c2", "c3", "c4"]; NUM = ["x0", "x1", "x2", "x3", "x4"]
ALPHA, SIGMA, BINS, FDR = 0.95, 32, 10, 0.05

def finish(level1, level2, N, X):
    # level1/level2: lists of (description, n, errors) arrays
    desc = np.concatenate([d for d, _, _ in level1 + level2])
    n = np.concatenate([a for _, a, _ in level1 + level2]).astype(float)
    k = np.concatenate([b for _, _, b in level1 + level2]).astype(float)
    keep = (n >= SIGMA) & (n < N)
    desc, n, k = desc[keep], n[keep], k[keep]
    score = ALPHA * ((k / n) / (X / N) - 1) - (1 - ALPHA) * (N / n - 1)
    p = hypergeom.sf(k - 1, N, X, n)
    m = len(p); order = np.argsort(p)
    q = np.minimum.accumulate((p[order] * m / np.arange(1, m + 1))[::-1])[::-1]
    qv = np.empty(m); qv[order] = np.minimum(q, 1)
    ok = (qv <= FDR) & (score > 0)
    best = np.argsort(-score[ok], kind="stable")[:10]
    print(desc[ok][best[0]], m)

if tool == "pandas":
    import pandas as pd
    df = pd.read_parquet(src, columns=["split", "y_true", "y_pred", *CAT, *NUM])
    df = df[df["split"] == "dev"]
    wrong = (df["y_true"] != df["y_pred"]).to_numpy()
    N, X = len(df), int(wrong.sum())
    keys = pd.DataFrame({"_e": wrong})
    for c in CAT:
        keys[c] = df[c].to_numpy()
    for c in NUM:
        x = df[c].to_numpy()
        edges = np.unique(np.quantile(x, [i / BINS for i in range(1, BINS)]))
        keys[c] = np.searchsorted(edges, x, side="right")
    level1, alive = [], {}
    for c in CAT + NUM:
        g = keys.groupby(c, sort=False)["_e"].agg(["size", "sum"])
        level1.append((np.array([f"{c}={v}" for v in g.index], dtype=object), g["size"].to_numpy(), g["sum"].to_numpy()))
        alive[c] = set(g.index[(g["size"] >= SIGMA) & (g["sum"] > 0)])
    level2 = []
    for a, b in itertools.combinations(CAT + NUM, 2):
        g = keys.groupby([a, b], sort=False)["_e"].agg(["size", "sum"]).reset_index()
        g = g[g[a].isin(alive[a]) & g[b].isin(alive[b])]
        level2.append((np.array([f"{a}={u} and {b}={v}" for u, v in zip(g[a], g[b])], dtype=object), g["size"].to_numpy(), g["sum"].to_numpy()))
    finish(level1, level2, N, X)
else:
    import polars as pl
    lf = pl.scan_parquet(src).filter(pl.col("split") == "dev")
    qs = [i / BINS for i in range(1, BINS)]
    edges = lf.select([pl.col(c).quantile(q, interpolation="linear").alias(f"{c}_{j}") for c in NUM for j, q in enumerate(qs)]).collect().row(0, named=True)
    binned = [sum((pl.col(c) >= e).cast(pl.Int64) for e in sorted({edges[f"{c}_{j}"] for j in range(len(qs))})).alias(c) for c in NUM]
    keys = lf.select((pl.col("y_true") != pl.col("y_pred")).alias("_e"), *[pl.col(c) for c in CAT], *binned).collect(engine="streaming")
    N, X = keys.height, int(keys["_e"].sum())
    level1, alive = [], {}
    for c in CAT + NUM:
        g = keys.group_by(c).agg(pl.len().alias("n"), pl.col("_e").sum().alias("k"))
        level1.append((np.array([f"{c}={v}" for v in g[c].to_list()], dtype=object), g["n"].to_numpy(), g["k"].to_numpy()))
        alive[c] = g.filter((pl.col("n") >= SIGMA) & (pl.col("k") > 0))[c].to_list()
    level2 = []
    for a, b in itertools.combinations(CAT + NUM, 2):
        g = (keys.group_by(a, b).agg(pl.len().alias("n"), pl.col("_e").sum().alias("k"))
             .filter(pl.col(a).is_in(alive[a]) & pl.col(b).is_in(alive[b])))
        level2.append((np.array([f"{a}={u} and {b}={v}" for u, v in zip(g[a].to_list(), g[b].to_list())], dtype=object), g["n"].to_numpy(), g["k"].to_numpy()))
    finish(level1, level2, N, X)
"""


def generate(rows: int) -> Path:
    cats = ",\n      ".join(f"'v' || (hash(i, {10 + j}) % {k})::VARCHAR AS {c}"
                           for j, (c, k) in enumerate(CATEGORICAL.items()))
    nums = ",\n      ".join(f"(hash(i, {20 + j}) % 1000000) / 1000000.0 AS {c}" for j, c in enumerate(NUMERIC))
    sql = GENERATE.format(categoricals=cats, numerics=nums, rows=rows)
    return generate_parquet(sql, DATA / f"slices_{rows}.parquet")


def _check(name: str, stdout: str) -> None:
    # the answer is the last line (DuckDB may draw its progress bar on stdout before it)
    lines = [ln.split("\r")[-1].strip() for ln in stdout.splitlines() if ln.strip()]
    if not lines:
        raise SystemExit(f"{name}: no output")
    print(f"{name}: {lines[-1][-120:]}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", nargs="?", default="run", choices=("run", "generate"))
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--tools", default="mlstrat,pandas_lean,polars")
    args = parser.parse_args()
    src = generate(args.rows)
    if args.command == "generate":
        return
    every = {
        "mlstrat": lambda: [PY, "-c", "import json, sys; from mlstrat.errors import find_slices; "
                            "r = find_slices(sys.argv[1]); print(r.slices[0].slice, r.tested)",
                            str(src)],
        "pandas_lean": lambda: [PY, "-c", PEERS, "pandas", str(src)],
        "polars": lambda: [PY, "-c", PEERS, "polars", str(src)],
    }
    tools = {name: every[name] for name in args.tools.split(",")}
    runs = interleave(tools, args.repeats, env=SRC_ENV, check=_check)
    summary = {"rows": args.rows, "repeats": args.repeats, "machine": machine(),
               "tools": summarize(runs)}
    print(json.dumps(summary, indent=2))
    print(markdown_table(summary["tools"], label=f"{args.rows:,} rows"))
    (DATA / f"slices_results_{args.rows}.json").write_text(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()

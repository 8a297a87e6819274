"""The peers of `mlstrat diagnose PRED` on one predictions file: the same per-split figures.

    python benchmarks/_diagnose_peers.py pandas|polars|duckdb PRED.parquet

Each peer does what a good engineer would write with that tool: ONE grouping of
(split, y_true, y_pred) with a row count and a weight sum, then the figures from those counts
with NumPy (n, error with a Wilson 95% interval, weighted error, per-class precision / recall /
F1 and their macro averages, the confusion matrix). ``duckdb`` is the floor: the one query that
does only the unavoidable work (read the columns, group), with the same small NumPy tail.
Prints JSON {split: {n, error, ci_low, ci_high, weighted_error, macro_f1}}.
"""

from __future__ import annotations

import json
import math
import sys

Z = 1.959963984540054


def counts_pandas(path: str):
    import pandas as pd

    df = pd.read_parquet(path, columns=["split", "y_true", "y_pred", "weight"])
    g = df.groupby(["split", "y_true", "y_pred"], sort=False, observed=True)["weight"].agg(
        ["size", "sum"]).reset_index()
    return zip(g["split"], g["y_true"], g["y_pred"], g["size"], g["sum"])


def counts_polars(path: str):
    import polars as pl

    g = (pl.scan_parquet(path)
         .group_by("split", "y_true", "y_pred")
         .agg(pl.len().alias("n"), pl.col("weight").sum().alias("w"))
         .collect(engine="streaming"))
    return g.iter_rows()


def counts_duckdb(path: str):
    import duckdb

    return duckdb.sql(
        "SELECT split, y_true, y_pred, count(*), sum(weight) FROM read_parquet($p) GROUP BY ALL",
        params={"p": path}).fetchall()


def figures(rows) -> dict[str, dict[str, float]]:
    import numpy as np

    by_split: dict[str, list[tuple]] = {}
    for split, t, p, n, w in rows:
        by_split.setdefault(split, []).append((t, p, int(n), float(w)))
    out = {}
    for split, cells in by_split.items():
        labels = sorted({c[0] for c in cells} | {c[1] for c in cells})
        index = {lab: i for i, lab in enumerate(labels)}
        cm = np.zeros((len(labels), len(labels)), dtype=np.int64)
        wsum = np.zeros_like(cm, dtype=float)
        for t, p, n, w in cells:
            cm[index[t], index[p]] += n
            wsum[index[t], index[p]] += w
        n = int(cm.sum())
        err = 1 - np.trace(cm) / n
        d = 1 + Z * Z / n
        c = (err + Z * Z / (2 * n)) / d
        h = Z / d * math.sqrt(err * (1 - err) / n + Z * Z / (4 * n * n))
        tp = np.diag(cm).astype(float)
        with np.errstate(divide="ignore", invalid="ignore"):
            prec = np.nan_to_num(tp / cm.sum(axis=0))
            rec = np.nan_to_num(tp / cm.sum(axis=1))
            f1 = np.nan_to_num(2 * prec * rec / (prec + rec))
        out[split] = {"n": n, "error": float(err), "ci_low": c - h, "ci_high": c + h,
                      "weighted_error": float(1 - np.trace(wsum) / wsum.sum()),
                      "macro_f1": float(f1.mean())}
    return out


if __name__ == "__main__":
    tool, path = sys.argv[1], sys.argv[2]
    reader = {"pandas": counts_pandas, "polars": counts_polars, "duckdb": counts_duckdb}[tool]
    print(json.dumps(figures(reader(path))))

"""The peers of `mlstrat labels PRED --split dev` on one predictions file: the same suspects.

    python benchmarks/_labels_peers.py numpy|polars|duckdb PRED.parquet

The rule is mlstrat's default (docs/method.md §4, docs/guide/errors.md): confident learning with
per-class thresholds ``t_j`` = mean probability of class ``j`` over the rows labeled ``j``; the
confident joint counts (given label, most probable class among those at or above their
threshold); each row of it rescaled to the given counts, then to ``n``, and rounded row by row
(largest remainder, ties to the diagonal); ``auto`` then picks ``rank`` when the largest
off-diagonal cell holds under 15% of the off-diagonal mass (the estimated number of rows the
model mislabels, lowest self-confidence first), else prune-by-noise-rate (per cell (i, j), the
rows labeled ``i`` with the smallest ``p_i - p_j``, dropping those the model predicts as
``i``). Ties go to the smaller id.

``numpy``: what a good engineer would write: pandas reads the columns, NumPy does the rest
(bincount, argmax, argsort). ``polars``: Polars reads (lazy scan, streaming) and computes the
thresholds, the joint and the selections with expressions. ``duckdb`` is the floor: the one
query that only reads the split and groups it by label (row counts and the threshold sums),
the unavoidable first step of any confident-learning implementation.

Prints JSON ``{"issues": [ids, sorted], "method": ...}`` (the floor: ``{"thresholds": [...]}``).
"""

from __future__ import annotations

import json
import sys

import numpy as np

SPREAD = 0.15  # mlstrat.errors._confident.SPREAD


def _proba_columns(path: str) -> list[str]:
    import pyarrow.parquet as pq

    return [c for c in pq.read_schema(path).names if c.startswith("proba_")]


def calibrated_counts(joint: np.ndarray, given: np.ndarray) -> np.ndarray:
    """The confident joint rescaled to the given counts and rounded row by row (K, K)."""
    k = len(given)
    joint = joint.astype(float)
    joint[np.diag_indices(k)] = np.where(given > 0, np.maximum(np.diag(joint), 1.0), np.diag(joint))
    row = joint.sum(axis=1, keepdims=True)
    cal = np.divide(joint, row, out=np.zeros_like(joint), where=row > 0) * given[:, None]
    cal *= given.sum() / cal.sum()
    floor = np.floor(cal).astype(np.int64)
    out = floor.copy()
    cols = np.arange(k)
    for i in range(k):
        short = int(round(given[i])) - int(floor[i].sum())
        if short > 0:
            rem = np.round(cal[i] - floor[i], 12)
            out[i, np.lexsort((cols, cols != i, -rem))[:short]] += 1
    return out


def pick_method(counts: np.ndarray) -> str:
    off = counts.astype(float)
    np.fill_diagonal(off, 0.0)
    return "rank" if off.sum() > 0 and off.max() / off.sum() < SPREAD else "prune_by_noise_rate"


def run_numpy(path: str) -> dict:
    import pandas as pd

    proba = _proba_columns(path)
    classes = {c[len("proba_"):]: j for j, c in enumerate(proba)}
    df = pd.read_parquet(path, columns=["id", "split", "y_true", *proba], filters=[("split", "==", "dev")])
    ids = df["id"].to_numpy()
    labels = df["y_true"].astype(str).map(classes).to_numpy()
    probs = df[proba].to_numpy(dtype=np.float64)
    n, k = probs.shape
    rows = np.arange(n)
    given = np.bincount(labels, minlength=k)
    own = probs[rows, labels]
    t = np.where(given > 0, np.bincount(labels, weights=own, minlength=k) / np.maximum(given, 1), 1.0)
    above = probs >= t - 1e-6
    guess = np.where(above, probs, -1.0).argmax(axis=1)
    conf = above.any(axis=1)
    joint = np.bincount(labels[conf] * k + guess[conf], minlength=k * k).reshape(k, k)
    counts = calibrated_counts(joint, given)
    method = pick_method(counts)
    argmax = probs.argmax(axis=1)
    picked: set = set()
    if method == "rank":
        m = int(counts.sum() - np.trace(counts))
        wrong = np.flatnonzero(argmax != labels)
        order = np.lexsort((ids[wrong], own[wrong]))[:m]
        picked.update(ids[wrong][order].tolist())
    else:
        for i in range(k):
            mine = np.flatnonzero(labels == i)
            for j in range(k):
                c = int(counts[i, j])
                if i == j or c <= 0:
                    continue
                key = probs[mine, i] - probs[mine, j]
                top = mine[np.lexsort((ids[mine], key))[:c]]
                picked.update(ids[top[argmax[top] != i]].tolist())
    return {"issues": sorted(picked), "method": method}


def run_polars(path: str) -> dict:
    import polars as pl

    proba = _proba_columns(path)
    classes = {c[len("proba_"):]: j for j, c in enumerate(proba)}
    k = len(proba)
    df = (pl.scan_parquet(path).filter(pl.col("split") == "dev")
          .select("id", pl.col("y_true").cast(pl.Utf8).replace_strict(classes, return_dtype=pl.Int64).alias("y"),
                  *proba)
          .with_columns(own=pl.coalesce([pl.when(pl.col("y") == j).then(pl.col(p)) for j, p in enumerate(proba)]),
                        argmax=pl.concat_list(proba).list.arg_max())
          .collect(engine="streaming"))
    sums = df.group_by("y").agg(n=pl.len(), s=pl.col("own").sum())
    given = np.zeros(k)
    t = np.ones(k)
    for y, cnt, s in sums.iter_rows():
        given[y], t[y] = cnt, s / cnt
    above = [pl.col(p) >= float(t[j]) - 1e-6 for j, p in enumerate(proba)]
    joint_rows = (df.select("y", conf=pl.any_horizontal(above),
                            guess=pl.concat_list([pl.when(a).then(pl.col(p)).otherwise(-1.0)
                                                  for a, p in zip(above, proba)]).list.arg_max())
                  .filter("conf").group_by("y", "guess").len())
    joint = np.zeros((k, k))
    for y, g, cnt in joint_rows.iter_rows():
        joint[y, g] = cnt
    counts = calibrated_counts(joint, given)
    method = pick_method(counts)
    if method == "rank":
        m = int(counts.sum() - np.trace(counts))
        picked = (df.filter(pl.col("argmax") != pl.col("y")).sort("own", "id").head(m)["id"].to_list())
    else:
        picked = []
        for i in range(k):
            mine = df.filter(pl.col("y") == i)
            for j in range(k):
                c = int(counts[i, j])
                if i == j or c <= 0:
                    continue
                top = mine.with_columns(key=pl.col(proba[i]) - pl.col(proba[j])).sort("key", "id").head(c)
                picked += top.filter(pl.col("argmax") != i)["id"].to_list()
    return {"issues": sorted(set(picked)), "method": method}


def run_duckdb(path: str) -> dict:
    import duckdb

    proba = _proba_columns(path)
    own = "CASE CAST(y_true AS VARCHAR) " + " ".join(
        f"WHEN '{c[len('proba_'):]}' THEN {c}" for c in proba) + " END"
    rows = duckdb.sql(f"SELECT y_true, count(*), sum({own}) FROM read_parquet($p) WHERE split = 'dev' "
                      "GROUP BY y_true ORDER BY y_true", params={"p": path}).fetchall()
    return {"thresholds": [s / n for _, n, s in rows]}


if __name__ == "__main__":
    tool, file = sys.argv[1], sys.argv[2]
    print(json.dumps({"numpy": run_numpy, "polars": run_polars, "duckdb": run_duckdb}[tool](file)))

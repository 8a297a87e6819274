"""The peers of `mlstrat split` on the benchmark manifest (see split_bench.py).

    python benchmarks/_split_peers.py pandas|polars|duckdb SRC.parquet OUT.parquet

The task, as the benchmark states it: dev and test of ~10 000 rows each from ``app`` rows
only, whole groups (a group never straddles splits), a train-dev set of ~10 000 rows from
the remaining rows, everything else train; output = the manifest plus a ``split`` column.

- ``pandas``: what a good engineer writes with pandas: one groupby for group sizes and
  domains, a seeded shuffle of the groups, cumulative sums to take whole groups up to each
  size, a map back to the rows.
- ``polars``: the same plan, lazy, with a hashed group order and a streaming sink.
- ``duckdb``: the floor: one COPY that reads every row, hashes its group and writes it with
  a split from fixed thresholds on the hash (no exact sizes: only the unavoidable work).
"""

from __future__ import annotations

import sys

N_DEV = N_TEST = N_TD = 10_000


def split_pandas(src: str, out: str) -> None:
    import numpy as np
    import pandas as pd

    df = pd.read_parquet(src)
    groups = df.groupby("group", sort=False).agg(n=("id", "size"), domain=("domain", "first"))
    groups = groups.iloc[np.random.default_rng(0).permutation(len(groups))]
    is_app = (groups["domain"] == "app").to_numpy()
    app_cum = groups["n"].where(is_app, 0).cumsum().to_numpy()
    split = np.full(len(groups), "train", dtype=object)
    split[is_app & (app_cum <= N_TEST)] = "test"
    split[is_app & (app_cum > N_TEST) & (app_cum <= N_TEST + N_DEV)] = "dev"
    pool = split == "train"
    pool_cum = np.cumsum(np.where(pool, groups["n"].to_numpy(), 0))
    split[pool & (pool_cum <= N_TD)] = "train_dev"
    df["split"] = df["group"].map(pd.Series(split, index=groups.index))
    df.to_parquet(out, index=False)


def split_polars(src: str, out: str) -> None:
    import polars as pl

    rows = pl.scan_parquet(src)
    groups = (rows.group_by("group")
              .agg(pl.len().alias("n"), pl.col("domain").first())
              .sort(pl.col("group").hash(seed=0))
              .with_columns(pl.when(pl.col("domain") == "app").then(pl.col("n")).otherwise(0)
                            .cum_sum().alias("app_cum"))
              .with_columns(pl.when((pl.col("domain") == "app") & (pl.col("app_cum") <= N_TEST))
                            .then(pl.lit("test"))
                            .when((pl.col("domain") == "app")
                                  & (pl.col("app_cum") <= N_TEST + N_DEV))
                            .then(pl.lit("dev")).otherwise(pl.lit("train")).alias("split"))
              .with_columns(pl.when(pl.col("split") == "train").then(pl.col("n")).otherwise(0)
                            .cum_sum().alias("pool_cum"))
              .with_columns(pl.when((pl.col("split") == "train") & (pl.col("pool_cum") <= N_TD))
                            .then(pl.lit("train_dev")).otherwise(pl.col("split")).alias("split"))
              .select("group", "split"))
    rows.join(groups, on="group", how="left").sink_parquet(out)


def split_duckdb(src: str, out: str) -> None:
    import duckdb

    con = duckdb.connect()
    con.execute("SET preserve_insertion_order = false")
    rel = con.sql(
        "SELECT *, CASE WHEN u < 0.0002 THEN 'test' WHEN u < 0.0004 THEN 'dev' "
        "WHEN u < 0.0015 THEN 'train_dev' ELSE 'train' END AS split FROM ("
        "SELECT *, ('0x' || substr(md5(\"group\" || ':salt'), 1, 8))::UBIGINT / 4294967296.0 AS u "
        "FROM read_parquet($src))", params={"src": src})
    rel.project("* EXCLUDE (u)").write_parquet(out)


if __name__ == "__main__":
    tool, src, out = sys.argv[1:4]
    {"pandas": split_pandas, "polars": split_polars, "duckdb": split_duckdb}[tool](src, out)

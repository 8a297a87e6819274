"""Near-duplicate leakage at scale: numeric rows at 10M, captions at the largest size that fits.

Numeric rows (4 columns, ``--rows`` rows, 1% of them near-copies of another row, each value
times 1 + 1e-9, so equal at 6 significant digits but not exactly): ``find_near_duplicates``
(rounded and grouped in DuckDB) against a lean pandas and a lean Polars equivalent (round to 6
significant digits, group by the rounded row, count per split). Base values have exactly 6
significant digits, so no value sits on a rounding tie and every tool's rounding agrees.

Captions (``--captions`` rows of 12 words, 10% near-copies: a trailing ".", upper case, one
word replaced): ``find_near_duplicates`` against a plain loop over ``datasketch`` (MinHash of
the 5-character shingles, MinHashLSH at Jaccard 0.5, candidates verified at 0.8), the same rule.
The per-caption cost is extrapolated to 10M captions in the summary, stated as such.

Every tool prints its counts (rows and pairs per pair of splits); the script stops when they
differ. Fresh processes, interleaved rounds, wall, CPU (user + sys of the child) and peak RSS
through ``/usr/bin/time`` (benchmarks/_harness.py); run it under ``nice`` on a shared machine::

    nice -n 10 python benchmarks/leakage_scale_bench.py --rows 10000000 --captions 20000
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import DATA, PY, SRC_ENV, generate_parquet, interleave, machine, markdown_table, summarize  # noqa: E402

SPLIT_OF = "CASE WHEN hash(i, 1) % 100 < 80 THEN 'train' WHEN hash(i, 1) % 100 < 85 THEN 'train_dev' " \
           "WHEN hash(i, 1) % 100 < 93 THEN 'dev' ELSE 'test' END"

GENERATE_NUMERIC = """
COPY (
  WITH src AS (
    SELECT i, CASE WHEN i >= {base} THEN hash(i, 99) % {base} ELSE i END AS j,
           CASE WHEN i >= {base} THEN 1 + 1e-9 ELSE 1.0 END AS nudge
    FROM range({rows}) t(i))
  SELECT 'r' || i AS id, {split} AS split, {columns}
  FROM src ORDER BY i
) TO '{{out}}' (FORMAT parquet)
"""

COLUMN = ("(100000 + hash(j, {c}) % 900000)::DOUBLE * pow(10, (hash(j, {c} + 10) % 7)::INT - 3) "
          "* CASE WHEN hash(j, {c} + 20) % 2 = 0 THEN 1 ELSE -1 END * nudge AS x{c}")

MLSTRAT = """
import json, sys
from mlstrat.splits import find_near_duplicates
kind = sys.argv[2]
kw = {"numeric": "x1,x2,x3,x4"} if kind == "numeric" else {"text": "caption"}
(f,) = find_near_duplicates(sys.argv[1], **kw).findings
print(json.dumps(sorted([c.first, c.second, c.rows, c.pairs] for c in f.counts)))
"""

# what a careful user writes: counts per pair of splits from per-group counts per split
TALLY = """
from itertools import combinations
SPLITS = ["train", "train_dev", "dev", "test"]
def tally(n, present, edges=()):
    # n: one dict split -> rows per group of equal content; edges: near pairs of groups
    near = {}
    for a, b in edges:
        near.setdefault(a, []).append(b); near.setdefault(b, []).append(a)
    out = []
    for first, second in [*combinations(present, 2)] + ([("train", "train")] if "train" in present else []):
        rows = pairs = 0
        for g, c in enumerate(n):
            own = c.get(first, 0) - (first == second)
            if c.get(second, 0) and (own > 0 or any(n[h].get(first, 0) for h in near.get(g, ()))):
                rows += c[second]
            pairs += c.get(first, 0) * c.get(second, 0) if first != second else c.get(first, 0) * (c.get(first, 0) - 1) // 2
        for a, b in edges:
            pairs += (n[a].get(first, 0) * n[b].get(second, 0) + n[b].get(first, 0) * n[a].get(second, 0)
                      if first != second else n[a].get(first, 0) * n[b].get(first, 0))
        out.append([first, second, rows, pairs])
    return sorted(out)
"""

NUMERIC_PEERS = TALLY + """
import json, sys
tool, path = sys.argv[1], sys.argv[2]
cols = ["x1", "x2", "x3", "x4"]
if tool == "pandas":
    import numpy as np, pandas as pd
    df = pd.read_parquet(path, columns=["split", *cols])
    for c in cols:
        x = df[c].to_numpy()
        e = 5 - np.floor(np.log10(np.abs(np.where(x == 0, 1, x)))).astype(np.int64)
        up = np.power(10.0, np.abs(e))
        df[c] = np.where(e >= 0, np.round(x * up) / up, np.round(x / up) * up) + 0.0
    g = df.groupby(cols, dropna=False)["split"].value_counts().rename("n").reset_index()
    g = g[g.groupby(cols, dropna=False)["n"].transform("sum") > 1]
    present = [s for s in SPLITS if s in set(df["split"].unique())]
    keys = g[cols].astype(str).agg("|".join, axis=1)
    groups = {}
    for k, s, n in zip(keys, g["split"], g["n"]):
        groups.setdefault(k, {})[s] = int(n)
else:
    import polars as pl
    lf = pl.scan_parquet(path)
    present = [s for s in SPLITS if s in set(lf.select(pl.col("split").unique()).collect()["split"].to_list())]
    g = (lf.select("split", *[(pl.col(c).round_sig_figs(6) + 0.0).alias(c) for c in cols])
           .group_by(cols).agg(*[(pl.col("split") == s).sum().alias(s) for s in SPLITS], pl.len().alias("_n"))
           .filter(pl.col("_n") > 1).collect(engine="streaming"))
    groups = {i: {s: int(r[s]) for s in SPLITS if r[s]} for i, r in enumerate(g.iter_rows(named=True))}
print(json.dumps(tally(list(groups.values()), present)))
"""

TEXT_PEER = TALLY + """
import json, re, sys
import pyarrow.parquet as pq
from datasketch import MinHash, MinHashLSH
t = pq.read_table(sys.argv[1], columns=["split", "caption"])
splits, captions = t["split"].to_pylist(), t["caption"].to_pylist()
def shingles(text):
    norm = " ".join(re.sub(r"[\\W_]+", " ", text.casefold()).split())
    return frozenset([norm]) if len(norm) <= 5 else frozenset(norm[i:i + 5] for i in range(len(norm) - 4))
index, sets, n = {}, [], []
for s, text in zip(splits, captions):
    sh = shingles(text)
    g = index.setdefault(sh, len(sets))
    if g == len(sets):
        sets.append(sh); n.append({})
    n[g][s] = n[g].get(s, 0) + 1
lsh, edges = MinHashLSH(threshold=0.5, num_perm=128), []
for g, sh in enumerate(sets):
    m = MinHash(num_perm=128, seed=1)
    m.update_batch([x.encode("utf-8") for x in sorted(sh)])
    for other in lsh.query(m):
        if len(sh & sets[other]) / len(sh | sets[other]) >= 0.8:
            edges.append((other, g))
    lsh.insert(g, m)
print(json.dumps(tally(n, [s for s in SPLITS if s in set(splits)], edges)))
"""


def generate_numeric(rows: int) -> Path:
    columns = ", ".join(COLUMN.format(c=c) for c in range(1, 5))
    sql = GENERATE_NUMERIC.format(base=rows - rows // 100, rows=rows, split=SPLIT_OF, columns=columns)
    return generate_parquet(sql, DATA / f"leakage_numeric_{rows}.parquet")


def generate_captions(rows: int) -> Path:
    """Captions of 12 words from a 5 000-word vocabulary; the last 10% near-copies of earlier ones."""
    out = DATA / f"leakage_captions_{rows}.parquet"
    if out.exists():
        return out
    import random

    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = random.Random(7)
    vocab = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(3, 9))) for _ in range(5000)]
    base = rows - rows // 10
    captions = [" ".join(rng.choice(vocab) for _ in range(12)) for _ in range(base)]
    for _ in range(rows - base):
        words = captions[rng.randrange(base)].split()
        change = rng.randrange(3)
        if change == 0:
            captions.append(" ".join(words) + ".")
        elif change == 1:
            captions.append(" ".join(words).upper())
        else:
            words[rng.randrange(12)] = rng.choice(vocab)
            captions.append(" ".join(words))
    splits = [rng.choices(["train", "train_dev", "dev", "test"], [80, 5, 8, 7])[0] for _ in range(rows)]
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp.parquet")
    pq.write_table(pa.table({"id": [f"c{i}" for i in range(rows)], "split": splits, "caption": captions}), tmp)
    os.replace(tmp, out)
    return out


def _checker() -> tuple[dict[str, str], Callable[[str, str], None]]:
    seen: dict[str, str] = {}

    def check(name: str, stdout: str) -> None:
        answer = [ln for ln in stdout.splitlines() if ln.startswith("[")][-1]
        seen[name] = answer
        if len(set(seen.values())) > 1:
            raise SystemExit(f"counts differ: {json.dumps(seen, indent=1)}")
        print(f"{name}: {answer[:160]}", flush=True)
    return seen, check


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--captions", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--caption-repeats", type=int, default=1)
    args = parser.parse_args()
    summary: dict[str, object] = {"machine": machine()}
    if args.rows:
        numeric = str(generate_numeric(args.rows))
        seen, check = _checker()
        runs = interleave({"mlstrat": lambda: [PY, "-c", MLSTRAT, numeric, "numeric"],
                           "pandas_lean": lambda: [PY, "-c", NUMERIC_PEERS, "pandas", numeric],
                           "polars_lean": lambda: [PY, "-c", NUMERIC_PEERS, "polars", numeric]},
                          args.repeats, env=SRC_ENV, check=check)
        summary["numeric"] = {"rows": args.rows, "counts": json.loads(seen["mlstrat"]), "tools": summarize(runs)}
        print(markdown_table(summary["numeric"]["tools"], label=f"numeric, {args.rows:,} rows"))
    if args.captions:
        captions = str(generate_captions(args.captions))
        seen, check = _checker()
        runs = interleave({"mlstrat": lambda: [PY, "-c", MLSTRAT, captions, "text"],
                           "datasketch_loop": lambda: [PY, "-c", TEXT_PEER, captions]},
                          args.caption_repeats, env=SRC_ENV, check=check)
        tools = summarize(runs)
        extrapolated = {name: round(row["cpu_s"]["median"] / args.captions * 10_000_000 / 3600, 1)
                        for name, row in tools.items()}
        summary["text"] = {"captions": args.captions, "counts": json.loads(seen["mlstrat"]), "tools": tools,
                           "extrapolated_cpu_hours_at_10M (linear in rows, not measured)": extrapolated}
        print(markdown_table(tools, label=f"text, {args.captions:,} captions"))
        print("extrapolated CPU hours at 10M captions (linear, not measured):", extrapolated)
    summary["load_avg_at_end"] = os.getloadavg()
    print(json.dumps(summary, indent=1))
    (DATA / f"leakage_scale_results_{args.rows}_{args.captions}.json").write_text(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()

"""Label issues on large predictions tables: rows vs wall time vs peak memory.

A synthetic predictions table (10 classes, 10% of the dev labels flipped, softmax
probabilities) is written to Parquet in chunks; each measurement runs ``mlstrat labels`` on
it in a fresh process and reads that process's peak RSS (``getrusage``), so runs don't share
caches or imports. ``--before SRC`` also runs another source tree (e.g. a checkout of the
previous version) on the same files, interleaved with this one, for a fair comparison on a
shared machine.

Run::

    PYTHONPATH=src .venv/bin/python benchmarks/labels_scale_bench.py --rows 500000,1500000,4500000
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import numpy as np

K = 10
CHUNK = 500_000

MEASURE = textwrap.dedent("""
    import inspect, json, resource, sys, time, warnings
    t0 = time.perf_counter()
    from mlstrat.errors import find_label_issues
    quiet = {"progress": False} if "progress" in inspect.signature(find_label_issues).parameters else {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = find_label_issues(sys.argv[1], split="dev", **quiet)
    wall = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB -> MiB on Linux
    print(json.dumps({"wall_s": wall, "peak_rss_mib": rss, "issues": len(res.issues),
                      "estimated": res.estimated_label_errors}))
""")


def write_table(path: Path, rows: int, seed: int = 0) -> None:
    """A predictions table of ``rows`` dev rows, written chunk by chunk (bounded memory)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    writer = None
    for start in range(0, rows, CHUNK):
        n = min(CHUNK, rows - start)
        true = rng.integers(K, size=n)
        logits = rng.normal(size=(n, K)) + 3.0 * np.eye(K)[true]
        probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        flip = rng.random(n) < 0.1
        given = np.where(flip, (true + rng.integers(1, K, size=n)) % K, true)
        table = pa.table({
            "id": pa.array([f"r{start + i:08d}" for i in range(n)]),
            "split": pa.array(["dev"] * n),
            "y_true": pa.array(given), "y_pred": pa.array(probs.argmax(1)),
            **{f"proba_{j}": pa.array(probs[:, j]) for j in range(K)},
        })
        if writer is None:
            writer = pq.ParquetWriter(path, table.schema)
        writer.write_table(table)
    writer.close()


def flipped_ids(rows: int, seed: int = 0) -> set[str]:
    """The ids whose label :func:`write_table` flipped (the same draws, replayed)."""
    rng = np.random.default_rng(seed)
    out: set[str] = set()
    for start in range(0, rows, CHUNK):
        n = min(CHUNK, rows - start)
        rng.integers(K, size=n)
        rng.normal(size=(n, K))
        flip = rng.random(n) < 0.1
        rng.integers(1, K, size=n)
        out.update(f"r{start + i:08d}" for i in np.flatnonzero(flip))
    return out


def measure(src: str, path: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": src}
    out = subprocess.run([sys.executable, "-c", MEASURE, str(path)], capture_output=True, text=True,
                         check=True, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="500000,1500000,4500000")
    parser.add_argument("--before", help="another source tree (its src folder) to compare with")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    here = str(Path(__file__).resolve().parents[1] / "src")
    results = []
    print("| rows | version | wall s | peak RSS MiB | suspects |")
    print("|---:|---|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        for rows in [int(r) for r in args.rows.split(",")]:
            path = Path(tmp) / f"preds_{rows}.parquet"
            write_table(path, rows)
            runs = [("this", here)] + ([("before", args.before)] if args.before else [])
            for name, src in runs:
                r = {"rows": rows, "version": name, **measure(src, path)}
                results.append(r)
                print(f"| {rows:,} | {name} | {r['wall_s']:.1f} | {r['peak_rss_mib']:.0f} | {r['issues']:,} |",
                      flush=True)
            path.unlink()
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

"""Benchmark: `mlstrat split` against a pandas + scikit-learn recipe on a 10M-row manifest.

Run under the shared lock (heavy: several GB of RAM, minutes of CPU)::

    flock /tmp/mlstrat-bench.lock python benchmarks/split_bench.py --rows 10000000 --reps 3
    flock /tmp/mlstrat-bench.lock python benchmarks/split_bench.py --big 100000000 --reps 0
    python benchmarks/split_bench.py --reps 2 --tools mlstrat,mlstrat_no_checks,mlstrat_before,polars,duckdb_floor \
        --before /path/to/checkout/of/the/code/before

(mlstrat runs with its default memory setting on the compared runs, ``2GB`` on the big file.)

Each measured run is a fresh process under ``/usr/bin/time`` (wall, CPU = user + system,
peak RSS; benchmarks/_harness.py). Rounds interleave mlstrat, the DuckDB floor (read + hash +
write), lean pandas and Polars (benchmarks/_split_peers.py) and the pandas + scikit-learn
GroupShuffleSplit recipe. Results go to ``benchmarks/data/split_results.json``.

The manifest: string ids, 10 labels, ~1M groups (10 rows each on average), 2 domains (95%
``web`` / 5% ``app``, constant within a group, as a user is on the web or on the app), and a
``path`` payload column. Both tools produce: dev and test from ``app`` rows only (10 000
rows each), a train-dev set of 10 000 rows from the training pool, groups never straddling
splits, output Parquet with a ``split`` column.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
DATA = HERE / "data"
SRC = HERE.parent / "src"


def generate(path: Path, rows: int, groups: int) -> None:
    """Write the synthetic manifest with DuckDB (streams; no Python rows)."""
    import duckdb

    con = duckdb.connect()
    con.execute("SET preserve_insertion_order = false")
    tmp = path.with_suffix(".tmp.parquet")
    con.execute(f"""
        COPY (
          SELECT 'ex-' || lpad(i::VARCHAR, 10, '0') AS id,
                 (hash(i * 31 + 7) % 10)::INTEGER AS label,
                 'g-' || (hash(i * 17 + 3) % {groups})::VARCHAR AS "group",
                 CASE WHEN hash((hash(i * 17 + 3) % {groups}) * 13 + 1) % 100 < 5 THEN 'app' ELSE 'web' END AS domain,
                 'images/' || lpad(i::VARCHAR, 10, '0') || '.jpg' AS path
          FROM range({rows}) t(i)
        ) TO '{tmp}' (FORMAT parquet, ROW_GROUP_SIZE 1000000)
    """)
    os.replace(tmp, path)


def sklearn_recipe(src: str, out: str, n_dev: int, n_test: int, n_td: int) -> None:
    """The pandas + scikit-learn way: read all, GroupShuffleSplit three times, write all."""
    import numpy as np
    import pandas as pd
    from sklearn.model_selection import GroupShuffleSplit

    df = pd.read_parquet(src)
    split = np.full(len(df), "train", dtype=object)
    target = np.flatnonzero((df["domain"] == "app").to_numpy())
    groups = df["group"].to_numpy()

    def draw(idx: np.ndarray, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        gss = GroupShuffleSplit(n_splits=1, test_size=n / len(idx), random_state=seed)
        keep, take = next(gss.split(idx, groups=groups[idx]))
        return idx[keep], idx[take]

    rest, test = draw(target, n_test, 0)
    rest, dev = draw(rest, n_dev, 1)
    split[test], split[dev] = "test", "dev"
    pool = np.flatnonzero(split == "train")
    _, train_dev = draw(pool, n_td, 2)
    split[train_dev] = "train_dev"
    df["split"] = split
    df.to_parquet(out, index=False)


def measure(cmd: list[str]) -> dict[str, float]:
    """Run ``cmd`` in a fresh intermediate process; return wall seconds and the child's peak RSS."""
    code = (
        "import json, resource, subprocess, sys, time\n"
        "t = time.perf_counter()\n"
        "rc = subprocess.run(sys.argv[1:]).returncode\n"
        "wall = time.perf_counter() - t\n"
        "rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
        "print(json.dumps({'rc': rc, 'wall_s': wall, 'peak_rss_mb': rss / 1024}))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    res = subprocess.run([sys.executable, "-c", code, *cmd], capture_output=True, text=True, env=env)
    lines = [ln for ln in res.stdout.splitlines() if ln.startswith("{\"rc\"")]
    if res.returncode or not lines:
        raise SystemExit(f"measurement failed: {res.stderr[-2000:]}")
    out = json.loads(lines[-1])
    if out["rc"]:
        raise SystemExit(f"command failed ({out['rc']}): {' '.join(cmd)}\n{res.stderr[-2000:]}")
    return out


def mlstrat_cmd(src: Path, out: Path, memory_limit: str | None, *, tree: Path | None = None,
                extra: tuple[str, ...] = ()) -> list[str]:
    """``tree``: run the mlstrat of another checkout (e.g. the code before a change)."""
    python = ["env", f"PYTHONPATH={tree / 'src'}", sys.executable] if tree else [sys.executable]
    cmd = [*python, "-m", "mlstrat", "split", str(src), "-o", str(out), "--label", "label",
           "--domain", "domain", "--target", "app", "--group", "group", "--dev-size", "10000",
           "--test-size", "10000", "--train-dev", "10000", "--force", "--json", *extra]
    if memory_limit:
        cmd += ["--memory-limit", memory_limit]
    return cmd


def sklearn_cmd(src: Path, out: Path) -> list[str]:
    return [sys.executable, str(Path(__file__).resolve()), "--recipe", str(src), str(out)]


def peer_cmd(tool: str, src: Path, out: Path) -> list[str]:
    return [sys.executable, str(HERE / "_split_peers.py"), tool, str(src), str(out)]


def compare(rows: int, groups: int, reps: int, memory_limit: str | None, *,
            only: list[str] | None = None, before: Path | None = None) -> dict:
    """mlstrat (default memory setting unless told; also without its data checks), the DuckDB
    floor, lean pandas, Polars, and the pandas + GroupShuffleSplit recipe, interleaved, each in
    a fresh process; ``only``: these tools; ``before``: also the mlstrat of that checkout."""
    from _harness import interleave, machine, markdown_table, summarize

    src = DATA / f"manifest_{rows}.parquet"
    if not src.exists():
        t = time.perf_counter()
        generate(src, rows, groups)
        print(f"generated {src} in {time.perf_counter() - t:.1f}s", flush=True)
    out = DATA / "out_split.parquet"
    tools = {"mlstrat": lambda: mlstrat_cmd(src, out, memory_limit),
             "mlstrat_no_checks": lambda: mlstrat_cmd(src, out, memory_limit, extra=("--no-checks",)),
             "duckdb_floor": lambda: peer_cmd("duckdb", src, out),
             "pandas_lean": lambda: peer_cmd("pandas", src, out),
             "polars": lambda: peer_cmd("polars", src, out),
             "pandas_sklearn_gss": lambda: sklearn_cmd(src, out)}
    if before is not None:
        tools["mlstrat_before"] = lambda: mlstrat_cmd(src, out, memory_limit, tree=before)
    if only:
        tools = {name: make for name, make in tools.items() if name in only}
    started = machine()
    runs = interleave(tools, reps, env={"PYTHONPATH": str(SRC)})
    out.unlink(missing_ok=True)
    summary = {"rows": rows, "groups": groups, "memory_limit": memory_limit or "default",
               "reps": reps, "machine": started, "load_avg_at_end": os.getloadavg(),
               "tools": summarize(runs, floor="duckdb_floor")}
    t = summary["tools"]
    peers = [p for p in ("pandas_lean", "polars", "pandas_sklearn_gss") if p in t]
    if peers and "mlstrat" in t:
        fastest_cpu = min(t[p]["cpu_s"]["median"] for p in peers)
        summary["mlstrat_cpu_x_fastest_peer"] = round(fastest_cpu / t["mlstrat"]["cpu_s"]["median"], 2)
    if "pandas_lean" in t and "mlstrat" in t:
        summary["mlstrat_rss_over_pandas_lean"] = round(
            t["mlstrat"]["peak_rss_mb"]["median"] / t["pandas_lean"]["peak_rss_mb"]["median"], 2)
    print(json.dumps(summary, indent=2))
    print(markdown_table(t, label=f"{rows:,} rows"))
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--groups", type=int, default=1_000_000)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--big", type=int, default=0, help="also run mlstrat alone on this many rows")
    parser.add_argument("--memory-limit", default=None,
                        help="DuckDB memory limit for mlstrat on the compared runs (default: none given)")
    parser.add_argument("--big-memory-limit", default="2GB", help="DuckDB memory limit for the big run")
    parser.add_argument("--tools", default=None,
                        help="comma-separated: run only these (mlstrat, mlstrat_no_checks, mlstrat_before, "
                             "duckdb_floor, pandas_lean, polars, pandas_sklearn_gss)")
    parser.add_argument("--before", type=Path, default=None,
                        help="a checkout whose mlstrat also runs, as mlstrat_before (the code before a change)")
    parser.add_argument("--keep-big", action="store_true", help="keep the big file (deleted by default)")
    parser.add_argument("--recipe", nargs=2, metavar=("SRC", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.recipe:
        sklearn_recipe(*args.recipe, n_dev=10_000, n_test=10_000, n_td=10_000)
        return

    DATA.mkdir(parents=True, exist_ok=True)
    results_path = DATA / "split_results.json"
    results = json.loads(results_path.read_text()) if results_path.exists() else {}
    if args.reps:
        only = args.tools.split(",") if args.tools else None
        results[str(args.rows)] = compare(args.rows, args.groups, args.reps, args.memory_limit, only=only,
                                          before=args.before)
    if args.big:
        src = DATA / f"manifest_{args.big}.parquet"
        try:
            if not src.exists():
                t = time.perf_counter()
                generate(src, args.big, args.big // 10)
                print(f"generated {src} in {time.perf_counter() - t:.1f}s", flush=True)
            out = DATA / "out_big.parquet"
            m = measure(mlstrat_cmd(src, out, args.big_memory_limit))
            print(json.dumps({"tool": "mlstrat", "rows": args.big, **m}), flush=True)
            results[f"big_{args.big}"] = {"rows": args.big, "groups": args.big // 10,
                                          "memory_limit": args.big_memory_limit, "run": m,
                                          "file_mb": src.stat().st_size / 2**20}
            out.unlink(missing_ok=True)
        finally:
            if not args.keep_big:
                src.unlink(missing_ok=True)
    results_path.write_text(json.dumps(results, indent=2))
    print(f"results in {results_path}")


if __name__ == "__main__":
    main()

"""Benchmark: `mlstrat diagnose PRED` vs a pandas + scikit-learn script on the same figures.

Usage (heavy runs under the shared lock):

    python benchmarks/diagnose_bench.py generate --rows 100000000
    flock /tmp/mlstrat-bench.lock python benchmarks/diagnose_bench.py run --rows 100000000
    python benchmarks/diagnose_bench.py fingerprint --rows 100000000   # the test-set hash alone
    python benchmarks/diagnose_bench.py light   # start-up of `mlstrat diagnose --errors`
    python benchmarks/diagnose_bench.py clean

Every tool runs as a fresh subprocess, interleaved (mlstrat, mlstrat --no-record, the DuckDB
floor, lean pandas, Polars streaming, then again), under ``/usr/bin/time`` for wall time, CPU
time and peak RSS (benchmarks/_harness.py). The peers (benchmarks/_diagnose_peers.py) compute,
per split: n, error with a Wilson 95% interval, weighted error, per-class precision/recall/F1
and their macro averages, and the confusion matrix, from ONE grouping; the floor is the one
DuckDB query that only reads and groups. The script checks that every tool agrees on every
split's error and interval.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import (DATA, HERE, PY, ROOT, SRC_ENV, clean, generate_parquet, interleave, machine,  # noqa: E402
                      markdown_table, measure, summarize)


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

def data_path(rows: int) -> Path:
    return DATA / f"predictions_{rows}.parquet"


def generate(rows: int) -> Path:
    return generate_parquet(GENERATE_SQL.replace("{rows}", str(rows)), data_path(rows))


def timed(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, float, str]:
    """Run ``cmd`` under /usr/bin/time: (wall seconds, peak RSS in MB, stdout)."""
    res = measure(cmd, env=env)
    return float(res["wall_s"]), float(res["peak_rss_mb"]), str(res["stdout"])


def mlstrat_cmd(path: Path, *, record: bool = True, src: Path | None = None) -> list[str]:
    """The default command records a run (fingerprints the file and its test set); the
    store goes to a scratch file so the benchmark leaves nothing in the checkout. ``--test``
    asks for the test figures, so every tool computes the same four splits. ``src``: run
    another source tree's mlstrat (a previous version, for a before/after in the same run)."""
    store = ["--store", str(DATA / "bench-runs.db")] if record else ["--no-record"]
    prefix = ["env", f"PYTHONPATH={src}"] if src is not None else []
    return [*prefix, PY, "-m", "mlstrat", "diagnose", str(path), "--human", "1%", "--test", "--json",
            *store]


def peer_cmd(tool: str, path: Path) -> list[str]:
    return [PY, str(HERE / "_diagnose_peers.py"), tool, str(path)]


def _checker(reference: dict[str, dict]) -> "Callable[[str, str], None]":
    """Every tool must report the same error and Wilson bounds per split (to 1e-12)."""
    def check(tool: str, stdout: str) -> None:
        doc = json.loads(stdout)
        errors = doc.get("errors", doc)
        for split, ref in reference.items():
            mine = errors[split]
            value = mine.get("value", mine.get("error"))
            if abs(value - ref["error"]) > 1e-12 or abs(mine["ci_low"] - ref["ci_low"]) > 1e-12:
                raise SystemExit(f"{tool} disagrees on {split}: {mine} vs {ref}")
    return check


def run(rows: int, repeats: int, baseline: bool, *, before: Path | None = None,
        pandas: bool = True) -> dict:
    path = generate(rows)
    reference = json.loads(measure(peer_cmd("duckdb", path))["stdout"])
    tools = {"mlstrat": lambda: mlstrat_cmd(path),
             "mlstrat_no_record": lambda: mlstrat_cmd(path, record=False)}
    if before is not None:
        tools["before"] = lambda: mlstrat_cmd(path, src=before)
        tools["before_no_record"] = lambda: mlstrat_cmd(path, record=False, src=before)
    tools["duckdb_floor"] = lambda: peer_cmd("duckdb", path)
    if baseline and pandas:
        tools["pandas_lean"] = lambda: peer_cmd("pandas", path)
    if baseline:
        tools["polars_streaming"] = lambda: peer_cmd("polars", path)
    runs = interleave(tools, repeats, env=SRC_ENV, check=_checker(reference))
    summary = {"rows": rows, "file_gb": round(path.stat().st_size / 1e9, 3),
               "repeats": repeats, "machine": machine(),
               "tools": summarize(runs, floor="duckdb_floor")}
    summary["machine"]["load_avg_at_end"] = os.getloadavg()  # the load beside the figures, both ends
    peers = [t for t in ("pandas_lean", "polars_streaming") if t in summary["tools"]]
    if peers:
        fastest = min(summary["tools"][t]["wall_s"]["median"] for t in peers)
        for t in [t for t in ("mlstrat", "mlstrat_no_record", "before", "before_no_record")
                  if t in summary["tools"]]:
            summary["tools"][t]["x_fastest_peer"] = round(
                fastest / summary["tools"][t]["wall_s"]["median"], 2)
    print(json.dumps(summary, indent=2))
    print(markdown_table(summary["tools"], label=f"{rows:,} rows"))
    out = DATA / f"diagnose_results_{rows}{'_before' if before else ''}.json"
    out.write_text(json.dumps(summary, indent=2))
    return summary


FINGERPRINT_PROBE = """
import sys, time
from mlstrat.sealing import _fingerprint as _record
from mlstrat.tables._duckdb_engine import DuckDBEngine
from mlstrat.tables._engine import Engine
if sys.argv[2] == "portable":  # the hex-digest form every engine has (the one Spark runs)
    DuckDBEngine.md5_low64_parts = Engine.md5_low64_parts
print(_record._fingerprint_test_set(sys.argv[1]))
"""


def fingerprint(rows: int, repeats: int) -> dict:
    """The test-set fingerprint alone, DuckDB's md5_number form vs the portable hex form,
    interleaved in fresh processes; both must give the same fingerprint."""
    path = generate(rows)
    tools = {form: (lambda form=form: [PY, "-c", FINGERPRINT_PROBE, str(path), form])
             for form in ("md5_number", "portable")}
    seen: set[str] = set()

    def check(tool: str, stdout: str) -> None:
        seen.add(stdout.strip().splitlines()[-1].split()[-1])  # after DuckDB's progress bar
        if len(seen) > 1:
            raise SystemExit(f"the forms disagree: {seen}")

    summary = {"rows": rows, "repeats": repeats, "machine": machine(), "fingerprint": None,
               "tools": summarize(interleave(tools, repeats, env=SRC_ENV, check=check))}
    summary["fingerprint"] = seen.pop()
    print(json.dumps(summary, indent=2))
    print(markdown_table(summary["tools"], label=f"{rows:,} rows"))
    (DATA / f"fingerprint_results_{rows}.json").write_text(json.dumps(summary, indent=2))
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
    r.add_argument("--no-pandas", action="store_true", help="leave the lean pandas peer out")
    r.add_argument("--before", type=Path, metavar="SRC",
                   help="also run the mlstrat of this source folder (e.g. an earlier version's src/)")
    f = sub.add_parser("fingerprint", help="the test-set fingerprint alone: fast vs portable form")
    f.add_argument("--rows", type=int, default=100_000_000)
    f.add_argument("--repeats", type=int, default=3)
    lt = sub.add_parser("light")
    lt.add_argument("--repeats", type=int, default=15)
    sub.add_parser("clean")
    args = parser.parse_args()
    if args.cmd == "generate":
        generate(args.rows)
    elif args.cmd == "run":
        run(args.rows, args.repeats, not args.no_baseline, before=args.before, pandas=not args.no_pandas)
    elif args.cmd == "fingerprint":
        fingerprint(args.rows, args.repeats)
    elif args.cmd == "light":
        light(args.repeats)
    else:
        clean("predictions_*.parquet", "bench-runs.db*")


if __name__ == "__main__":
    main()

"""Benchmark: the same commands on DuckDB and on Spark (local[2], local[1]), interleaved.

    python benchmarks/engine_bench.py --split-rows 10000000 --diagnose-rows 100000000 --repeats 3

Each run is a fresh ``mlstrat`` process under ``/usr/bin/time`` (``_harness.measure``):
start-up included (a Spark JVM starts in every run, as it would for a CLI user), wall time,
CPU time (user + system) and peak RSS. The engines of one benchmark run interleaved
(duckdb, spark local[2], spark local[1], duckdb, ...) so a busy machine slows them alike;
the summary gives the median and min-max. DuckDB is the floor (``wall ÷ floor``);
``local[1]`` against ``local[2]`` gives Spark's parallel efficiency on this machine
(``wall(local[1]) / (2 x wall(local[2]))``).

Spark gets its master from ``PYSPARK_SUBMIT_ARGS`` (``--master local[K] --driver-memory 4g``)
and otherwise its default configuration (adaptive query execution on). The JVM is a child
of the Python process: CPU time counts it once the JVM has been waited for; peak RSS is the
largest single process of the run (usually the JVM), not the sum.

Inputs are those of ``split_bench.py`` (string ids, 10 labels, groups of ~10 rows, 5% app
domain; split with label + group + target + train-dev) and ``diagnose_bench.py``
(4 splits, 10 classes, weights). Every engine's split summary must equal DuckDB's (checked).
Results: ``benchmarks/data/engine_results.json`` and Markdown tables on stdout.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _harness import DATA, PY, SRC_ENV, interleave, machine, markdown_table, summarize  # noqa: E402

SPARK_ARGS = "--master local[{k}] --driver-memory 4g pyspark-shell"
ENGINES = {
    "duckdb": {"MLSTRAT_ENGINE": "duckdb"},
    "spark local[2]": {"MLSTRAT_ENGINE": "spark", "PYSPARK_SUBMIT_ARGS": SPARK_ARGS.format(k=2)},
    "spark local[1]": {"MLSTRAT_ENGINE": "spark", "PYSPARK_SUBMIT_ARGS": SPARK_ARGS.format(k=1)},
}


def split_inputs(rows: int) -> Path:
    from split_bench import generate

    path = DATA / f"manifest_{rows}.parquet"
    if not path.exists():
        DATA.mkdir(exist_ok=True)
        generate(path, rows, max(1, rows // 10))
    return path


def diagnose_inputs(rows: int) -> Path:
    import diagnose_bench

    path = diagnose_bench.data_path(rows)
    if not path.exists():
        diagnose_bench.generate(rows)
    return path


def _command(engine: str, args: list[str]) -> list[str]:
    """``env VAR=... python -m mlstrat ...``: ``env`` execs Python, so time measures mlstrat."""
    settings = [f"{k}={v}" for k, v in {**ENGINES[engine], **SRC_ENV}.items()]
    return ["env", *settings, PY, "-m", "mlstrat", *args]


def _split_args(manifest: Path, out: Path, rows: int) -> list[str]:
    """dev, test and train-dev 10 000 rows each (fewer below 1M rows: 1%, so a smoke run fits)."""
    size = str(min(10_000, rows // 100))
    return ["split", str(manifest), "-o", str(out), "--label", "label", "--domain", "domain",
            "--target", "app", "--group", "group", "--dev-size", size, "--test-size", size,
            "--train-dev", size, "--force", "--json"]


def _same_summary() -> object:
    """A ``check`` for interleave: every engine's split JSON equals the first engine's."""
    first: dict[str, object] = {}

    def check(tool: str, stdout: str) -> None:
        summary = json.loads(stdout)
        summary.pop("output", None)
        if not first:
            first.update(summary)
        elif summary != first:
            raise SystemExit(f"{tool}: the split summary differs from the first engine's")
    return check


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split-rows", type=int, default=10_000_000)
    parser.add_argument("--diagnose-rows", type=int, default=100_000_000)
    parser.add_argument("--repeats", "--reps", type=int, default=3)
    parser.add_argument("--engines", default=",".join(ENGINES), help="comma-separated subset")
    args = parser.parse_args()
    engines = [e.strip() for e in args.engines.split(",")]
    unknown = [e for e in engines if e not in ENGINES]
    if unknown:
        raise SystemExit(f"unknown engine(s) {unknown}; choose from {list(ENGINES)}")
    work = Path(tempfile.mkdtemp(prefix="engine-bench-"))
    store = {"MLSTRAT_STORE": str(work / "runs.db")}
    results: dict[str, object] = {"machine": machine(), "engines": {e: ENGINES[e] for e in engines}}
    if args.split_rows:
        manifest = split_inputs(args.split_rows)
        def split_of(engine: str) -> list[str]:
            out = work / f"split-{engine.replace(' ', '_')}.parquet"
            return _command(engine, _split_args(manifest, out, args.split_rows))

        tools = {e: (lambda e=e: split_of(e)) for e in engines}
        runs = interleave(tools, args.repeats, env=store, check=_same_summary())
        results["split"] = {"rows": args.split_rows, "summary": summarize(runs, floor=engines[0])}
        print(markdown_table(results["split"]["summary"], label=f"split {args.split_rows:,} rows"))
    if args.diagnose_rows:
        preds = diagnose_inputs(args.diagnose_rows)
        diagnose = ["diagnose", str(preds), "--human", "1%", "--json"]
        tools = {e: (lambda e=e: _command(e, diagnose)) for e in engines}
        runs = interleave(tools, args.repeats, env=store)
        results["diagnose"] = {"rows": args.diagnose_rows, "summary": summarize(runs, floor=engines[0])}
        print(markdown_table(results["diagnose"]["summary"], label=f"diagnose {args.diagnose_rows:,} rows"))
    DATA.mkdir(exist_ok=True)
    (DATA / "engine_results.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()

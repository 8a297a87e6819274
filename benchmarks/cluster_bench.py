"""Benchmark: the engine benchmark's split and diagnose on a Spark standalone cluster of two
workers on this machine, beside DuckDB and Spark ``local[2]``, interleaved.

    python benchmarks/cluster_bench.py --split-rows 10000000 --diagnose-rows 100000000 --repeats 1

The cluster is started from the pyspark package (``tests/_spark_cluster.py``: a master and
``--workers`` workers of 1 core and ``--worker-memory`` each, every port picked by the
kernel) and torn down at the end. Every Spark run writes Spark's event log
(``spark.eventLog.enabled``) to a folder of its own; from it the script sums the task
metrics: executors added, tasks, executor run time and CPU time, shuffle bytes written and
read (local and remote), input bytes. ``/usr/bin/time`` measures the ``mlstrat`` process
and its driver JVM (wall, CPU, peak RSS of the largest process); the executors' CPU is not
in it (they are the workers' children), so it is reported from the event log.

Inputs and the split's options are ``engine_bench.py``'s; every engine's split summary must
equal DuckDB's (checked). The load average is recorded before and after every run.
Results: ``benchmarks/data/cluster_results.json`` and Markdown tables on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))  # tests/_spark_cluster.py starts the cluster

from _harness import DATA, PY, SRC_ENV, machine, markdown_table, measure, summarize  # noqa: E402
from engine_bench import _same_summary, _split_args, diagnose_inputs, split_inputs  # noqa: E402

_LOOPBACK = {"spark.driver.host": "127.0.0.1", "spark.driver.bindAddress": "127.0.0.1"}


def engines(url: str, worker_memory: str) -> dict[str, tuple[str, dict[str, str]]]:
    """Engine name -> (``--engine`` value, ``--conf`` settings)."""
    spark = {**_LOOPBACK, "spark.driver.memory": "2g"}
    return {"duckdb": ("duckdb", {}),
            "spark local[2]": ("local[2]", spark),
            "spark cluster 2x1 core": (url, {**spark, "spark.executor.memory": worker_memory,
                                                 "spark.executor.cores": "1"})}


def _command(engine: str, confs: dict[str, str], events: Path | None, args: list[str]) -> list[str]:
    settings = dict(confs)
    if events is not None:
        events.mkdir(parents=True)
        # one plain JSON-lines file per run (Spark 4 rolls and compresses event logs by default)
        settings.update({"spark.eventLog.enabled": "true", "spark.eventLog.dir": events.as_uri(),
                         "spark.eventLog.compress": "false", "spark.eventLog.rolling.enabled": "false"})
    flags = [x for k, v in settings.items() for x in ("--conf", f"{k}={v}")]
    env = [f"{k}={v}" for k, v in SRC_ENV.items()]
    return ["env", *env, PY, "-m", "mlstrat", *args, "--engine", engine, *flags]


def event_metrics(events: Path) -> dict[str, float]:
    """Sums over Spark's event log(s) in ``events``: executors, tasks, run and CPU time,
    shuffle and input bytes."""
    out = {"executors": 0, "tasks": 0, "executor_run_s": 0.0, "executor_cpu_s": 0.0,
           "shuffle_write_mb": 0.0, "shuffle_read_local_mb": 0.0, "shuffle_read_remote_mb": 0.0,
           "input_mb": 0.0}
    for log in (p for p in events.rglob("*") if p.is_file() and not p.name.startswith(".")):
        for line in log.read_text().splitlines():
            event = json.loads(line)
            if event["Event"] == "SparkListenerExecutorAdded":
                out["executors"] += 1
            elif event["Event"] == "SparkListenerTaskEnd" and event.get("Task Metrics"):
                m = event["Task Metrics"]
                out["tasks"] += 1
                out["executor_run_s"] += m["Executor Run Time"] / 1e3
                out["executor_cpu_s"] += m["Executor CPU Time"] / 1e9
                out["shuffle_write_mb"] += m["Shuffle Write Metrics"]["Shuffle Bytes Written"] / 1e6
                out["shuffle_read_local_mb"] += m["Shuffle Read Metrics"]["Local Bytes Read"] / 1e6
                out["shuffle_read_remote_mb"] += m["Shuffle Read Metrics"]["Remote Bytes Read"] / 1e6
                out["input_mb"] += m["Input Metrics"]["Bytes Read"] / 1e6
    return {k: round(v, 1) if isinstance(v, float) else v for k, v in out.items()}


def run_rounds(name: str, args_of, table: dict, repeats: int, work: Path, check=None) -> dict:
    """Each engine once per round, interleaved; wall/CPU/RSS and the event-log sums per run."""
    runs: dict[str, list[dict]] = {e: [] for e in table}
    for round_no in range(repeats):
        for engine, (value, confs) in table.items():
            events = None if engine == "duckdb" else work / "events" / f"{name}-{round_no}-{engine.replace(' ', '_')}"
            load_before = os.getloadavg()
            res = measure(_command(value, confs, events, args_of(engine)),
                          env={"MLSTRAT_STORE": str(work / "runs.db")})
            stdout = str(res.pop("stdout"))
            if check is not None:
                check(engine, stdout)
            res["load_before_after"] = [round(load_before[0], 1), round(os.getloadavg()[0], 1)]
            if events is not None:
                res["spark"] = event_metrics(events)
            runs[engine].append(res)
            print(f"{name} round {round_no + 1} {engine}: {json.dumps(res)}", flush=True)
    return {"summary": summarize(runs, floor="duckdb"), "runs": runs}


def main() -> None:
    from tests._spark_cluster import standalone_cluster

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split-rows", type=int, default=10_000_000)
    parser.add_argument("--diagnose-rows", type=int, default=100_000_000)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--worker-memory", default="3g")
    parser.add_argument("--engines", default="", help="comma-separated subset (default: all)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="cluster-bench-"))
    results: dict[str, object] = {"machine": machine(), "workers": args.workers,
                                  "worker_memory": args.worker_memory}
    with standalone_cluster(work / "cluster", workers=args.workers, cores=1, memory=args.worker_memory) as cluster:
        table = engines(cluster.url, args.worker_memory)
        if args.engines:
            table = {e: table[e] for e in args.engines.split(",")}
        results["engines"] = {e: {"engine": v, "conf": c} for e, (v, c) in table.items()}
        if args.split_rows:
            manifest = split_inputs(args.split_rows)

            def split_args(engine: str) -> list[str]:
                out = work / f"split-{engine.replace(' ', '_').replace(',', '')}.parquet"
                return _split_args(manifest, out, args.split_rows)
            results["split"] = {"rows": args.split_rows,
                                **run_rounds("split", split_args, table, args.repeats, work, _same_summary())}
            print(markdown_table(results["split"]["summary"], label=f"split {args.split_rows:,} rows"))
        if args.diagnose_rows:
            preds = diagnose_inputs(args.diagnose_rows)
            diagnose = ["diagnose", str(preds), "--human", "1%", "--json"]
            results["diagnose"] = {"rows": args.diagnose_rows,
                                   **run_rounds("diagnose", lambda e: diagnose, table, args.repeats, work)}
            print(markdown_table(results["diagnose"]["summary"], label=f"diagnose {args.diagnose_rows:,} rows"))
        results["completed_apps"] = [{k: a.get(k) for k in ("name", "cores", "memoryperslave", "duration", "state")}
                                     for a in cluster.status()["completedapps"]]
    results["load_avg_at_end"] = os.getloadavg()
    DATA.mkdir(exist_ok=True)
    (DATA / "cluster_results.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()

"""Shared measuring code for the table benchmarks: fresh processes, interleaved rounds.

Every measured command runs as its own process under ``/usr/bin/time``, which reports wall
time, CPU time (user + system, all threads) and peak resident memory. The tools of one
comparison run interleaved (a, b, c, a, b, c, ...) so that the machine's background load
hits each of them alike; the summary gives the median and the min-max of every figure.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DATA = HERE / "data"
PY = sys.executable
SRC_ENV = {"PYTHONPATH": str(ROOT / "src")}


def generate_parquet(sql: str, out: Path) -> Path:
    """Write ``out`` (once) with DuckDB's ``sql``, a ``COPY (...) TO '{out}'`` template:
    through a temporary file and a rename, so an interrupted run leaves no half file."""
    import time

    import duckdb

    if out.exists():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp.parquet")
    start = time.perf_counter()
    duckdb.connect().execute(sql.format(out=tmp))
    tmp.rename(out)
    print(f"generated {out} ({out.stat().st_size / 1e9:.2f} GB) in {time.perf_counter() - start:.1f} s")
    return out


def clean(*patterns: str) -> None:
    """Remove the generated files under ``benchmarks/data`` that match ``patterns``."""
    for pattern in patterns:
        for path in DATA.glob(pattern):
            path.unlink()
            print(f"removed {path}")


def measure(cmd: Sequence[str], *, env: Mapping[str, str] | None = None,
            cwd: Path = ROOT) -> dict[str, object]:
    """Run ``cmd``; return wall_s, cpu_s (user + sys), peak_rss_mb and its stdout."""
    proc = subprocess.run(
        ["/usr/bin/time", "-f", "TIME %e %U %S %M", *cmd],
        capture_output=True, text=True, cwd=cwd, env={**os.environ, **(env or {})},
    )
    if proc.returncode not in (0, 1):
        raise SystemExit(f"failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stderr[-3000:]}")
    line = [x for x in proc.stderr.splitlines() if x.startswith("TIME ")][-1]
    _, wall, user, system, rss_kb = line.split()
    return {"wall_s": float(wall), "cpu_s": round(float(user) + float(system), 2),
            "peak_rss_mb": round(int(rss_kb) / 1024, 1), "stdout": proc.stdout}


def interleave(tools: Mapping[str, Callable[[], Sequence[str]]], repeats: int, *,
               env: Mapping[str, str] | None = None,
               check: Callable[[str, str], None] | None = None) -> dict[str, list[dict]]:
    """Run every tool once per round, ``repeats`` rounds; ``check(tool, stdout)`` may assert."""
    runs: dict[str, list[dict]] = {name: [] for name in tools}
    for round_no in range(repeats):
        for name, make_cmd in tools.items():
            res = measure(make_cmd(), env=env)
            if check is not None:
                check(name, str(res.pop("stdout")))
            else:
                res.pop("stdout")
            runs[name].append(res)
            print(json.dumps({"round": round_no, "tool": name, **res}), flush=True)
    return runs


def summarize(runs: Mapping[str, list[dict]], *, floor: str | None = None) -> dict[str, dict]:
    """Median and min-max of each figure per tool; ``x_floor`` = median wall / the floor's."""
    out: dict[str, dict] = {}
    for name, rs in runs.items():
        row: dict[str, object] = {}
        for key in ("wall_s", "cpu_s", "peak_rss_mb"):
            values = [float(r[key]) for r in rs]
            row[key] = {"median": round(statistics.median(values), 3),
                        "min": min(values), "max": max(values), "all": values}
        out[name] = row
    if floor and floor in out:
        base_wall = out[floor]["wall_s"]["median"]
        base_cpu = out[floor]["cpu_s"]["median"]
        for row in out.values():
            row["wall_x_floor"] = round(row["wall_s"]["median"] / base_wall, 2)
            row["cpu_x_floor"] = round(row["cpu_s"]["median"] / base_cpu, 2) if base_cpu else None
    return out


def machine() -> dict[str, object]:
    """What the figures were measured on (recorded beside them)."""
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {"cpus": os.cpu_count(), "python": platform.python_version(),
            "machine": platform.machine(), "load_avg_at_start": load}


def markdown_table(summary: Mapping[str, dict], *, label: str) -> str:
    """One Markdown row per tool: median (min-max) of wall, CPU, peak RSS, x floor."""
    lines = [f"| {label} | tool | wall s, median (min–max) | CPU s | peak RSS MB | wall ÷ floor |",
             "|---|---|---|---|---|---|"]
    for name, row in summary.items():
        def cell(key: str) -> str:
            v = row[key]
            return f"{v['median']:.2f} ({v['min']:.2f}–{v['max']:.2f})"
        lines.append(f"| | {name} | {cell('wall_s')} | {cell('cpu_s')} | "
                     f"{row['peak_rss_mb']['median']:.0f} | {row.get('wall_x_floor', '')} |")
    return "\n".join(lines)

"""Peak memory of a command, and tables larger than a bound: the tools of the driver-memory tests.

A command runs under a fresh wrapper process whose only child it is, so the peak resident size
the wrapper reads from ``getrusage(RUSAGE_CHILDREN)`` is that command's alone (the test
process's own children, earlier tests' included, never count).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.processes import env

_WRAPPER = """
import json, resource, subprocess, sys
done = subprocess.run(sys.argv[1:], capture_output=True, text=True)
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024  # kilobytes on Linux
print(json.dumps({"rc": done.returncode, "peak": peak, "stdout": done.stdout, "stderr": done.stderr}))
"""

MB = 1 << 20


def peak_rss(args: list[str], cwd: Path, **extra_env: str) -> tuple[int, int, str, str]:
    """Run ``python -m mlstrat ARGS``: (exit code, peak resident bytes, stdout, stderr)."""
    done = subprocess.run([sys.executable, "-c", _WRAPPER, sys.executable, "-m", "mlstrat", *args], cwd=cwd,
                          env=env(**extra_env), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    return out["rc"], out["peak"], out["stdout"], out["stderr"]


def write_big_table(path: Path, select: str, rows: int, *, row_group: int = 8192) -> int:
    """Write ``SELECT <select> FROM range(rows)`` (columns of ``i``, the row number) to Parquet with
    DuckDB, never through Python, in row groups of ``row_group`` rows (readers hold a row group's
    columns at a time); returns the bytes its columns take decoded in memory (Arrow)."""
    import duckdb

    con = duckdb.connect()
    con.execute("SET threads = 1")
    con.execute("SET enable_progress_bar = false")
    query = f"SELECT {select} FROM range({rows}) AS t(i)"
    con.execute(f"COPY ({query}) TO '{path}' (FORMAT PARQUET, ROW_GROUP_SIZE {row_group})")
    width = con.sql(f"SELECT * FROM ({query}) LIMIT 1").to_arrow_table().nbytes
    con.close()
    return width * rows

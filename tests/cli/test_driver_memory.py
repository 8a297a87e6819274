"""`report` and `labels` keep the table in the engine: run on a predictions table whose
probability columns alone are larger than a memory cap, the command's process stays under
the cap.

How the cap is checked: the command runs under a small wrapper process whose only child it is,
and its peak resident memory comes from the kernel's accounting of that child
(``getrusage(RUSAGE_CHILDREN)`` in the wrapper, ``tests/memory.py``), compared with the cap
after it exits. An address-space limit (``RLIMIT_AS``) would be the obvious
tool, but DuckDB, PyArrow and the JVM reserve large virtual ranges they never touch, so such
a limit fails for reasons unrelated to what is loaded. DuckDB's own buffers are capped with
its memory limit (``MLSTRAT_MEMORY_LIMIT``), Spark's driver with ``spark.driver.memory``.
The table's values repeat, so the file is small on disk while its probabilities decode to
hundreds of MB; the cap leaves a wide margin over the peak measured (about 230-270 MB), and
nothing here depends on time.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.memory import MB, peak_rss

pytestmark = pytest.mark.slow

ROWS, CLASSES = 8_000_000, 8
#: bytes of the probability columns as float64: 8M x 8 x 8 = 512 MB
PROBA_BYTES = ROWS * CLASSES * 8
CAP_MB = 450


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    """Predictions with repeating values: every 997th label flipped, the rest predicted right."""
    import duckdb

    path = tmp_path_factory.mktemp("big") / "preds.parquet"
    cols = ", ".join(f"CASE WHEN i % {CLASSES} = {j} THEN 0.93 ELSE {0.07 / (CLASSES - 1)!r} END AS proba_{j}"
                     for j in range(CLASSES))
    duckdb.sql(f"""COPY (SELECT i AS id, CASE WHEN i % 5 = 0 THEN 'train' ELSE 'dev' END AS split,
                 CASE WHEN i % 997 = 0 THEN (i + 1) % {CLASSES} ELSE i % {CLASSES} END AS y_true,
                 i % {CLASSES} AS y_pred, {cols} FROM range({ROWS}) t(i)) TO '{path}' (FORMAT parquet)""")
    assert PROBA_BYTES / 2**20 > CAP_MB
    return path


def run_capped(*args: str, cwd: Path) -> tuple[int, str, float]:
    """(exit code, output, peak RSS in MB) of ``python -m mlstrat ARGS``, its peak read by a small
    wrapper process (``tests/memory.py``): a child forked straight from this test process would
    start from this process's own peak, which the kernel carries into the child's account."""
    code, peak, stdout, stderr = peak_rss(list(args), cwd, MLSTRAT_MEMORY_LIMIT="256MB", COLUMNS="120")
    return code, stdout + stderr, peak / MB


def test_labels_on_a_table_larger_than_the_cap(big, tmp_path):
    out = tmp_path / "issues.parquet"
    code, output, peak = run_capped("labels", str(big), "--split", "dev", "-o", str(out), cwd=tmp_path)
    assert code == 0, output
    import pyarrow.parquet as pq

    issues = pq.read_table(out)
    flipped_in_dev = sum(1 for i in range(0, ROWS, 997) if i % 5)
    assert issues.num_rows == flipped_in_dev  # every flipped dev label, and nothing else
    assert peak < CAP_MB, f"labels peaked at {peak:.0f} MB; cap {CAP_MB} MB"


def test_report_on_a_table_larger_than_the_cap(big, tmp_path):
    out = tmp_path / "report.html"
    code, output, peak = run_capped("report", str(big), "-o", str(out), cwd=tmp_path)
    assert code == 0, output
    flat = " ".join(output.split())
    assert "probability curves" in flat and "worst mistakes" in flat
    assert peak < CAP_MB, f"report peaked at {peak:.0f} MB; cap {CAP_MB} MB"

"""``split`` assigns the same rows on DuckDB and Spark, and summarizes them the same way.

Three runs cover the paths of the draw: stratified rows with a target domain (through the CLI,
so Spark writes the output), labelled groups (greedy placement) and a lock with new rows.
Ids are unicode and salts hold quotes and backslashes: a hand-quoted salt would hash
differently on Spark SQL, which reads ``'o''brien'`` as ``obrien`` and processes backslashes.
"""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

import mlstrat
from mlstrat.cli import app
from mlstrat.tables import read_table
from tests.spark._compare import assert_same

# every Spark test on one xdist worker (`--dist loadgroup`): one JVM for the suite, not one per worker
pytestmark = [pytest.mark.spark, pytest.mark.xdist_group("spark")]


def _manifest(n: int = 3000, seed: int = 3) -> pa.Table:
    rng = np.random.default_rng(seed)
    user = rng.permutation(n) % 700
    # a user's rows come from one domain, but for a few rows: some groups mix domains
    app = (user % 3 == 0) ^ (rng.random(n) < 0.02)
    return pa.table({
        "id": [f"ïd-{i}" if i % 5 else f"q'{i}\\x" for i in range(n)],
        "label": rng.choice(["cat", "dog", "bird", "ünï"], size=n, p=[0.5, 0.3, 0.15, 0.05]),
        "domain": np.where(app, "app", "web"),
        "user": [f"u{u}" for u in user],
        "sha": [f"h{i % 2900}" for i in range(n)],  # 100 contents appear twice
    })


def _assignment(table: pa.Table) -> dict[str, str]:
    return dict(zip(table["id"].to_pylist(), table["split"].to_pylist()))


def _run(manifest, con, **options):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = mlstrat.split(manifest, con=con, **options)
    return _assignment(result.table.select("id", "split").to_pyarrow()), result.summary


@pytest.fixture(scope="module")
def manifest_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("spark-split") / "manifest.parquet"
    pq.write_table(_manifest(), path)
    return path


def test_cli_split_identical_and_written_by_spark(manifest_file, spark, tmp_path):
    runner = CliRunner()
    salt = "o'brien\\n \"x\""
    common = ["--label", "label", "--target", "app", "--content", "sha", "--salt", salt,
              "--dev-size", "150", "--test-size", "10%", "--json"]
    duck_out, spark_out = tmp_path / "duck.parquet", tmp_path / "spark.parquet"
    r1 = runner.invoke(app, ["split", str(manifest_file), "-o", str(duck_out), "--engine", "duckdb", *common])
    r2 = runner.invoke(app, ["split", str(manifest_file), "-o", str(spark_out), "--engine", "spark", *common])
    assert r1.exit_code == 0 and r2.exit_code == 0, r1.output + r2.output
    s1, s2 = json.loads(r1.output), json.loads(r2.output)
    assert s1.pop("output") == str(duck_out)
    assert s2.pop("output") == f"{spark_out} (a Parquet directory written by Spark)"
    assert_same(s1, s2)
    assert s1["checks"]["leakage"]["content_across_splits"] > 0  # the content check found real pairs
    assert spark_out.is_dir()
    duck_rows = _assignment(pq.read_table(duck_out))
    spark_rows = _assignment(read_table(str(spark_out), con=mlstrat.connect("duckdb")).to_pyarrow())
    assert duck_rows == spark_rows and len(duck_rows) == 3000
    assert {v for v in duck_rows.values()} == {"train", "train_dev", "dev", "test"}


def test_labelled_groups_identical(manifest_file, spark):
    # the web rows' mixed-label groups are placed from a hash-chosen pool (about a third of
    # them), so this also checks that the pool is the same on both engines
    duck = mlstrat.connect("duckdb")
    options = dict(label="label", group="user", target="app", salt="a\\'b", dev_size=100, test_size=100)
    a1, s1 = _run(str(manifest_file), duck, **options)
    a2, s2 = _run(str(manifest_file), spark, **options)
    assert a1 == a2
    assert_same(s1, s2)


def test_lock_with_new_rows_identical(manifest_file, spark, tmp_path):
    duck = mlstrat.connect("duckdb")
    old = _manifest(2000)
    first = mlstrat.split(old, group="user", salt="s'1", dev_size=80, test_size=80, con=duck)
    lock = tmp_path / "lock.parquet"
    first.write_lock(lock)
    options = dict(group="user", salt="s'1", lock=str(lock), dev_size=120, test_size=120, content="sha")
    a1, s1 = _run(str(manifest_file), duck, **options)
    a2, s2 = _run(str(manifest_file), spark, **options)
    assert a1 == a2
    assert_same(s1, s2)
    kept = _assignment(pq.read_table(lock))
    assert all(a1[k] == v for k, v in kept.items())  # the lock holds on both engines

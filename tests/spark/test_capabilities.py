"""The table commands give identical results on DuckDB and on a local Spark session.

Counts and error rates exactly, floats to 1e-12 relative, the same rows in the same order.
One shared local[2] session (tests/conftest.py); each test runs one capability on both engines.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from typer.testing import CliRunner

import mlstrat
from mlstrat.cli import app
from mlstrat.tables import engine_of, hash64_halves, read_table, unit_hash
from tests.spark._compare import assert_same

# every Spark test on one xdist worker (`--dist loadgroup`): one JVM for the suite, not one per worker
pytestmark = [pytest.mark.spark, pytest.mark.xdist_group("spark")]
LABELS = ("cat", "dog", "bird")
SALTS = ("mlstrat", "o'brien", "back\\slash", "both\\'q\"", "ünï ☃")


def _predictions(n: int = 1200, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    split = rng.choice(["train", "train_dev", "dev", "test"], size=n, p=[0.55, 0.15, 0.15, 0.15])
    y_true = rng.integers(3, size=n)
    noise = {"train": 0.05, "train_dev": 0.1, "dev": 0.2, "test": 0.22}
    wrong = rng.random(n) < np.array([noise[s] for s in split])
    y_pred = np.where(wrong, (y_true + rng.integers(1, 3, size=n)) % 3, y_true)
    proba = rng.dirichlet(np.ones(3), size=n) * 0.3
    proba[np.arange(n), y_pred] += 0.7
    frame = pd.DataFrame({
        "id": [f"ü-{i:05d}" if i % 7 else f"o'b\\{i}" for i in range(n)],
        "split": split,
        "y_true": [LABELS[i] for i in y_true],
        "y_pred": [LABELS[i] for i in y_pred],
        "weight": rng.uniform(0.2, 3.0, size=n).round(6),
        "domain": rng.choice(["web", "app"], size=n),
        "path": [f"img/{i}.png" for i in range(n)],
    })
    for j, lab in enumerate(LABELS):
        frame[f"proba_{lab}"] = proba[:, j]
    return frame


@pytest.fixture(scope="module")
def predictions(tmp_path_factory):
    folder = tmp_path_factory.mktemp("spark-preds")
    frame = _predictions()
    frame.to_parquet(folder / "preds.parquet", index=False)
    frame.to_csv(folder / "preds.csv", index=False)
    return folder


@pytest.fixture(scope="module")
def duck():
    return mlstrat.connect("duckdb")


def test_hashes_match_python_on_both_engines(duck, spark):
    """u = md5(key:salt)[:8] / 2^32 and the 64-bit test-set hash, salts with quotes and backslashes."""
    keys = ["a", "o'brien", "back\\slash", "ünï", "x" * 40, "7"]
    for con in (duck, spark):
        engine = engine_of(con)
        table = read_table(pa.table({"k": keys}), con=engine)
        high, low = hash64_halves(engine, table.k)
        # the test-set fingerprint's hash, in each engine's own (fastest) form
        parts = engine.md5_low64_parts(table.k)
        cols = {f"u{i}": unit_hash(engine, table.k, salt) for i, salt in enumerate(SALTS)}
        cols.update({f"p{j}": part for j, (part, _) in enumerate(parts)})
        rows = engine.rows(table.select(**cols, hi=high, lo=low))
        for key, row in zip(keys, rows):
            for i, salt in enumerate(SALTS):
                expected = int(hashlib.md5(f"{key}:{salt}".encode()).hexdigest()[:8], 16) / 2**32
                assert row[i] == expected, (engine.kind, key, salt)
            number = int.from_bytes(hashlib.md5(key.encode()).digest()[8:], "little")
            assert (row[-2] << 32) | row[-1] == number
            values = row[len(SALTS):len(SALTS) + len(parts)]
            assert sum(int(v) << shift for v, (_, shift) in zip(values, parts)) == number, engine.kind


def test_metrics_identical(predictions, duck, spark):
    from mlstrat.metrics import compute_metrics

    src = str(predictions / "preds.parquet")
    on_duck = compute_metrics(src, con=duck, weight="weight", test=True, store=False).to_dict()
    on_spark = compute_metrics(src, con=spark, weight="weight", test=True, store=False).to_dict()
    assert_same(on_duck, on_spark)
    assert on_duck["splits"]["dev"]["n"] > 100  # a real table, not an empty comparison


def test_diagnosis_json_identical_from_csv(predictions, duck, spark):
    from mlstrat._json import to_jsonable
    from mlstrat.diagnosis import diagnose

    src = str(predictions / "preds.csv")
    on_duck = to_jsonable(diagnose(src, human=["experts=2%"], con=duck, test=True, store=False))
    on_spark = to_jsonable(diagnose(src, human=["experts=2%"], con=spark, test=True, store=False))
    assert_same(on_duck, on_spark)


def test_error_sheet_same_rows(predictions, duck, spark, tmp_path):
    from mlstrat.errors import sample_errors

    src = str(predictions / "preds.parquet")
    for name, con in (("duck", duck), ("spark", spark)):
        sample_errors(src, split="dev", n=25, include_correct=5, categories="blurry,dog",
                      output=tmp_path / f"{name}.csv", con=con)
    assert (tmp_path / "duck.csv").read_text() == (tmp_path / "spark.csv").read_text()
    meta = [json.loads((tmp_path / f"{n}.csv.meta.json").read_text()) for n in ("duck", "spark")]
    for m in meta:
        m.pop("created_at")
    assert meta[0] == meta[1]


def test_label_issues_same_rows(predictions, duck, spark):
    from mlstrat._json import to_jsonable
    from mlstrat.errors import find_label_issues

    src = str(predictions / "preds.parquet")
    on_duck = to_jsonable(find_label_issues(src, split="dev", con=duck))
    on_spark = to_jsonable(find_label_issues(src, split="dev", con=spark))
    assert on_duck["issues"], "the table must produce suspects to compare"
    assert_same(on_duck, on_spark)


def test_test_set_fingerprint_identical(predictions, duck, spark):
    from mlstrat.runs import fingerprint_test_set

    src = str(predictions / "preds.parquet")
    assert fingerprint_test_set(src, con=duck) == fingerprint_test_set(src, con=spark)


def test_record_batches_stream_the_same_rows(predictions, duck, spark):
    rows = {}
    for name, con in (("duck", duck), ("spark", spark)):
        engine = engine_of(con)
        table = read_table(str(predictions / "preds.parquet"), con=engine).select("id", "weight")
        batches = list(engine.batches(table, chunk_size=500))
        assert max(b.num_rows for b in batches) <= 500
        rows[name] = sorted(pa.Table.from_batches(batches).to_pylist(), key=lambda r: r["id"])
    assert rows["duck"] == rows["spark"] and len(rows["duck"]) == 1200


def test_cli_engine_spark_writes_a_parquet_directory(predictions, spark, tmp_path, monkeypatch):
    """--engine spark reuses the active session; its outputs are Spark part-file directories."""
    runner = CliRunner()
    src = str(predictions / "preds.parquet")
    out = tmp_path / "issues.parquet"
    r = runner.invoke(app, ["labels", src, "--engine", "spark", "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert f"-> {out} (a Parquet directory written by Spark)" in " ".join(r.output.split())
    assert out.is_dir() and (out / "_SUCCESS").exists()
    back = read_table(str(out), con=mlstrat.connect("duckdb")).to_pyarrow()
    assert back.num_rows > 0 and back.column_names == ["rank", "id", "given_label", "suggested_label", "score"]

    monkeypatch.setenv("MLSTRAT_ENGINE", "spark")
    r = runner.invoke(app, ["metrics", src, "--json"])
    assert r.exit_code == 0, r.output
    monkeypatch.setenv("MLSTRAT_ENGINE", "duckdb")
    r2 = runner.invoke(app, ["metrics", src, "--json"])
    assert_same(json.loads(r.output), json.loads(r2.output))


def test_unknown_engine_is_one_line_exit_2(predictions):
    r = CliRunner().invoke(app, ["metrics", str(predictions / "preds.parquet"), "--engine", "spork"])
    assert r.exit_code == 2
    assert ("engine: unknown engine 'spork'; use duckdb, spark, a Spark master (spark://HOST:PORT, yarn, "
            "k8s://https://HOST:PORT, local[N]) or a Spark Connect address sc://HOST:PORT") in " ".join(r.output.split())

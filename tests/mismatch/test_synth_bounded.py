"""synth on a bounded sample: the engine selects and writes, only the rows read and made sit in
the driver; a failed write leaves no temporary file."""

import hashlib

import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import pytest

from mlstrat.mismatch import synthesize
from tests.memory import MB, peak_rss, write_big_table


def _u(key: str, salt: str) -> float:
    return int(hashlib.md5(f"{key}:{salt}".encode()).hexdigest()[:8], 16) / 2**32


@pytest.fixture
def manifest(tmp_path):
    n = 500
    rng = np.random.default_rng(0)
    table = pa.table({"id": np.arange(n) * 3, "split": np.where(np.arange(n) % 5 == 0, "dev", "train"),
                      "f_0": rng.normal(size=n), "f_1": rng.normal(size=n)})
    path = tmp_path / "m.parquet"
    pq.write_table(table, path)
    return path, table


def test_a_sample_of_the_train_rows_is_synthesized_and_every_row_is_written(manifest, tmp_path):
    path, table = manifest
    r = synthesize(path, feature_prefix="f_", transforms="jitter", sample=50, output=tmp_path / "o.parquet")
    assert (r.n_input_rows, r.n_source_rows, r.n_synthesized) == (500, 50, 50)
    out = pq.read_table(tmp_path / "o.parquet")
    assert out.num_rows == 550
    assert out.slice(0, 500).drop_columns(["synthetic_of"]).to_pylist() == table.to_pylist()
    new = out.slice(500)
    train = [str(i) for i, s in zip(table["id"].to_pylist(), table["split"].to_pylist()) if s == "train"]
    expected = sorted(train, key=lambda k: (_u(k, "mlstrat-sample:0"), k))[:50]
    assert sorted(map(str, new["synthetic_of"].to_pylist())) == sorted(expected)
    assert new["id"].to_pylist() == list(range(1497 + 1, 1497 + 51))  # after the manifest's largest id
    assert set(new["split"].to_pylist()) == {"train"}


def test_text_ids_that_exist_outside_the_rows_read_are_refused(tmp_path):
    from mlstrat import InputError

    ids = [f"r{i}" for i in range(100)]
    ids[99] = "r0~syn1"  # a dev row whose id a copy of r0 would take
    table = pa.table({"id": ids, "split": ["train"] * 99 + ["dev"], "f_0": np.arange(100.0)})
    with pytest.raises(InputError, match=r"synthetic id\(s\) r0~syn1 already exist in 'id'"):
        synthesize(table, feature_prefix="f_", transforms="jitter")


def test_a_failed_write_leaves_no_temporary_file(manifest, tmp_path, monkeypatch):
    from mlstrat.tables._duckdb_engine import DuckDBEngine

    path, _ = manifest
    real = DuckDBEngine._write

    def half_then_fail(self, expr, target, fmt):
        real(self, expr, target, fmt)  # the temporary file is whole, then the engine fails
        raise RuntimeError("the engine died mid-way")

    monkeypatch.setattr(DuckDBEngine, "_write", half_then_fail)
    with pytest.raises(RuntimeError, match="died mid-way"):
        synthesize(path, feature_prefix="f_", transforms="jitter", output=tmp_path / "o.parquet")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.parquet"]


#: the bound on the command's peak memory; the manifest's columns alone exceed it
_BOUND = 512 * MB


@pytest.mark.slow
def test_synth_keeps_a_manifest_larger_than_its_memory_bound_off_the_driver(tmp_path):
    # 8 features and a 4 KB text per row: about 590 MB of columns. Before, the command read the
    # whole manifest, appended the new rows in memory and handed the table back to the engine
    # (over 1 GB peak on this file). A CSV output: DuckDB's Parquet writer buffers a row group.
    rows = 150_000
    features = ", ".join(f"((i * {k + 7}) % 101)::DOUBLE AS f_{k}" for k in range(8))
    size = write_big_table(tmp_path / "s.parquet", "i AS id, CASE WHEN i % 10 = 0 THEN 'dev' ELSE 'train' END "
                           f"AS split, {features}, repeat('x', 4000) || i::VARCHAR AS note", rows, row_group=2048)
    assert size > _BOUND
    rc, peak, out, err = peak_rss(["synth", "s.parquet", "--feature-prefix", "f_", "--transform", "jitter",
                                   "--sample", "2000", "-o", "o.csv"], tmp_path, MLSTRAT_MEMORY_LIMIT="256MB")
    assert (rc, err) == (0, "") and "Synthesized 2000 train rows from 2000 source rows" in out
    assert peak < _BOUND, f"peak {peak / MB:.0f} MB"
    written = pcsv.open_csv(tmp_path / "o.csv", convert_options=pcsv.ConvertOptions(
        column_types={"synthetic_of": pa.int64()}, include_columns=["id", "synthetic_of"]))
    ids = pa.Table.from_batches(list(written))
    assert ids.num_rows == rows + 2000 and ids["synthetic_of"].null_count == rows

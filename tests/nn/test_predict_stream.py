"""predict with an output streams record batches through the model: the file equals the
in-memory predictions, whatever the batch size, and the process never holds the table."""

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mlstrat.nn import OptimConfig, predict, train
from mlstrat.nn import _predict
from tests.memory import MB, peak_rss, write_big_table
from tests.nn.conftest import small_config


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, digits_path):
    return train(small_config(digits_path, optim=OptimConfig(epochs=1)),
                 run_dir=tmp_path_factory.mktemp("stream") / "r").run_dir


@pytest.fixture
def small_batches(monkeypatch):
    monkeypatch.setattr(_predict, "_ENGINE_ROWS", 256)
    monkeypatch.setattr(_predict, "_BATCH_ROWS", 1024)  # the digits come in two batches


def _same(a: pa.Table, b: pa.Table) -> None:
    assert a.schema == b.schema
    assert a.to_pylist() == b.to_pylist()


def test_streamed_parquet_equals_the_in_memory_predictions(run_dir, digits_path, tmp_path, small_batches):
    expected = predict(run_dir, digits_path)
    written = predict(run_dir, digits_path, output=tmp_path / "p.parquet")
    assert (written.num_rows, written.column_names) == (1797, expected.column_names)
    _same(pq.read_table(tmp_path / "p.parquet"), expected)
    assert [p.name for p in tmp_path.iterdir()] == ["p.parquet"]  # no temporary file left


def test_streamed_csv_equals_the_table_written_whole(run_dir, digits_path, tmp_path, small_batches):
    from mlstrat.tables import write_table

    write_table(predict(run_dir, digits_path), tmp_path / "whole.csv")
    predict(run_dir, digits_path, output=tmp_path / "streamed.csv")
    assert (tmp_path / "streamed.csv").read_bytes() == (tmp_path / "whole.csv").read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["streamed.csv", "whole.csv"]


def test_rows_without_an_id_are_numbered_across_batches(run_dir, digits_table, tmp_path, small_batches):
    table = digits_table.drop(["id"])
    predict(run_dir, table, output=tmp_path / "p.parquet")
    assert pq.read_table(tmp_path / "p.parquet")["id"].to_pylist() == list(range(1797))


def test_null_passthrough_in_the_first_batch_keeps_the_column_type(run_dir, digits_table, tmp_path, small_batches):
    note = [None] * 1024 + ["seen"] * (digits_table.num_rows - 1024)
    table = digits_table.append_column("note", pa.array(note, pa.string()))
    predict(run_dir, table, output=tmp_path / "p.parquet")
    out = pq.read_table(tmp_path / "p.parquet")
    assert out.schema.field("note").type == pa.string() and out["note"].to_pylist() == note


def test_an_existing_output_is_refused_before_the_model_runs(run_dir, digits_path, tmp_path):
    from mlstrat import InputError

    (tmp_path / "p.parquet").write_bytes(b"old")
    with pytest.raises(InputError, match=r"p\.parquet: already exists; pass --force"):
        predict(run_dir, digits_path, output=tmp_path / "p.parquet")
    assert (tmp_path / "p.parquet").read_bytes() == b"old"


#: the bound on the command's peak memory, and the rows of a table whose columns alone exceed it
_BOUND = 1200 * MB
_ROWS = 80_000


def test_predict_keeps_a_table_larger_than_its_memory_bound_off_the_driver(run_dir, tmp_path):
    # 64 pixel columns and a 16 KB text per row: about 1.3 GB of columns once read. Before the
    # predictions streamed, the command held the table and two copies of its text (4.2 GB peak
    # at 0.66 GB of columns); DuckDB's own buffers are capped as a driver's memory would be
    # (about 400 MB of the bound are the imports: torch, DuckDB, pyarrow).
    pixels = ", ".join(f"((i * {k + 1}) % 17)::DOUBLE AS px_{k}" for k in range(64))
    size = write_big_table(tmp_path / "big.parquet", f"i AS id, 'dev' AS split, (i % 10)::BIGINT AS label, "
                           f"{pixels}, repeat('x', 16000) || i::VARCHAR AS note", _ROWS, row_group=2048)
    assert size > _BOUND
    rc, peak, out, err = peak_rss(["predict", str(run_dir), "big.parquet", "-o", "p.parquet"], tmp_path,
                                  MLSTRAT_MEMORY_LIMIT="256MB")
    assert (rc, err) == (0, "") and f"Wrote {_ROWS:,} predictions" in out
    assert peak < _BOUND, f"peak {peak / MB:.0f} MB"
    written = pq.ParquetFile(tmp_path / "p.parquet")
    assert written.metadata.num_rows == _ROWS
    last = written.read_row_group(written.num_row_groups - 1)
    assert last["note"][-1].as_py() == "x" * 16000 + str(_ROWS - 1)

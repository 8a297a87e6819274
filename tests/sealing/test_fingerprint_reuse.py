"""A recorded diagnosis of a file reuses the test-set fingerprint its run store holds for the
same bytes, instead of reading the test ids again; the store's entries stay what they were."""

import hashlib
import sqlite3

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from mlstrat.cli import app
from mlstrat.sealing import _fingerprint

runner = CliRunner()


def _write(path, n: int = 90, flip: int = 0):
    split = ["train", "dev", "test"] * (n // 3)
    y_true = [i % 2 for i in range(n)]
    y_pred = [(i + (i % 5 == 0) + flip) % 2 for i in range(n)]
    pq.write_table(pa.table({"id": [f"r{i}" for i in range(n)], "split": split, "y_true": y_true,
                             "y_pred": y_pred}), path)
    return path


@pytest.fixture
def reads(monkeypatch):
    """Counts the test-id reads; each CLI call starts with empty in-process caches, as a new
    process does."""
    calls = []
    original = _fingerprint._fingerprint_test_set

    def counted(predictions, *, con=None):
        calls.append(str(predictions))
        return original(predictions, con=con)

    monkeypatch.setattr(_fingerprint, "_fingerprint_test_set", counted)
    return calls


def _diagnose(*args):
    _fingerprint._FINGERPRINTS.clear()
    _fingerprint._SHA256.clear()
    res = runner.invoke(app, ["diagnose", *map(str, args)])
    assert res.exit_code == 0, res.output
    return res


def _ledger(store):
    with sqlite3.connect(store) as conn:
        runs = conn.execute("SELECT kind, data_fingerprint, test_fingerprint, test_evaluations FROM runs "
                            "ORDER BY seq").fetchall()
        looks = conn.execute("SELECT test_fingerprint, count FROM test_evaluations").fetchall()
    return runs, looks


def _expected_fingerprint(path) -> str:
    """Brute force: xor of the low 64 bits of md5("<id>:<y_true>") over the test rows."""
    table = pq.read_table(path).to_pylist()
    h, n = 0, 0
    for row in table:
        if row["split"] == "test":
            digest = hashlib.md5(f"{row['id']}:{row['y_true']}".encode()).digest()
            h ^= int.from_bytes(digest[8:16], "little")
            n += 1
    return f"test-{n}-{h:016x}"


def test_a_second_diagnose_of_the_same_file_reads_no_test_ids(tmp_path, reads):
    preds, store = _write(tmp_path / "preds.parquet"), tmp_path / "runs.db"
    _diagnose(preds, "--test", "--store", store)
    assert len(reads) == 1
    first = _ledger(store)
    _diagnose(preds, "--test", "--store", store)
    assert len(reads) == 1  # the fingerprint came from the store
    runs, looks = _ledger(store)
    sha = "sha256:" + hashlib.sha256(preds.read_bytes()).hexdigest()
    fp = _expected_fingerprint(preds)
    assert first == ([("diagnose", sha, fp, 1)], [(fp, 1)])
    assert (runs, looks) == ([("diagnose", sha, fp, 2)], [(fp, 2)])  # the same run, one more look


def test_without_test_the_stored_fingerprint_is_reused_for_the_record(tmp_path, reads):
    preds, store = _write(tmp_path / "preds.parquet"), tmp_path / "runs.db"
    _diagnose(preds, "--store", store)
    _diagnose(preds, "--store", store)
    assert len(reads) == 1
    fp = _expected_fingerprint(preds)
    runs, looks = _ledger(store)
    assert [r[2] for r in runs] == [fp] and looks == []


def test_changed_bytes_or_another_store_read_the_ids_again(tmp_path, reads):
    preds, store = _write(tmp_path / "preds.parquet"), tmp_path / "runs.db"
    _diagnose(preds, "--test", "--store", store)
    _diagnose(preds, "--test", "--store", tmp_path / "other.db")  # that store never saw the file
    assert len(reads) == 2
    _write(preds, flip=1)  # new predictions, the same test ids and labels: a new file version
    _diagnose(preds, "--test", "--store", store)
    assert len(reads) == 3
    runs, looks = _ledger(store)
    fp = _expected_fingerprint(preds)
    assert [r[2] for r in runs] == [fp, fp] and looks == [(fp, 2)]

"""Bad input: each raises an MlstratError naming the file/column/value and the fix."""

import pyarrow as pa
import pytest

from mlstrat import ConfigError, InputError
from mlstrat.splits import split


def ids(n):
    return [f"r{i}" for i in range(n)]


def write_csv(path, text):
    path.write_text(text)
    return path


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match=r"nope\.csv: no such file; check the path"):
        split(tmp_path / "nope.csv")


def test_unknown_extension(tmp_path):
    p = write_csv(tmp_path / "m.xlsx", "id\n1\n")
    with pytest.raises(InputError, match=r"m\.xlsx: unknown file type '\.xlsx'"):
        split(p)


def test_corrupt_parquet(tmp_path):
    p = tmp_path / "m.parquet"
    p.write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(InputError, match=r"m\.parquet: cannot be read as PARQUET"):
        split(p)


def test_missing_id_column(tmp_path):
    p = write_csv(tmp_path / "m.csv", "ident,label\na,1\n")
    with pytest.raises(InputError, match=r"m\.csv: missing id column 'id'; available columns: ident, label"):
        split(p)


def test_missing_label_column():
    with pytest.raises(InputError, match=r"missing label column 'lable' \(did you mean 'label'\?\)"):
        split(pa.table({"id": ids(10), "label": [1] * 10}), label="lable")


def test_null_ids():
    m = pa.table({"id": ["a", None, "c", None]})
    with pytest.raises(InputError, match=r"column 'id' has 2 empty id\(s\); every row needs a unique id"):
        split(m)


def test_duplicate_ids(tmp_path):
    p = write_csv(tmp_path / "m.csv", "id\na\nb\na\nc\nb\na\n")
    with pytest.raises(InputError, match=r"m\.csv: column 'id' has duplicate ids \('a' x3, 'b' x2\); ids must be unique"):
        split(p)


def _colliding_hash(monkeypatch):
    """Every engine's 64-bit hash replaced by the text's length: distinct ids share hashes."""
    from mlstrat.tables._duckdb_engine import DuckDBEngine

    monkeypatch.setattr(DuckDBEngine, "hash64", lambda self, value: value.cast("string").length())


@pytest.mark.parametrize("sorted_in_process", [True, False])
@pytest.mark.parametrize("cap", [1000, 1])
def test_duplicate_ids_are_confirmed_on_the_text(monkeypatch, sorted_in_process, cap):
    """Shared hashes are only suspects: collisions of distinct ids pass, real copies are named,
    whether the hashes are sorted in the process or grouped in the engine, and however many."""
    from mlstrat.splits import _queries

    _colliding_hash(monkeypatch)
    monkeypatch.setattr(_queries, "SHARED_HASHES", cap)
    if sorted_in_process:  # small tables are grouped in the engine unless told otherwise
        monkeypatch.setattr(_queries, "SORT_IN_PROCESS_FROM", 0)
    else:
        monkeypatch.setattr(_queries, "SORT_IN_PROCESS", 0)
    assert split(pa.table({"id": ids(30)}), dev_size=5, test_size=5).sizes["dev"] == 5  # r10..r29 collide
    m = pa.table({"id": ["a", "bb", "a", "cc", "bb", "a", "dd"]})
    with pytest.raises(InputError, match=r"column 'id' has duplicate ids \('a' x3, 'bb' x2\); ids must be unique"):
        split(m)


def test_empty_table(tmp_path):
    p = write_csv(tmp_path / "m.csv", "id,label\n")
    with pytest.raises(InputError, match=r"m\.csv: the table has no rows"):
        split(p)


def test_empty_file(tmp_path):
    p = write_csv(tmp_path / "m.csv", "")
    with pytest.raises(InputError, match=r"m\.csv: the file is empty"):
        split(p)


def test_target_absent():
    m = pa.table({"id": ids(10), "domain": ["web"] * 5 + ["mobile"] * 5})
    with pytest.raises(InputError, match=r"target 'mobil' does not occur in column 'domain' \(did you mean 'mobile'\?\); "
                                         r"values found: 'mobile', 'web'"):
        split(m, target="mobil")


def test_sizes_larger_than_eligible():
    m = pa.table({"id": ids(30), "domain": ["app"] * 10 + ["web"] * 20})
    with pytest.raises(InputError, match=r"dev_size 8 \+ test_size 8 = 16 rows but only 10 eligible target 'app' rows"):
        split(m, target="app", dev_size=8, test_size=8)


def test_too_few_rows_for_auto():
    with pytest.raises(InputError, match=r"only 2 eligible rows: test_size=auto gives 0 rows"):
        split(pa.table({"id": ids(2)}))


@pytest.mark.parametrize("kwargs, message", [
    ({"dev_size": 0}, r"dev_size: 0 must be positive"),
    ({"test_size": -5}, r"test_size: -5 must be positive"),
    ({"train_dev": "-1"}, r"train_dev: '-1' must be positive"),
    ({"dev_size": "lots"}, r"dev_size: 'lots' is not a number"),
    ({"resolve": "150%"}, r"resolve: 150% is outside \[0, 1\]"),
    ({"resolve": "0"}, r"resolve: '0' must be strictly between 0 and 1"),
    ({"resolve": 0.01, "expected_error": 2}, r"expected_error: 2 is above 1"),
    ({"mix": True}, r"mix=True \(--mix\) only applies with a target domain"),
    ({"content": " , "}, r"content: no column given"),
    ({"salt": ""}, r"salt: '' must be a non-empty text"),
])
def test_bad_options(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        split(pa.table({"id": ids(100)}), **kwargs)


def test_train_dev_leaves_nothing():
    with pytest.raises(InputError, match=r"train_dev 80 rows leaves nothing to train on \(training pool: 60 rows\); give a smaller --train-dev"):
        split(pa.table({"id": ids(100)}), train_dev=80)


def test_fraction_rounding_to_zero():
    with pytest.raises(InputError, match=r"dev_size=0.01: 0.01 of 20 eligible rows is 0 rows"):
        split(pa.table({"id": ids(20)}), dev_size=0.01)


def test_bad_lock_values(tmp_path):
    lock = pa.table({"id": ids(5), "split": ["train", "holdout", "dev", "test", "train"]})
    with pytest.raises(InputError, match=r"column 'split' of the lock has value\(s\) 'holdout'; allowed: train, train_dev, dev, test"):
        split(pa.table({"id": ids(50)}), lock=lock)


def test_lock_without_split_column():
    with pytest.raises(InputError, match=r"missing lock column 'split'"):
        split(pa.table({"id": ids(50)}), lock=pa.table({"id": ids(5)}))


def test_groups_never_wholly_in_target():
    m = pa.table({"id": ids(20), "g": ["a", "b"] * 10, "domain": ["app", "web", "web", "app"] * 5})
    with pytest.raises(InputError, match=r"no group of column 'g' lies wholly in target domain 'app'"):
        split(m, group="g", target="app")


def test_csv_ids_with_leading_zeros_are_distinct_text(tmp_path):
    """'0007' past the CSV sniffing sample stays '0007': not a duplicate of '7', hashed as written."""
    import hashlib

    from mlstrat.splits import split

    p = tmp_path / "m.csv"
    p.write_text("id\n" + "".join(f"{i}\n" for i in range(1, 30_001)) + "0007\n")
    result = split(p, dev_size=5, test_size=5, salt="s")
    ids = result.table.to_pyarrow()["id"].to_pylist()
    assert "0007" in ids and "7" in ids and len(set(ids)) == 30_001
    u = {i: int(hashlib.md5(f"{i}:s".encode()).hexdigest()[:8], 16) / 2**32 for i in ids}
    test = {r["id"] for r in result.table.to_pyarrow().to_pylist() if r["split"] == "test"}
    assert test == set(sorted(u, key=u.get)[:5])

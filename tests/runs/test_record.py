import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from mlstrat.runs import RunStore, record_predictions_run, fingerprint_test_set


def _preds(order=slice(None), y_test=(1, 0), y_pred=(0, 0, 1, 0)):
    df = pd.DataFrame({"id": ["a", "b", "c", "d"], "split": ["train", "dev", "test", "test"],
                       "y_true": [0, 1, *y_test], "y_pred": list(y_pred)})
    return df.iloc[order].reset_index(drop=True)


def test_fingerprint_ignores_row_order_and_predictions():
    base = fingerprint_test_set(_preds())
    assert base == fingerprint_test_set(_preds(order=slice(None, None, -1)))
    assert base == fingerprint_test_set(_preds(y_pred=(1, 1, 0, 1)))  # another model, same test set
    assert base != fingerprint_test_set(_preds(y_test=(0, 0)))  # a relabelled test set
    assert base.startswith("test-2-")


def test_fingerprint_is_the_documented_md5_formula():
    import hashlib

    def h(key):
        return int.from_bytes(hashlib.md5(key.encode()).digest()[8:], "little")

    assert fingerprint_test_set(_preds()) == f"test-2-{h('c:1') ^ h('d:0'):016x}"


def test_fingerprint_none_without_test_split():
    assert fingerprint_test_set(_preds().query("split != 'test'")) is None


def test_record_counts_test_evaluations(tmp_path):
    path = tmp_path / "p.parquet"
    _preds().to_parquet(path)
    store = RunStore(tmp_path / "runs.db")
    for _ in range(2):
        record_predictions_run("diagnose", path, store=store, diagnosis={"errors": {"test": {"value": 0.5}}})
    assert store.test_evaluation_count(fingerprint_test_set(path)) == 2
    assert len(store.list()) == 2


def test_test_set_fingerprint_is_computed_once_per_file_version(tmp_path, monkeypatch):
    """Counting a look and recording the run need the same fingerprint: one md5 pass, not two;
    a changed file is fingerprinted again."""
    import os

    from mlstrat.sealing import _fingerprint as _record

    path = tmp_path / "p.csv"
    path.write_text("id,split,y_true,y_pred\n1,test,a,a\n2,test,b,a\n3,dev,a,a\n")
    calls = []
    real = _record._fingerprint_test_set
    monkeypatch.setattr(_record, "_fingerprint_test_set", lambda p, con=None: calls.append(p) or real(p, con=con))
    first = _record.fingerprint_test_set(str(path))
    assert _record.fingerprint_test_set(str(path)) == first and len(calls) == 1
    path.write_text("id,split,y_true,y_pred\n1,test,a,a\n2,test,a,a\n3,dev,a,a\n")
    os.utime(path, ns=(1, 1))
    second = _record.fingerprint_test_set(str(path))
    assert len(calls) == 2 and second != first and second.startswith("test-2-")


def _reference(frame):
    """The documented fingerprint in plain Python: count and xor of md5 bytes 8..15 of id:y_true."""
    import hashlib

    test = frame[frame.split == "test"]
    h = 0
    for key in (f"{i}:{y}" for i, y in zip(test.id, test.y_true)):
        h ^= int.from_bytes(hashlib.md5(key.encode()).digest()[8:], "little")
    return f"test-{len(test)}-{h:016x}" if len(test) else None


_ROWS = st.lists(st.tuples(st.text(alphabet="ab'\\ü7:", min_size=1, max_size=6),
                           st.sampled_from(["train", "dev", "test"]), st.integers(0, 3)),
                 min_size=1, max_size=30, unique_by=lambda r: r[0])


@settings(max_examples=40, deadline=None)
@given(_ROWS, st.data())
def test_fingerprint_follows_every_test_row(rows, data):
    """Equal to the hashlib formula on any table, so it changes when one test row's id or
    true label changes (and only then: predictions and other splits leave it alone)."""
    frame = pd.DataFrame(rows, columns=["id", "split", "y_true"]).assign(y_pred=0)
    base = fingerprint_test_set(frame)
    assert base == _reference(frame)
    if base is None:
        return
    i = data.draw(st.sampled_from(list(frame.index[frame.split == "test"])))
    relabelled = frame.copy()
    relabelled.loc[i, "y_true"] += 1
    renamed = frame.copy()
    renamed.loc[i, "id"] = renamed.loc[i, "id"] + "x"
    other_model = frame.assign(y_pred=1)
    assert fingerprint_test_set(relabelled) != base
    assert fingerprint_test_set(renamed) != base  # "x" is outside the ids' alphabet: a new id
    assert fingerprint_test_set(other_model) == base


def test_duckdb_fast_hash_equals_the_portable_form():
    """DuckDB's md5_number path gives the number of the hex-digest path every engine has."""
    import pyarrow as pa

    from mlstrat.tables import engine_of, read_table
    from mlstrat.tables._engine import Engine

    engine = engine_of(None)
    table = read_table(pa.table({"k": ["a", "o'brien", "ünï", "", "x" * 100, "7:0"]}), con=engine)

    def number(parts):
        cols = {f"p{i}": part for i, (part, _) in enumerate(parts)}
        return [sum(int(v) << shift for v, (_, shift) in zip(row, parts))
                for row in engine.rows(table.select(**cols))]

    fast = number(engine.md5_low64_parts(table.k))
    assert len(engine.md5_low64_parts(table.k)) == 1  # the fast form is in use
    assert fast == number(Engine.md5_low64_parts(engine, table.k))

import pandas as pd

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

    from mlstrat.runs import _record

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

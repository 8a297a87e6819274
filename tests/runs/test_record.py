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

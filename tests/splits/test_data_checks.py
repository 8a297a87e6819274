"""Data checks before the split: every count equals the same count computed with pandas."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlstrat._exceptions import InputError
from mlstrat.splits import DataChecks, check_table
from mlstrat.splits._data_checks import CHECKS, IMBALANCE_RATIO, MAD_SCALE, OUTLIER_Z


def _manifest(n: int = 400, seed: int = 7) -> pd.DataFrame:
    """Planted problems: nulls, a constant, a free-text column, a rare class, a label of one
    domain, copied rows (some inside train), outliers in two numeric columns."""
    rng = np.random.default_rng(seed)
    label = rng.choice(["cat", "dog", "bird"], size=n, p=[0.6, 0.38, 0.02])
    domain = np.where(rng.random(n) < 0.5, "web", "app")
    domain[label == "bird"] = "app"  # bird only ever seen in one domain
    df = pd.DataFrame({
        "id": [f"r{i}" for i in range(n)],
        "label": label,
        "domain": domain,
        "size": rng.normal(10, 2, size=n),
        "count": rng.integers(0, 20, size=n),
        "colour": rng.choice(["red", "blue"], size=n).astype(object),
        "batch": ["b1"] * n,
        "split": rng.choice(["train", "dev", "test"], size=n, p=[0.8, 0.1, 0.1]),
    })
    df.loc[[3, 50, 77], "size"] = [90.0, -70.0, 40.0]
    df.loc[[5, 6], "count"] = [500, 900]
    df.loc[rng.choice(n, 11, replace=False), "colour"] = None
    df.loc[[20, 21], "size"] = np.nan
    for src, dst in ((100, 101), (102, 103), (104, 105), (104, 106)):  # copies, ids differ
        df.loc[dst, df.columns.drop("id")] = df.loc[src, df.columns.drop("id")].to_numpy()
    df.loc[[100, 101, 102, 104, 105, 106], "split"] = "train"
    df.loc[103, "split"] = "dev"
    df["count"] = df["count"].astype("int64")
    df["size"] = df["size"].astype("float64")
    return df


def _counts(result: DataChecks, check: str) -> dict:
    return {f.column: f.count for f in result.found(check)}


def _robust_outliers(x: pd.Series) -> int:
    values = x.dropna().to_numpy(dtype=float)
    median = np.median(values)
    mad = np.median(np.abs(values - median))
    return int((np.abs(values - median) / (MAD_SCALE * mad) > OUTLIER_Z).sum())


@pytest.fixture(scope="module")
def data():
    return _manifest()


@pytest.fixture(scope="module")
def result(data):
    return check_table(data, label="label", domain="domain")


def test_nulls_per_column_equal_pandas(data, result):
    expected = {c: int(n) for c, n in data.isna().sum().items() if n}
    assert _counts(result, "nulls") == expected == {"size": 2, "colour": 11}


def test_constant_columns_equal_pandas(data, result):
    distinct = data.nunique()
    assert _counts(result, "constant") == {c: len(data) for c in data if distinct[c] <= 1} == {"batch": 400}
    assert result.found("all_unique") == ()  # copied rows: no column but the id is all-unique


def test_all_unique_columns_equal_pandas():
    rng = np.random.default_rng(1)
    df = pd.DataFrame({"id": range(50), "note": [f"free text {i}" for i in range(50)],
                       "code": rng.permutation(50), "x": rng.normal(size=50), "c": rng.choice(["a", "b"], 50)})
    distinct = df.nunique()
    # the id is no finding; a float column is continuous, not an id
    expected = {c: len(df) for c in df if distinct[c] == len(df) and c != "id" and df[c].dtype != float}
    assert _counts(check_table(df), "all_unique") == expected == {"note": 50, "code": 50}


@pytest.mark.parametrize("few", [3, 1000])
@pytest.mark.parametrize("collide", [False, True])
def test_estimated_distinct_counts_give_the_exact_findings(data, result, monkeypatch, few, collide):
    """Exact distinct counts only where a check turns on them (few values, or nearly all
    distinct, then by hashes confirmed on the values): the same findings as counting them all."""
    from mlstrat.splits import _data_checks

    monkeypatch.setattr(_data_checks, "FEW_VALUES", few)
    if collide:  # hashes shared by distinct values must not read as repeated values
        from mlstrat.tables._duckdb_engine import DuckDBEngine

        monkeypatch.setattr(DuckDBEngine, "hash64", lambda self, value: value.cast("string").length())
    df = data.assign(note=[f"free text {i}" for i in range(len(data))], code=np.arange(len(data)) * 7)
    got = check_table(df, label="label", domain="domain")
    distinct = df.nunique()
    assert _counts(got, "all_unique") == {c: len(df) for c in ("note", "code")}
    assert _counts(got, "constant") == {c: len(df) for c in df if distinct[c] <= 1} == {"batch": 400}
    assert got.found("duplicates") == ()  # a column of distinct values: no row repeats another
    for check in ("nulls", "label_imbalance", "label_one_domain", "outliers"):
        assert got.found(check) == result.found(check)
    ids = df.assign(label=df["note"])
    assert _counts(check_table(ids, label="label"), "label_like_id") == {"label": len(df)}
    copies = df.assign(note=df["note"].where(df.index != 9, df.loc[8, "note"]))
    assert "note" not in _counts(check_table(copies), "all_unique")


def test_label_imbalance_is_the_smallest_class_count(data, result):
    counts = data["label"].value_counts()
    assert counts.min() < IMBALANCE_RATIO * counts.max()  # the planted rare class
    (finding,) = result.found("label_imbalance")
    assert finding.count == counts.min()
    assert f"{counts.min() / counts.max():.1%} of the largest" in finding.message
    assert "'bird'" in finding.message


def test_no_imbalance_below_the_threshold():
    df = pd.DataFrame({"id": range(40), "label": ["a"] * 20 + ["b"] * 19 + ["c"]})
    assert check_table(df, label="label").found("label_imbalance") == ()  # 1/20 is 5%: not below
    df = pd.DataFrame({"id": range(42), "label": ["a"] * 21 + ["b"] * 20 + ["c"]})
    assert [f.count for f in check_table(df, label="label").found("label_imbalance")] == [1]


def test_labels_in_one_domain_equal_pandas(data, result):
    per_label = data.groupby("label")["domain"].nunique()
    (finding,) = result.found("label_one_domain")
    assert finding.count == int((per_label == 1).sum()) == 1
    assert "'bird'" in finding.message


def test_duplicate_rows_equal_pandas(data, result):
    content = data.drop(columns=["id", "split"])
    assert [f.count for f in result.found("duplicates")] == [int(content.duplicated().sum())] == [4]
    train = data[data["split"] == "train"].drop(columns=["id", "split"])
    assert [f.count for f in result.found("duplicates_in_train")] == [int(train.duplicated().sum())] == [3]


def test_split_aliases_count_as_train():
    df = pd.DataFrame({"id": [1, 2, 3, 4], "x": ["a", "a", "a", "b"], "split": ["Train", "Train", "val", "val"]})
    result = check_table(df)
    assert _counts(result, "duplicates_in_train") == {None: 1}
    assert _counts(result, "duplicates") == {None: 2}


def test_outliers_by_robust_z_score_equal_a_hand_computation(data, result):
    expected = {c: _robust_outliers(data[c]) for c in ("size", "count")}
    assert _counts(result, "outliers") == expected
    assert expected["size"] >= 3 and expected["count"] >= 2


def test_a_column_of_mostly_one_value_has_no_outliers():
    # MAD 0: the robust z-score is undefined, nothing is flagged
    df = pd.DataFrame({"id": range(10), "x": [1.0] * 9 + [100.0]})
    assert check_table(df).found("outliers") == ()


def test_a_label_that_looks_like_an_id():
    df = pd.DataFrame({"id": [f"r{i}" for i in range(30)], "target": range(100, 130)})
    result = check_table(df, label="target")
    assert _counts(result, "label_like_id") == {"target": 30}
    assert result.found("label_imbalance") == ()


def test_clean_data_has_no_findings():
    df = pd.DataFrame({"id": range(8), "label": ["a", "b"] * 4, "x": [1.0, 2.0, 1.5, 2.5, 1.2, 2.2, 1.7, 2.1],
                       "domain": ["web", "app", "app", "web"] * 2})
    result = check_table(df, label="label", domain="domain")
    assert result.findings == ()
    assert result.to_dict()["counts"] == dict.fromkeys(CHECKS, 0)
    assert repr(result) == "<DataChecks 8 rows: nothing found>"


def test_to_dict_and_notebook_display(result):
    out = result.to_dict()
    assert list(out) == ["source", "rows", "columns", "thresholds", "counts", "findings", "findings_per_check",
                         "findings_left_out"]
    assert list(out["counts"]) == list(CHECKS)
    assert out["counts"]["nulls"] == 13
    assert set(out["findings"][0]) == {"check", "column", "count", "message", "fix"}
    assert repr(result).startswith("<DataChecks 400 rows: constant, duplicates, duplicates_in_train")
    html = result._repr_html_()
    assert "Data checks" in html and "<td>label_one_domain</td>" in html


def test_data_is_escaped_in_the_notebook_display():
    df = pd.DataFrame({"id": range(4), "<b>x</b>": [None, 1, 2, 3]})
    html = check_table(df)._repr_html_()
    assert "&#x27;&lt;b&gt;x&lt;/b&gt;&#x27;" in html and "<b>x</b>" not in html


def test_a_missing_column_names_the_role_and_the_columns():
    df = pd.DataFrame({"id": [1, 2], "label": ["a", "b"]})
    with pytest.raises(InputError, match=r"^<pandas.DataFrame>: missing domain column 'domian'; "
                                         r"available columns: id, label$"):
        check_table(df, label="label", domain="domian")


@pytest.mark.spark
@pytest.mark.xdist_group("spark")
def test_spark_gives_the_same_findings(data, result, spark):
    on_spark = check_table(data, label="label", domain="domain", con=spark)
    assert on_spark.to_dict() == {**result.to_dict(), "source": on_spark.source}
    # columns of nearly all distinct values: uniqueness by hashes grouped on the executors
    notes = data.assign(note=[f"free text {i}" for i in range(len(data))], code=np.arange(len(data)) * 7)
    notes.loc[9, "code"] = notes.loc[8, "code"]
    on_duckdb = check_table(notes, label="label", domain="domain").to_dict()
    assert _counts(check_table(notes, label="label", domain="domain"), "all_unique") == {"note": len(data)}
    on_spark = check_table(notes, label="label", domain="domain", con=spark).to_dict()
    assert on_spark == {**on_duckdb, "source": on_spark["source"]}


def test_a_wide_table_lists_twenty_outlier_columns_and_counts_them_all():
    import numpy as np
    import pyarrow as pa

    from mlstrat.splits import check_table

    values = np.zeros(50)
    values[0] = 1000.0  # one outlier per column (MAD of the others: 0 would leave z undefined)
    values[1::2] = 1.0
    table = pa.table({"id": np.arange(50), **{f"c{j:02d}": values for j in range(30)}})
    out = check_table(table).to_dict()
    listed = [f["column"] for f in out["findings"] if f["check"] == "outliers"]
    assert listed == [f"c{j:02d}" for j in range(20)]
    assert out["counts"]["outliers"] == 30 and out["findings_left_out"] == {"outliers": 10}

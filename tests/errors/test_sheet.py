import csv
import hashlib
import json
import re

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlstrat import ConfigError, InputError
from mlstrat.errors import read_sheet, sample_errors
from mlstrat.errors._sheet import meta_path
from mlstrat.tables import fingerprint
from tests.errors._data import simple_predictions, write


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_sample_columns_meta_and_sizes(preds_csv, tmp_path):
    out = tmp_path / "sheet.csv"
    res = sample_errors(preds_csv, n=4, categories="dog,great cat,blurry,mislabeled", output=out)
    rows = read_csv(out)
    with open(out, encoding="utf-8") as fh:
        header = fh.readline().strip().split(",")
    assert header == [
        "id",
        "y_true",
        "y_pred",
        "confidence",
        "path",
        "text",
        "dog",
        "great cat",
        "blurry",
        "mislabeled",
        "comment",
    ]
    assert len(rows) == 4 and res.sample_size == 4
    assert all(r["y_true"] != r["y_pred"] for r in rows)
    assert all(
        r[c] == "" for r in rows for c in ("dog", "great cat", "blurry", "mislabeled", "comment")
    )
    meta = json.loads(meta_path(out).read_text())
    assert meta["fingerprint"] == fingerprint(preds_csv)
    assert meta["split"] == "dev" and meta["split_size"] == 40 and meta["n_errors"] == 10
    assert meta["split_error"] == 10 / 40 and meta["sample_size"] == 4 and meta["seed"] == 0
    assert meta["categories"] == ["dog", "great cat", "blurry", "mislabeled"]
    assert res.split_error == 0.25 and res.n_errors == 10 and res.split_size == 40


def test_sample_is_the_smallest_md5_keys(preds_csv, tmp_path):
    out = tmp_path / "sheet.csv"
    sample_errors(preds_csv, n=3, seed=7, output=out)
    df = pd.read_csv(preds_csv)
    errors = df[(df.split == "dev") & (df.y_true != df.y_pred)]
    keys = sorted(errors.id, key=lambda i: hashlib.md5(f"{i}:7".encode()).hexdigest())
    assert [r["id"] for r in read_csv(out)] == keys[:3]


def test_confidence_is_the_probability_of_the_prediction(preds_csv, tmp_path):
    out = tmp_path / "sheet.csv"
    sample_errors(preds_csv, n=10, output=out)
    df = pd.read_csv(preds_csv).set_index("id")
    for r in read_csv(out):
        assert float(r["confidence"]) == pytest.approx(
            df.loc[r["id"], f"proba_{r['y_pred']}"], abs=1e-6
        )


def test_all_errors_when_fewer_than_n_and_include_correct(preds_csv, tmp_path):
    out = tmp_path / "sheet.csv"
    res = sample_errors(preds_csv, n=100, include_correct=5, output=out)
    rows = read_csv(out)
    assert res.sample_size == 10 and res.n_correct == 5
    assert [r["sampled_as"] for r in rows] == ["error"] * 10 + ["correct"] * 5
    assert all((r["y_true"] == r["y_pred"]) == (r["sampled_as"] == "correct") for r in rows)


def test_no_proba_columns_means_no_confidence_column(tmp_path):
    src = write(simple_predictions(with_proba=False), tmp_path / "p.csv")
    sample_errors(src, n=2, output=tmp_path / "s.csv")
    assert "confidence" not in read_csv(tmp_path / "s.csv")[0]


def test_seed_changes_the_sample_and_same_seed_repeats(preds_csv, tmp_path):
    sample_errors(preds_csv, n=3, seed=1, output=tmp_path / "a.csv")
    sample_errors(preds_csv, n=3, seed=1, output=tmp_path / "b.csv")
    sample_errors(preds_csv, n=3, seed=2, output=tmp_path / "c.csv")
    ids = [[r["id"] for r in read_csv(tmp_path / f"{x}.csv")] for x in "abc"]
    assert ids[0] == ids[1] and ids[0] != ids[2]


@settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    n_errors=st.integers(1, 30),
    n=st.integers(1, 40),
    seed=st.integers(0, 1000),
    shuffle=st.integers(0, 1000),
)
def test_sample_property_subset_size_and_row_order_independence(
    tmp_path_factory, n_errors, n, seed, shuffle
):
    tmp = tmp_path_factory.mktemp("prop")
    df = simple_predictions(n_dev=40, n_errors=n_errors)
    a = write(df, tmp / "a.csv")
    b = write(df.sample(frac=1.0, random_state=shuffle), tmp / "b.csv")
    sample_errors(a, n=n, seed=seed, output=tmp / "sa.csv")
    sample_errors(b, n=n, seed=seed, output=tmp / "sb.csv")
    ra, rb = read_csv(tmp / "sa.csv"), read_csv(tmp / "sb.csv")
    errors = set(df[(df.split == "dev") & (df.y_true != df.y_pred)].id)
    assert len(ra) == min(n, n_errors)
    assert {r["id"] for r in ra} <= errors
    assert [r["id"] for r in ra] == [r["id"] for r in rb]


def test_in_memory_predictions_have_no_fingerprint(tmp_path):
    res = sample_errors(simple_predictions(), n=2, output=tmp_path / "s.csv")
    assert res.fingerprint is None
    assert json.loads(meta_path(tmp_path / "s.csv").read_text())["fingerprint"] is None


# ---- bad input ------------------------------------------------------------------------------


def test_split_without_errors(tmp_path):
    src = write(simple_predictions(n_errors=0), tmp_path / "p.csv")
    with pytest.raises(
        InputError,
        match=re.escape(
            f"{src}: split 'dev' has no misclassified rows (0 errors in 40 rows); there is nothing to sample"
        ),
    ):
        sample_errors(src, output=tmp_path / "s.csv")


def test_split_without_rows(preds_csv, tmp_path):
    with pytest.raises(
        InputError,
        match=re.escape(f"{preds_csv}: split 'test' has no rows (splits present: train, dev)"),
    ):
        sample_errors(preds_csv, split="test", output=tmp_path / "s.csv")


def test_duplicate_categories(preds_csv, tmp_path):
    with pytest.raises(
        ConfigError,
        match=re.escape(
            "categories: 'Dog' is given twice (as 'dog' and 'Dog'); give each category once"
        ),
    ):
        sample_errors(preds_csv, categories="dog,blurry,Dog", output=tmp_path / "s.csv")


def test_category_named_like_a_column(preds_csv, tmp_path):
    with pytest.raises(
        ConfigError,
        match=re.escape(
            "categories: 'comment' is the name of a sheet column ('comment'); choose another category name"
        ),
    ):
        sample_errors(preds_csv, categories="comment", output=tmp_path / "s.csv")


def test_unknown_split(preds_csv, tmp_path):
    with pytest.raises(
        ConfigError,
        match=re.escape(
            "split: unknown split 'deev' (did you mean 'dev'?); "
            "allowed: train, train_dev, dev, test"
        ),
    ):
        sample_errors(preds_csv, split="deev", output=tmp_path / "s.csv")


@pytest.mark.parametrize(
    "n, message",
    [(0, "n: 0 must be a whole number >= 1"), (2.5, "n: 2.5 must be a whole number >= 1")],
)
def test_bad_n(preds_csv, tmp_path, n, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        sample_errors(preds_csv, n=n, output=tmp_path / "s.csv")


def test_existing_output_needs_force(preds_csv, tmp_path):
    out = tmp_path / "s.csv"
    sample_errors(preds_csv, n=2, output=out)
    with pytest.raises(InputError, match="already exists; pass --force"):
        sample_errors(preds_csv, n=2, output=out)
    sample_errors(preds_csv, n=3, output=out, force=True)
    assert len(read_csv(out)) == 3


def test_missing_id_column(tmp_path):
    src = write(simple_predictions().drop(columns="id"), tmp_path / "p.csv")
    with pytest.raises(InputError, match="missing column 'id'"):
        sample_errors(src, output=tmp_path / "s.csv")


# ---- reading the sheet ------------------------------------------------------------------------


def test_read_sheet_picks_up_new_columns_and_bom(preds_csv, tmp_path):
    out = tmp_path / "s.csv"
    sample_errors(preds_csv, n=3, categories="dog", output=out)
    df = pd.read_csv(out, dtype=str, keep_default_na=False)
    df.insert(len(df.columns) - 1, "blurry", ["x", "", "yes"])
    df.to_csv(out, index=False, encoding="utf-8-sig")
    sheet = read_sheet(out)
    assert sheet.categories == ["dog", "blurry"]
    assert sheet.marks == [frozenset({"blurry"}), frozenset(), frozenset({"blurry"})]


def test_read_sheet_duplicate_header(preds_csv, tmp_path):
    out = tmp_path / "s.csv"
    sample_errors(preds_csv, n=3, categories="dog", output=out)
    text = out.read_text().replace("dog,comment", "dog,Dog,comment", 1)
    out.write_text(text)
    with pytest.raises(
        InputError,
        match=re.escape(
            f"{out}: column 'Dog' appears twice in the header "
            "(duplicate category name); rename or merge one of them"
        ),
    ):
        read_sheet(out)


@pytest.mark.parametrize("sep, name", [(";", "semicolons"), ("\t", "tabs")])
def test_a_sheet_saved_with_semicolons_or_tabs_names_the_fix(preds_csv, tmp_path, sep, name):
    # a spreadsheet in a locale whose decimal mark is the comma saves "CSV" with semicolons: the
    # message listed one column named 'id;y_true;y_pred;...' and said 'id' was missing
    out = tmp_path / "s.csv"
    sample_errors(preds_csv, n=3, categories="dog", output=out)
    out.write_text(out.read_text().replace(",", sep))
    with pytest.raises(InputError) as caught:
        read_sheet(out)
    assert str(caught.value) == (f"{out}: its columns are separated by {name}, not commas; save the sheet as "
                                 "CSV UTF-8 (comma-delimited)")


def test_public_names():
    import types

    import mlstrat
    import mlstrat.errors as errors

    public = {
        n
        for n, v in vars(errors).items()
        if not n.startswith("_") and not isinstance(v, types.ModuleType)
    }
    assert set(errors.__all__) == public
    for name in ("sample_errors", "summarize_sheet", "find_label_issues"):
        assert getattr(mlstrat, name) is getattr(errors, name)


@pytest.mark.parametrize("text, message", [
    ("3", "not an error-sheet meta file (missing split, split_error, columns)"),
    ('{"split": "dev"}', "not an error-sheet meta file (missing split_error, columns)"),
    ("{", "is not valid JSON"),
])
def test_bad_meta_file(preds_csv, tmp_path, text, message):
    out = tmp_path / "s.csv"
    sample_errors(preds_csv, n=2, output=out)
    meta_path(out).write_text(text)
    with pytest.raises(InputError, match=re.escape(message)):
        read_sheet(out)


def test_a_probability_that_is_text_is_one_line(tmp_path):
    # the sheet's confidence is float(proba_<y_pred>): a text cell there used to escape as a
    # ValueError traceback, after the sample was drawn
    df = simple_predictions()
    df["proba_dog"] = df["proba_dog"].astype(object)
    df.loc[0, "proba_dog"] = "high"
    src = write(df, tmp_path / "p.csv")
    with pytest.raises(InputError) as caught:
        sample_errors(src, n=5, output=tmp_path / "s.csv")
    assert str(caught.value) == (f"{src}: column 'proba_dog' holds text such as 'high'; "
                                 "probabilities must be numbers in [0, 1]")
    assert not (tmp_path / "s.csv").exists()
